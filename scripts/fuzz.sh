#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, build dir build-fuzz) and runs each for
# SECONDS (default 60). Fails if any target reports a crash, leak, timeout or sanitizer error.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (targets: fuzz_efb fuzz_onnx fuzz_npy)
# Env: FUZZ_JOBS=N runs N libFuzzer workers per target (default 1); EDGERT_JOBS build jobs;
#      FUZZ_TIMEOUT=S seconds one input may take before it counts as a hang (default 10);
#      FUZZ_SEED=N fixes libFuzzer's random seed and turns off corpus reloading, so that a run
#      from the same seeds explores the same inputs in the same order (CI uses FUZZ_SEED=1 and a
#      fresh corpus build-fuzz/corpus-seedN: its result is reproducible; without FUZZ_SEED every
#      run explores anew and the corpus in build-fuzz/corpus/ grows from run to run).
# Corpora grow in build-fuzz/corpus/<target>; crashing inputs land in build-fuzz/artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_efb fuzz_onnx fuzz_npy)
jobs=${EDGERT_JOBS:-$(nproc)}
bd=build-fuzz

echo "== Fuzz build (clang-14, libFuzzer + ASan + UBSan)"
CC=clang-14 CXX=clang++-14 cmake -S . -B $bd -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGERT_FUZZ=ON \
  -DEDGERT_BUILD_BENCH=OFF -DEDGERT_BUILD_TESTS=ON >/dev/null
ninja -C $bd -j"$jobs" fuzz_make_seeds "${targets[@]}"

# Seeds are generated (not committed): test models, malformed variants, small npy/ONNX files,
# plus every regression input and ONNX's own node test models (Debian libonnx-testdata).
seeds=$bd/seeds
rm -rf "$seeds"
onnx_tests=/usr/share/libonnx-testdata/data/node
"$bd/tests/fuzz/fuzz_make_seeds" "$seeds" $([ -d $onnx_tests ] && echo $onnx_tests)
for k in efb onnx npy; do
  mkdir -p "$seeds/$k"
  cp tests/fuzz/regressions/$k/* "$seeds/$k/" 2>/dev/null || true
done
if [ -d $onnx_tests ]; then
  i=0
  for f in $onnx_tests/*/model.onnx; do
    [ "$(stat -c %s "$f")" -le 65536 ] || continue
    cp "$f" "$seeds/onnx/node_$i.onnx"; i=$((i + 1))
  done
fi

mkdir -p $bd/artifacts $bd/logs
status=0
for t in "${targets[@]}"; do
  kind=${t#fuzz_}
  corpus=$bd/corpus/$t
  # A seeded run starts from the seeds alone (its own, wiped corpus) so that it is reproducible.
  [ -n "${FUZZ_SEED:-}" ] && { corpus=$bd/corpus-seed$FUZZ_SEED/$t; rm -rf "$corpus"; }
  mkdir -p "$corpus"
  log=$bd/logs/$t.log
  echo "== $t for ${secs}s (corpus $corpus, log $log)"
  extra=()
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && extra=(-fork="$FUZZ_JOBS" -ignore_crashes=0)
  [ -n "${FUZZ_SEED:-}" ] && extra+=(-seed="$FUZZ_SEED" -reload=0)
  set +e
  # A smaller ASan quarantine (default 256 MB) that is returned to the OS: long fuzz_onnx runs
  # otherwise grow the process by ~70 MB per minute of freed-but-quarantined memory and hit
  # -rss_limit_mb without any input using much memory.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:quarantine_size_mb=64:allocator_release_to_os_interval_ms=1000 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bd/tests/fuzz/$t" "$corpus" "$seeds/$kind" -max_total_time="$secs" -rss_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-10}" \
      -print_final_stats=1 -artifact_prefix="$bd/artifacts/$t-" "${extra[@]}" >"$log" 2>&1
  rc=$?
  set -e
  runs=$({ grep -E '^stat::number_of_executed_units' "$log" || true; } | awk '{s += $2} END {print s + 0}')
  if [ "$runs" = 0 ]; then  # fork mode (FUZZ_JOBS > 1) prints "#N: cov: ..." progress lines instead
    runs=$({ grep -oE '^#[0-9]+: cov' "$log" || true; } | tail -1 | tr -dc 0-9)
    runs=${runs:-0}
  fi
  if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
    echo "FAIL: $t (exit $rc, $runs runs); see $log:"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -20
    status=1
  else
    echo "ok: $t: $runs runs in ${secs}s, corpus $(ls "$corpus" | wc -l) files"
  fi
done
exit $status
