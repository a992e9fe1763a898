#!/usr/bin/env bash
# Installs the built aimc-dist onto PATH, so that `mpirun -n 8 aimc-dist ...` finds it:
#   scripts/install.sh [--prefix DIR]
# Installs to DIR/bin; DIR defaults to /usr/local as root and to ~/.local otherwise. The binary is the release build
# (.build/release/aimc-dist, or $AIMC_DIST_BINARY); scripts/setup.sh builds it and calls this script. It links the
# Swift runtime of the toolchain it was built with, so that toolchain must stay where it is (on a cluster: the same
# path on every node, or build with `swift build -c release -Xswiftc -static-stdlib`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${AIMC_DIST_BINARY:-$root/.build/release/aimc-dist}"
prefix=""
while (($#)); do
    case "$1" in
        --prefix=*) prefix="${1#*=}"; shift ;;
        --prefix)
            if [ $# -lt 2 ] || [ -z "$2" ]; then echo "install: --prefix needs a folder" >&2; exit 2; fi
            prefix="$2"; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install: unknown argument '$1'; usage: scripts/install.sh [--prefix DIR]" >&2; exit 2 ;;
    esac
done
if [ -z "$prefix" ]; then
    if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
if [ ! -x "$binary" ]; then echo "install: $binary is missing; build it first (scripts/setup.sh)" >&2; exit 1; fi
if ! mkdir -p "$prefix/bin" 2>/dev/null || [ ! -w "$prefix/bin" ]; then
    echo "install: cannot write to $prefix/bin; run as root, or choose a folder of yours with --prefix" >&2
    exit 1
fi
# Copied under a temporary name and renamed, so a running job never sees half a binary.
install -m 755 "$binary" "$prefix/bin/.aimc-dist.partial"
mv -f "$prefix/bin/.aimc-dist.partial" "$prefix/bin/aimc-dist"
echo "install: installed $prefix/bin/aimc-dist" >&2
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "install: $prefix/bin is not on PATH; add it, e.g. echo 'export PATH=\"$prefix/bin:\$PATH\"' >> ~/.profile" >&2 ;;
esac
