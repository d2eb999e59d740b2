#!/usr/bin/env bash
# Runs the kernel benchmarks and prints the ratio table for docs/performance.md ("Kernels").
# Usage: bench/kernels/run.sh [build-dir] [repetitions]
# Two passes, each a single process so that every ratio compares numbers from the same run:
#   avx2   : edgert forced to AVX2, oneDNN limited to AVX2 (DNNL_MAX_CPU_ISA=AVX2): the AVX2-only
#            machine the targets are written for.
#   native : the best edgert variant of this CPU (AVX-512 VNNI / AVX-VNNI) and unrestricted oneDNN.
# Each benchmark runs `repetitions` times; the best repetition is used (the machine is shared,
# interference only ever makes a run slower). The machine limits (int8 peaks, DRAM read) are
# measured in every pass and the best over all passes is used.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build-kernels}
reps=${2:-3}
bin=$build/bench/kernels/edgert_kernels_bench
out=${OUT_DIR:-$build/bench-kernels-results}
mkdir -p "$out"
common=(--benchmark_min_time=0.3 --benchmark_repetitions="$reps" --benchmark_format=json)
echo "== pass avx2 ==" >&2
DNNL_MAX_CPU_ISA=AVX2 "$bin" "${common[@]}" \
  --benchmark_filter='Peak|DramReadSum|QGemm/.*/avx2/|F32/edgert/avx2/|OneDnn' > "$out/avx2.json"
echo "== pass native ==" >&2
"$bin" "${common[@]}" \
  --benchmark_filter='Peak|DramReadSum|QGemm/.*/(avxvnni|avx512vnni)/|F32/edgert/avx512vnni/|OneDnn' > "$out/native.json"
echo "== pass limits (peaks, DRAM again) ==" >&2
"$bin" "${common[@]}" --benchmark_filter='Peak|DramReadSum' > "$out/limits.json"
python3 "$here/bench/kernels/ratios.py" "$out/avx2.json" "$out/native.json" "$out/limits.json"
