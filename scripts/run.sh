#!/usr/bin/env bash
# Launches aimc-dist under OpenMPI's mpirun.
#   scripts/run.sh [-n RANKS] [--hostfile FILE] [aimc-dist subcommand and options...]
# RANKS defaults to 8; -np and --np are accepted as mpirun spells them.
# Adds --allow-run-as-root only when run as root, and --oversubscribe only when RANKS exceeds this machine's
# cores and no hostfile is given. Without a hostfile the ranks stay on this machine (shared-memory transport)
# and mpirun's own banners are silenced (aimc-dist prints one line per error; a process killed by a signal gets
# one line from this script); with a hostfile mpirun reports its launch problems itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ranks=8
hostfile=""
args=()
while (($#)); do
    case "$1" in
        -n=*|-np=*|--np=*) ranks="${1#*=}"; shift ;;
        --hostfile=*) hostfile="${1#*=}"; shift ;;
        -n|-np|--np|--hostfile)
            if [ $# -lt 2 ]; then echo "run: $1 needs a value" >&2; exit 2; fi
            if [ "$1" = "--hostfile" ]; then hostfile="$2"; else ranks="$2"; fi
            shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
binary="${AIMC_DIST_BINARY:-$root/.build/release/aimc-dist}"
if [ ! -x "$binary" ]; then echo "run: $binary is missing; run scripts/setup.sh first" >&2; exit 1; fi
if ! [[ "$ranks" =~ ^[1-9][0-9]{0,6}$ ]]; then echo "run: -n must be an integer in 1...9999999; got '$ranks'" >&2; exit 2; fi

mpi=(mpirun -n "$ranks")
if [ "$(id -u)" -eq 0 ]; then mpi+=(--allow-run-as-root); fi
if [ -n "$hostfile" ]; then
    if [ ! -r "$hostfile" ] || [ -d "$hostfile" ]; then echo "run: hostfile '$hostfile' cannot be read" >&2; exit 2; fi
    if ! grep -q -E '^[[:space:]]*[^#[:space:]]' "$hostfile"; then
        echo "run: hostfile '$hostfile' lists no hosts (every line is blank or a comment); add lines such as 'node01 slots=32'" >&2
        exit 2
    fi
    mpi+=(--hostfile "$hostfile")
else
    mpi+=(-q --mca btl self,vader)
    if [ "$ranks" -gt "$(nproc)" ]; then mpi+=(--oversubscribe); fi
fi
# mpirun runs as a child (not exec) so that a rank killed by a signal, which -q leaves unreported, gets one line;
# TERM and INT are passed on to it.
set +e
"${mpi[@]}" "$binary" "${args[@]}" &
child=$!
interrupted=""
trap 'interrupted=TERM; kill -s TERM "$child" 2>/dev/null' TERM
trap 'interrupted=INT; kill -s INT "$child" 2>/dev/null' INT
trap 'interrupted=HUP; kill -s TERM "$child" 2>/dev/null' HUP
wait "$child"
status=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
if [ -n "$interrupted" ]; then
    # Stopped on request: the shell's status for the signal (130 for INT, 143 for TERM), not mpirun's 1.
    echo "run: stopped by SIG$interrupted; a run folder keeps its whole epochs (no summary.json)" >&2
    case "$interrupted" in INT) exit 130 ;; HUP) exit 129 ;; *) exit 143 ;; esac
fi
if [ "$status" -gt 128 ] && [ "$status" -le 192 ]; then
    signal=$((status - 128))
    why=""
    if [ "$signal" -eq 9 ]; then why=" (kill -9, or the kernel's out-of-memory killer: see dmesg)"; fi
    echo "run: the job stopped: a process ended on signal $signal (SIG$(kill -l "$signal"))$why" >&2
fi
exit "$status"
