#!/usr/bin/env bash
# Prepares a Debian 12 machine for aimc-dist and builds it in release mode. Idempotent: installs only the
# Debian packages that are missing (OpenMPI, OpenBLAS, zlib, Fashion-MNIST, matplotlib), then runs an incremental build.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-matplotlib: scripts/plot.py (its tests are skipped, with a note, where matplotlib is missing).
packages=(libopenmpi-dev openmpi-bin libopenblas-dev zlib1g-dev dataset-fashion-mnist python3-matplotlib)
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
