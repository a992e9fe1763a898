#!/usr/bin/env bash
# Launches aimc-dist under OpenMPI's mpirun.
#   scripts/run.sh [-n RANKS] [--hostfile FILE] [aimc-dist options...]
# Adds --allow-run-as-root only when run as root, and --oversubscribe only when RANKS exceeds this machine's
# cores and no hostfile is given. Without a hostfile the ranks stay on this machine (shared-memory transport).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ranks=8
hostfile=""
args=()
while (($#)); do
    case "$1" in
        -n|--ranks) ranks="$2"; shift 2 ;;
        --hostfile) hostfile="$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
binary="${AIMC_DIST_BINARY:-$root/.build/release/aimc-dist}"
if [ ! -x "$binary" ]; then echo "run: $binary is missing; run scripts/setup.sh first" >&2; exit 1; fi
if ! [[ "$ranks" =~ ^[1-9][0-9]*$ ]]; then echo "run: -n must be a positive integer; got $ranks" >&2; exit 2; fi

mpi=(mpirun -q -n "$ranks")
if [ "$(id -u)" -eq 0 ]; then mpi+=(--allow-run-as-root); fi
if [ -n "$hostfile" ]; then
    mpi+=(--hostfile "$hostfile")
else
    mpi+=(--mca btl self,vader)
    if [ "$ranks" -gt "$(nproc)" ]; then mpi+=(--oversubscribe); fi
fi
exec "${mpi[@]}" "$binary" "${args[@]}"
