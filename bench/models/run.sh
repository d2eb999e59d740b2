#!/usr/bin/env bash
# Real-model speed (issue 5 item 4): edgert FP32/INT8/INT4 vs onnxruntime FP32, dynamic INT8 and
# 4-bit MatMulNBits; MiniLM seq 128 and EfficientNet-Lite0, batch 1, 1 and 2 threads; median
# latency, load time, file size, peak RSS; markdown table on stdout. Not a test: nothing asserted.
# Usage: bench/models/run.sh [BUILD_DIR (default build)] [--runs N] [--threads 1 2] [--rounds R]
# Builds edgert_run/edgert_convert (Release expected), makes the models (tools/models/get_models.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
[ $# -gt 0 ] && shift
ninja -C "$build" edgert_run edgert_convert >/dev/null
bash "$root/tools/models/get_models.sh" "$root/models" >/dev/null
export OMP_NUM_THREADS=1
lscpu | sed -n 's/^Model name: *//p' | sed 's/^/machine: /'
echo "isa: $("$build/runtime/edgert_run" --version | tr '\n' ' ')"
exec "$root/.venv/bin/python" "$root/bench/models/bench.py" --build "$build" --models "$root/models" "$@"
