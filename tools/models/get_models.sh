#!/usr/bin/env bash
# Makes the real-model FP32 ONNX files and their inputs from pip-packaged weights (no network).
# Usage: tools/models/get_models.sh [--force] [OUT_DIR]     (default OUT_DIR: models/ in the repo)
# Needs scripts/setup.sh to have run (venv with torch, onnx, onnxruntime and the model packages).
# Idempotent: a step is skipped when its outputs exist (--force remakes everything). ~30 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
out=${1:-$root/models}
py="$root/.venv/bin/python"
[ -x "$py" ] || { echo "get_models: $py missing; run scripts/setup.sh first" >&2; exit 1; }
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONWARNINGS=ignore OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$out"

# step NAME OUTPUT... -- COMMAND...: runs COMMAND unless every OUTPUT exists; on failure removes
# the outputs so that a rerun does not skip a half-made step.
step() {
  local name=$1; shift
  local outs=()
  while [ "$1" != "--" ]; do outs+=("$1"); shift; done
  shift
  if [ $force = 0 ]; then
    local have=1 f
    for f in "${outs[@]}"; do [ -e "$f" ] || have=0; done
    if [ $have = 1 ]; then echo "get_models: $name: up to date"; return 0; fi
  fi
  echo "get_models: $name: making"
  if ! "$@"; then
    rm -rf "${outs[@]}"
    echo "get_models: $name FAILED" >&2
    exit 1
  fi
}

step minilm "$out/minilm.onnx" "$out/vocab.txt" -- \
  "$py" "$here/minilm.py" "$out/minilm.onnx"
step efficientnet "$out/efficientnet_lite0.onnx" "$out/imagenet_labels.txt" "$out/images" -- \
  "$py" "$here/efficientnet.py" "$out"
step minilm_inputs "$out/minilm_inputs/index.tsv" "$out/minilm_inputs/bench_full128/input_ids.npy" -- \
  "$py" "$here/make_inputs.py" "$out"
step minilm_calib "$out/minilm_calib/c15/input_ids.npy" -- \
  "$py" "$here/make_calib.py" "$out"

echo "get_models: in $out:"
(cd "$out" && ls -l minilm.onnx vocab.txt efficientnet_lite0.onnx imagenet_labels.txt | awk '{printf "  %-26s %10d bytes\n", $9, $5}'
 echo "  images/         $(ls images | tr '\n' ' ')"
 echo "  minilm_inputs/  $(ls -d minilm_inputs/*/ | wc -l) sample folders (see minilm_inputs/index.tsv)")
