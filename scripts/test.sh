#!/usr/bin/env bash
# The whole test suite: set-up, Release build + all tests, then the sanitizer build
# (AddressSanitizer + UndefinedBehaviorSanitizer) running the runtime, CLI and kernel tests.
# Usage: scripts/test.sh [--no-sanitize]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${EDGERT_JOBS:-$(nproc)}

bash scripts/setup.sh

echo "== Release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$jobs"

echo "== Tests (Release)"
ctest --test-dir build -j"$jobs" --output-on-failure --timeout 900

if [ "${1:-}" != "--no-sanitize" ]; then
  echo "== Sanitizer build (ASan + UBSan)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEDGERT_SANITIZE=ON \
        -DEDGERT_BUILD_CONVERTER=OFF -DEDGERT_BUILD_BENCH=OFF >/dev/null
  ninja -C build-asan -j"$jobs"
  echo "== Tests (ASan + UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -j"$jobs" --output-on-failure --timeout 900
fi
