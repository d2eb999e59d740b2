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

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build edgert_run edgert_convert >/dev/null
bash tools/models/get_models.sh models >/dev/null

out=models/demo
mkdir -p "$out"
for q in none int8 int4; do
  [ -s "$out/minilm_$q.efb" ] || build/converters/edgert_convert models/minilm.onnx "$out/minilm_$q.efb" \
      --quant "$q" --no-progress --report "$out/minilm_$q.report.json" >/dev/null
done
inputs=models/minilm_inputs
for q in none int8 int4; do
  build/runtime/edgert_run "$out/minilm_$q.efb" "$inputs"/batch_all/{input_ids,attention_mask,token_type_ids}.npy \
      --threads "$threads" --out "$out/embed_$q" >/dev/null
  build/runtime/edgert_run "$out/minilm_$q.efb" "$inputs"/bench_seq128/{input_ids,attention_mask,token_type_ids}.npy \
      --threads "$threads" --bench 30 --json > "$out/bench_$q.json"
done
.venv/bin/python tools/demo_table.py "$out" "$inputs/batch_all" models/minilm.onnx
