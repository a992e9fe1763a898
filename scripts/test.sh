#!/usr/bin/env bash
# Sets the machine up (scripts/setup.sh), then builds and runs every test in release mode. The multi-rank tests
# launch the release binary under mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-install   # the tests run the build in .build; nothing is installed onto PATH
if ! command -v swift >/dev/null 2>&1; then export PATH="/opt/swift/usr/bin:$PATH"; fi
export AIMC_DIST_BINARY="$(pwd)/.build/release/aimc-dist"
swift build -c release --build-tests >&2
# Every test uses swift-testing; without XCTest, no "Executed 0 tests" line comes first.
swift test -c release --skip-build --disable-xctest
