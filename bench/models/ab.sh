#!/usr/bin/env bash
# A/B of two edgert_run binaries on every bench model and input, 1 thread: alternated ROUNDS
# times (default 3), median of the per-round medians (`edgert_run --bench 40`); prints B/A
# (< 1: B is faster). For changes whose effect is smaller than the machine's run-to-run noise:
# copy the binary before and after the change, e.g. cp build/runtime/edgert_run /tmp/edgert_run_a.
# Usage: bench/models/ab.sh BIN_A BIN_B [ROUNDS]    (models from bench/models/run.sh)
# MODELS="minilm_int8 ..." limits the models (default: all six).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
A=$1 B=$2 R=${3:-3}
cd "$root"
mi=models/minilm_inputs
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
run() { "$1" "models/bench/$2.efb" "${@:3}" --threads 1 --bench 40 --json 2>/dev/null |
        python3 -c "import json,sys; print(json.load(sys.stdin)['bench']['median_ms'])"; }
for m in ${MODELS:-minilm_fp32 minilm_int8 minilm_int4 efficientnet_fp32 efficientnet_int8 efficientnet_int4}; do
  for inp in padded full; do
    case $m in
      efficientnet*) [ $inp = full ] && continue; inp=photo; args=(models/images/coffee.npy);;
      *) d=$mi/bench_seq128; [ $inp = full ] && d=$mi/bench_full128
         args=("$d/input_ids.npy" "$d/attention_mask.npy" "$d/token_type_ids.npy");;
    esac
    ra=(); rb=()
    for _ in $(seq "$R"); do
      ra+=("$(run "$A" "$m" "${args[@]}")")
      rb+=("$(run "$B" "$m" "${args[@]}")")
    done
    a=$(median "${ra[@]}") b=$(median "${rb[@]}")
    python3 -c "print('%-18s %-6s A %.3f ms  B %.3f ms  B/A %.3f' % ('$m', '$inp', $a, $b, $b / $a))"
  done
done
