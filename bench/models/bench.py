#!/usr/bin/env python3
"""Real-model speed: edgert FP32 / INT8 / INT4 vs onnxruntime FP32, onnxruntime dynamic INT8
(quantize_dynamic) and onnxruntime 4-bit MatMulNBits (MatMul4BitsQuantizer, MatMul layers only),
batch 1: all-MiniLM-L6-v2 at sequence length 128 and EfficientNet-Lite0 224x224, 1 and 2 threads.

Every measurement runs in its own subprocess (edgert_run --bench N --json, or this script's `ort`
worker): median latency over N runs after 3 warm-up runs, load time (edgert: Model.Load +
Session.Create incl. weight packing; ORT: InferenceSession creation), peak RSS of that process
(/usr/bin/time %M; the ORT worker is a Python process, so its RSS includes the interpreter, numpy and
the onnxruntime library: the `ort_idle` row gives that baseline). Prints a markdown table.

Usage: bench.py --build BUILD_DIR [--models DIR] [--work DIR] [--runs 30] [--threads 1 2] [--rounds 3]
       bench.py ort MODEL.onnx THREADS RUNS INPUT.npy...   (worker, prints JSON)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = "."
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))


def ort_worker(argv):
    import resource
    model, threads, runs, inputs = argv[0], int(argv[1]), int(argv[2]), argv[3:]
    import numpy as np
    import onnxruntime as ort
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if model == "-":
        print(json.dumps({"peak_rss_mb": idle}))
        return 0
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    feeds = {}
    for i, p in zip(sess.get_inputs(), inputs):
        feeds[i.name] = np.load(p)
    for _ in range(3):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(json.dumps({"median_ms": times[len(times) // 2], "min_ms": times[0], "load_ms": load_ms,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "idle_rss_mb": idle}))
    return 0


def run_child(cmd):
    """Runs cmd under /usr/bin/time (a small C parent, so the child's peak RSS is its own and not
    inherited from this Python process through fork); returns (last JSON line of stdout, peak RSS MB)."""
    tf = os.path.join(WORK, "time.txt")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf] + cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("failed: " + " ".join(cmd))
    rss_kb = int(open(tf).read().strip().splitlines()[-1])
    return json.loads(p.stdout.strip().splitlines()[-1]), rss_kb / 1024


def prepare(args):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from test_accuracy import RECIPES
    os.makedirs(args.work, exist_ok=True)
    files = {}
    for name, onnx_name in (("minilm", "minilm.onnx"), ("efficientnet", "efficientnet_lite0.onnx")):
        src = os.path.join(args.models, onnx_name)
        f = files[name] = {"ort fp32": src}
        for q in ("fp32", "int8", "int4"):
            out = os.path.join(args.work, "%s_%s.efb" % (name, q))
            subprocess.run([args.convert, src, out] + RECIPES[name][q] + ["--no-progress"], check=True,
                           stdout=subprocess.DEVNULL)
            f["edgert " + q] = out
        dyn = os.path.join(args.work, "%s_ort_dynint8.onnx" % name)
        if not os.path.exists(dyn):
            # ORT's CPU ConvInteger only takes uint8 weights, so the CNN gets QUInt8 weights.
            quantize_dynamic(src, dyn, weight_type=QuantType.QInt8 if name == "minilm" else QuantType.QUInt8)
        f["ort dynamic int8"] = dyn
        try:
            from onnxruntime.quantization.matmul_4bits_quantizer import MatMul4BitsQuantizer
            q4 = os.path.join(args.work, "%s_ort_matmulnbits.onnx" % name)
            if not os.path.exists(q4):
                qz = MatMul4BitsQuantizer(onnx.load(src), block_size=32, is_symmetric=True)
                qz.process()
                qz.model.save_model_to_file(q4)
            m = onnx.load(q4, load_external_data=False)
            n4 = sum(n.op_type == "MatMulNBits" for n in m.graph.node)
            if n4:
                f["ort 4-bit MatMulNBits"] = q4
            else:
                print("bench: %s: MatMul4BitsQuantizer made no MatMulNBits node (its FC is a Gemm); "
                      "no ORT 4-bit row" % name, file=sys.stderr)
        except ImportError as e:
            print("bench: no MatMul4BitsQuantizer (%s)" % e, file=sys.stderr)
    return files


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "ort":
        return ort_worker(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.work = args.work or os.path.join(args.models, "bench")
    global WORK
    WORK = args.work
    args.convert = os.path.join(args.build, "converters", "edgert_convert")
    args.run = os.path.join(args.build, "runtime", "edgert_run")
    files = prepare(args)
    # MiniLM on two inputs of 128 tokens: the longest test sentence right-padded (edgert's
    # attention skips padded keys, see docs/runtime.md) and 128 real tokens (nothing to skip).
    ids = ("input_ids", "attention_mask", "token_type_ids")
    mi = os.path.join(args.models, "minilm_inputs")
    inputs = {"minilm": [os.path.join(mi, "bench_seq128", n + ".npy") for n in ids],
              "minilm_full": [os.path.join(mi, "bench_full128", n + ".npy") for n in ids],
              "efficientnet": [os.path.join(args.models, "images", "coffee.npy")]}
    files["minilm_full"] = files["minilm"]
    real = int(__import__("numpy").load(inputs["minilm"][1]).sum())
    titles = {"minilm": "MiniLM-L6 seq128 (%d real + %d pad)" % (real, 128 - real),
              "minilm_full": "MiniLM-L6 seq128 (128 real)", "efficientnet": "EfficientNet-Lite0"}
    py = sys.executable
    idle, _ = run_child([py, os.path.abspath(__file__), "ort", "-", "1", "0"])
    # Every configuration once per round, rounds one after another: a burst of load from another
    # tenant then hits one round of every configuration instead of all runs of one. Reported:
    # the median over rounds of each process's median (load time and peak RSS likewise).
    samples = {}
    for rnd in range(args.rounds):
        for name in ("minilm", "minilm_full", "efficientnet"):
            for t in args.threads:
                for label, path in files[name].items():
                    if label.startswith("edgert"):
                        j, rss = run_child([args.run, path] + inputs[name] +
                                           ["--threads", str(t), "--bench", str(args.runs), "--json"])
                        med, load = j["bench"]["median_ms"], j["load_ms"]
                    else:
                        j, rss = run_child([py, os.path.abspath(__file__), "ort", path, str(t), str(args.runs)] + inputs[name])
                        med, load = j["median_ms"], j["load_ms"]
                    samples.setdefault((name, t, label, path), []).append((med, load, rss))
                    print("bench: round %d %s t=%d %s: %.2f ms, load %.1f ms, peak RSS %.1f MB"
                          % (rnd + 1, name, t, label, med, load, rss), file=sys.stderr, flush=True)
    rows = []
    for (name, t, label, path), v in samples.items():
        size = os.path.getsize(path) + (os.path.getsize(path + ".data") if os.path.exists(path + ".data") else 0)
        med, load, rss = (statistics.median(x[i] for x in v) for i in range(3))
        rows.append((name, t, label, med, load, size / 1e6, rss))
    print("\nbatch 1; MiniLM: sequence 128 (minilm_inputs/bench_seq128: %d real tokens padded to 128; "
          "minilm_inputs/bench_full128: 128 real tokens); EfficientNet-Lite0: 1x3x224x224; "
          "median of %d runs after 3 warm-up runs, each row a separate process; %d round(s), the median "
          "over rounds reported.\n" % (real, args.runs, args.rounds))
    print("| model | threads | runtime | median ms | vs ORT FP32 | load ms | file MB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t, label, med, load, size, rss in rows:
        base = [r[3] for r in rows if r[0] == name and r[1] == t and r[2] == "ort fp32"][0]
        print("| %s | %d | %s | %.2f | %.2fx | %.1f | %.1f | %.1f |" % (
            titles[name], t, label, med, base / med, load, size, rss))
    print("\nPython + numpy + onnxruntime imported, no session: %.1f MB peak RSS (included in the ORT rows)."
          % idle["peak_rss_mb"])
    print("\nGoals:")
    for t in args.threads:
        g = {(r[0], r[2]): r for r in rows if r[1] == t}
        m8 = g[("minilm", "ort dynamic int8")][3] / g[("minilm", "edgert int8")][3]
        m8f = g[("minilm_full", "ort dynamic int8")][3] / g[("minilm_full", "edgert int8")][3]
        ebest = min(g[("efficientnet", "ort fp32")][3], g[("efficientnet", "ort dynamic int8")][3])
        e8 = ebest / g[("efficientnet", "edgert int8")][3]
        print("- %d thread(s): MiniLM edgert INT8 vs ORT dynamic INT8: %.2fx padded input, %.2fx 128 real tokens "
              "(goal >= 1.5x: %s / %s); EfficientNet edgert INT8 vs faster of ORT FP32/dyn INT8: %.2fx "
              "(goal >= 1.2x: %s)" % (t, m8, m8f, "met" if m8 >= 1.5 else "MISSED", "met" if m8f >= 1.5 else "MISSED",
                                      e8, "met" if e8 >= 1.2 else "MISSED"))
        for name in ("minilm", "minilm_full", "efficientnet"):
            f = g[(name, "ort fp32")][3] / g[(name, "edgert fp32")][3]
            rr = max(g[(name, l)][6] for l in ("edgert fp32", "edgert int8", "edgert int4"))
            print("  - %s: edgert FP32 vs ORT FP32 %.2fx (goal >= 1: %s); edgert max peak RSS %.1f MB vs ORT "
                  "FP32 %.1f MB (goal <=: %s)" % (name, f, "met" if f >= 1 else "MISSED", rr,
                                                  g[(name, "ort fp32")][6], "met" if rr <= g[(name, "ort fp32")][6] else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
