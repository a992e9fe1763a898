#!/usr/bin/env bash
# Prepares a Debian 12 machine for aimc-dist, builds it in release mode and installs it onto PATH:
#   scripts/setup.sh [--prefix DIR] [--no-install]
# Idempotent: installs only the Debian packages that are missing (OpenMPI, OpenBLAS, zlib, Fashion-MNIST, matplotlib,
# and iproute2 for the two-host test), runs an incremental build, then scripts/install.sh puts the binary in DIR/bin
# (default /usr/local/bin as root, ~/.local/bin otherwise) unless --no-install.
set -euo pipefail
cd "$(dirname "$0")/.."
install_args=()
install=1
while (($#)); do
    case "$1" in
        --prefix|--prefix=*)
            if [ "$1" = "--prefix" ]; then
                if [ $# -lt 2 ]; then echo "setup: --prefix needs a folder" >&2; exit 2; fi
                install_args+=(--prefix "$2"); shift 2
            else
                install_args+=("$1"); shift
            fi ;;
        --no-install) install=0; shift ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup: unknown argument '$1'; usage: scripts/setup.sh [--prefix DIR] [--no-install]" >&2; exit 2 ;;
    esac
done

# python3-matplotlib: scripts/plot.py (its tests are skipped, with a note, where matplotlib is missing).
packages=(libopenmpi-dev openmpi-bin libopenblas-dev zlib1g-dev dataset-fashion-mnist iproute2 python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"; else
        echo "setup: swift (6.0 or later) is not on PATH; install a Swift toolchain from swift.org" >&2; exit 1
    fi
fi
swift build -c release --product aimc-dist >&2
echo "setup: built $(pwd)/.build/release/aimc-dist" >&2
if ((install)); then scripts/install.sh "${install_args[@]}"; fi
