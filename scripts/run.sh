#!/usr/bin/env bash
# Launches aimc-dist under OpenMPI's mpirun.
#   scripts/run.sh [-n RANKS] [--hostfile FILE] [aimc-dist subcommand and options...]
# RANKS defaults to 8; -np and --np are accepted as mpirun spells them.
# Adds --allow-run-as-root only when run as root, and --oversubscribe only when RANKS exceeds this machine's
# cores and no hostfile is given. Without a hostfile the ranks stay on this machine (shared-memory transport)
# and mpirun's own banners are silenced (aimc-dist prints one line per error; a process killed by a signal gets
# one line from this script); with a hostfile mpirun reports its launch problems itself.
# Before launching it checks what OpenMPI would otherwise report in its own words: TMPDIR (OpenMPI's session files)
# must be a writable folder with room, and standard output must be writable (mpirun drops output it cannot write).
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

# OpenMPI keeps its session files (PMIx, a few MB per job) under TMPDIR; a missing, unwritable or full folder gives
# its internal error lines, or a hang.
tmp="${TMPDIR:-/tmp}"
if [ ! -d "$tmp" ]; then
    echo "run: TMPDIR '$tmp' is not a folder; OpenMPI keeps its session files there: point TMPDIR at a writable folder (or unset it for /tmp)" >&2
    exit 1
fi
probe="$(mktemp -p "$tmp" .aimc-dist-probe.XXXXXX 2>/dev/null)" || {
    echo "run: cannot create files in TMPDIR '$tmp' (not writable?); OpenMPI keeps its session files there: point TMPDIR at a writable folder" >&2
    exit 1
}
rm -f "$probe"
free_kib="$(df -Pk "$tmp" 2>/dev/null | awk 'NR == 2 { print $4 }')"
if [ -n "$free_kib" ] && [ "$free_kib" -lt 32768 ]; then
    echo "run: TMPDIR '$tmp' has only ${free_kib} KiB free; OpenMPI needs a few MB there for its session files: free some space or point TMPDIR elsewhere" >&2
    exit 1
fi
# mpirun writes the ranks' output and drops what it cannot write without a word: /dev/full, or a full disk.
if [ "$(stat -L -c '%t:%T' /proc/$$/fd/1 2>/dev/null)" = "1:7" ]; then
    echo "run: standard output is /dev/full; aimc-dist's output would be lost: redirect it to a file or leave it on the terminal" >&2
    exit 1
fi
if [ -f /proc/$$/fd/1 ]; then
    out_kib="$(df -Pk /proc/$$/fd/1 2>/dev/null | awk 'NR == 2 { print $4 }')"
    if [ "$out_kib" = "0" ]; then
        echo "run: the disk that standard output is written to is full; aimc-dist's output would be lost: free space or redirect it elsewhere" >&2
        exit 1
    fi
fi

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
# TERM, INT and HUP are passed on to it (it passes them to the ranks, and rank 0 says it was stopped).
set +e
"${mpi[@]}" "$binary" "${args[@]}" &
child=$!
interrupted=""
trap 'interrupted=TERM; kill -s TERM "$child" 2>/dev/null' TERM
trap 'interrupted=INT; kill -s INT "$child" 2>/dev/null' INT
trap 'interrupted=HUP; kill -s HUP "$child" 2>/dev/null' HUP
wait "$child"
status=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
if [ -n "$interrupted" ]; then
    # Stopped on request (rank 0 printed "aimc-dist: stopped by SIG..."): the shell's status for the signal (130 for
    # INT, 143 for TERM, 129 for HUP), not mpirun's 1.
    case "$interrupted" in INT) exit 130 ;; HUP) exit 129 ;; *) exit 143 ;; esac
fi
if [ "$status" -gt 128 ] && [ "$status" -le 192 ]; then
    signal=$((status - 128))
    why=""
    if [ "$signal" -eq 9 ]; then why=" (kill -9, or the kernel's out-of-memory killer: see dmesg)"; fi
    echo "run: the job stopped: a process ended on signal $signal (SIG$(kill -l "$signal"))$why" >&2
fi
exit "$status"
