#!/usr/bin/env bash
# The main job: takes all-MiniLM-L6-v2 (weights from a pip package, no network), converts it to
# FP32, INT8 and INT4 .efb files, embeds 68 real sentences with each, and prints FP32 / INT8 /
# INT4 side by side: file size, latency (batch 1, sequence 128), peak memory, agreement with FP32.
# Usage: scripts/demo.sh [--threads N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
threads=${2:-1}
[ "${1:-}" = "--threads" ] || threads=1

# quiet CMD...: runs CMD, showing its output only if it fails.
quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; echo "demo: failed: $*" >&2; exit 1; fi
  rm -f "$log"
}

bash scripts/setup.sh
echo "demo: building edgert_run and edgert_convert (Release)"
quiet cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
quiet ninja -C build edgert_run edgert_convert
echo "demo: making the FP32 ONNX model from the pip package (tools/models/get_models.sh)"
quiet bash tools/models/get_models.sh models
echo "demo: converting to FP32 / INT8 / INT4 and running 68 sentences + a seq-128 benchmark"

out=models/demo
mkdir -p "$out"
for q in none int8 int4; do
  quiet build/converters/edgert_convert models/minilm.onnx "$out/minilm_$q.efb" \
      --quant "$q" $([ "$q" = int4 ] && echo --block 32 --asym --overrides tools/models/minilm_int4_overrides.json) --no-progress --report "$out/minilm_$q.report.json"
done
inputs=models/minilm_inputs
for q in none int8 int4; do
  quiet build/runtime/edgert_run "$out/minilm_$q.efb" "$inputs"/batch_all/{input_ids,attention_mask,token_type_ids}.npy \
      --threads "$threads" --out "$out/embed_$q"
  build/runtime/edgert_run "$out/minilm_$q.efb" "$inputs"/bench_seq128/{input_ids,attention_mask,token_type_ids}.npy \
      --threads "$threads" --bench 30 --json > "$out/bench_$q.json"
done
.venv/bin/python tools/demo_table.py "$out" "$inputs/batch_all" models/minilm.onnx
