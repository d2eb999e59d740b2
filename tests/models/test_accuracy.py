#!/usr/bin/env python3
"""Accuracy of edgert on the real models (issue 5 item 3), asserted.

Usage: test_accuracy.py minilm|efficientnet --convert EDGERT_CONVERT --run EDGERT_RUN
                        [--models DIR] [--work DIR] [--threads N]

Converts the ONNX model made by tools/models/get_models.sh to FP32 / INT8 / INT4 (block 32) .efb
files with the recipes below, runs them with edgert_run on the real inputs and checks:
  - FP32 edgert vs onnxruntime (stored references, same ONNX file): max |a - b| / max |ref| <= 1e-4
    on every output
  - MiniLM INT8: sentence-embedding cosine vs edgert FP32 >= 0.995 on every one of the 68 sentences
  - EfficientNet INT8: top-1 equal to FP32 on every sample photo, logits cosine >= 0.99
  - INT4 block 32: cosine vs FP32 >= 0.98 on every sentence / photo (min over samples)
Prints a table of the measured numbers. Exit 0 = pass, 1 = a threshold missed or a step failed,
77 = skipped (the reason is printed: models not made, no onnxruntime).
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

SKIP = 77
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))

# Conversion recipes (documented with their accuracy in docs/models.md; bench/models uses these).
# MiniLM INT4: every FullyConnected INT4 (block 32, asymmetric) except the attention value,
# attention output and FFN output projections of each layer, which stay INT8 (the most sensitive:
# see docs/models.md). EfficientNet: the depthwise convolutions stay FP32 (INT8 depthwise weights
# alone take the rocket photo's logits cosine to 0.985; the runtime runs depthwise in float anyway).
MINILM_INT4_OVERRIDES = os.path.join(root, "tools", "models", "minilm_int4_overrides.json")
RECIPES = {
    "minilm": {
        "fp32": ["--quant", "none"],
        "int8": ["--quant", "int8"],
        "int4": ["--quant", "int4", "--block", "32", "--asym", "--overrides", MINILM_INT4_OVERRIDES],
        "int4all": ["--quant", "int4", "--block", "32"],  # informational: every FC INT4, defaults
    },
    "efficientnet": {
        "fp32": ["--quant", "none"],
        "int8": ["--quant", "int8", "--exclude", "_depthwise_conv"],
        "int4": ["--quant", "int4", "--block", "32", "--exclude", "_depthwise_conv"],
    },
}
MINILM_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PHOTOS = ("chelsea_cat", "coffee", "astronaut", "rocket", "camera")

T_FP32_REL = 1e-4
T_INT8_COS_MINILM = 0.995
T_INT8_COS_EFFNET = 0.99
T_INT4_COS = 0.98


def cosines(a, b):
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)


def rel_err(got, ref):
    return float(np.abs(got.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30))


def sh(cmd):
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout)
        raise RuntimeError("failed (exit %d): %s" % (p.returncode, " ".join(cmd)))
    return time.time() - t


class Checker:
    def __init__(self):
        self.rows, self.failed = [], 0

    def check(self, what, value, op, limit):
        ok = value <= limit if op == "<=" else value >= limit
        self.rows.append((what, value, op, limit, ok))
        self.failed += not ok

    def report(self, title):
        print("\n%s" % title)
        print("| check | measured | limit | |")
        print("|---|---|---|---|")
        for what, v, op, lim, ok in self.rows:
            print("| %s | %s | %s %s | %s |" % (what, ("%d" % v) if float(v).is_integer() else ("%.3g" % v) if v < 0.9 else ("%.5f" % v), op, lim,
                                             "ok" if ok else "**FAIL**"))
        print("%d checks, %d failed" % (len(self.rows), self.failed))


def convert(args, onnx_path, name, q, extra=()):
    out = os.path.join(args.work, "%s_%s.efb" % (name, q))
    t = sh([args.convert, onnx_path, out] + RECIPES[name][q] + list(extra) +
           ["--no-progress", "--report", os.path.join(args.work, "%s_%s.report.json" % (name, q))])
    print("converted %s %s: %.1f MB in %.1f s" % (name, q, os.path.getsize(out) / 1e6, t))
    return out


def run(args, efb, inputs, outdir):
    sh([args.run, efb] + list(inputs) + ["--threads", str(args.threads), "--out", outdir])
    return outdir


def test_minilm(args, c):
    onnx_path = os.path.join(args.models, "minilm.onnx")
    d = os.path.join(args.models, "minilm_inputs", "batch_all")
    ins = [os.path.join(d, n + ".npy") for n in MINILM_INPUTS]
    refs = {n: np.load(os.path.join(d, n + ".npy")) for n in ("last_hidden_state", "sentence_embedding")}
    nsent = refs["sentence_embedding"].shape[0]
    outs = {}
    for q in ("fp32", "int8", "int4", "int4all"):
        efb = convert(args, onnx_path, "minilm", q)
        o = run(args, efb, ins, os.path.join(args.work, "minilm_%s_out" % q))
        outs[q] = {n: np.load(os.path.join(o, n + ".npy")) for n in refs}
    for n, ref in refs.items():
        c.check("MiniLM FP32 vs onnxruntime `%s` max rel err" % n, rel_err(outs["fp32"][n], ref), "<=", T_FP32_REL)
    fp = outs["fp32"]["sentence_embedding"]
    c.check("MiniLM sentences", nsent, ">=", 50)
    for q, lim in (("int8", T_INT8_COS_MINILM), ("int4", T_INT4_COS)):
        cs = cosines(outs[q]["sentence_embedding"], fp)
        c.check("MiniLM %s sentence-embedding cosine vs FP32, min over %d (mean %.5f)" % (q.upper(), nsent, cs.mean()),
                cs.min(), ">=", lim)
    cs = cosines(outs["int4all"]["sentence_embedding"], fp)
    print("MiniLM every FC INT4 (--quant int4 --block 32, not asserted): cosine vs FP32 min %.5f mean %.5f"
          % (cs.min(), cs.mean()))


def test_efficientnet(args, c):
    onnx_path = os.path.join(args.models, "efficientnet_lite0.onnx")
    img = os.path.join(args.models, "images")
    x = np.concatenate([np.load(os.path.join(img, p + ".npy")) for p in PHOTOS])
    ref = np.concatenate([np.load(os.path.join(img, p + "_logits.npy")).reshape(1, -1) for p in PHOTOS])
    xin = os.path.join(args.work, "input.npy")
    np.save(xin, x)
    outs = {}
    for q in ("fp32", "int8", "int4"):
        efb = convert(args, onnx_path, "efficientnet", q)
        o = run(args, efb, [xin], os.path.join(args.work, "efficientnet_%s_out" % q))
        outs[q] = np.load(os.path.join(o, "logits.npy")).reshape(len(PHOTOS), -1)
    c.check("EfficientNet FP32 vs onnxruntime logits max rel err", rel_err(outs["fp32"], ref), "<=", T_FP32_REL)
    top_fp = outs["fp32"].argmax(1)
    c.check("EfficientNet FP32 top-1 == onnxruntime top-1 (photos equal of %d)" % len(PHOTOS),
            int((top_fp == ref.argmax(1)).sum()), ">=", len(PHOTOS))
    for q, lim in (("int8", T_INT8_COS_EFFNET), ("int4", T_INT4_COS)):
        cs = cosines(outs[q], outs["fp32"])
        c.check("EfficientNet %s logits cosine vs FP32, min over %d photos (mean %.5f)" % (q.upper(), len(PHOTOS), cs.mean()),
                cs.min(), ">=", lim)
        same = int((outs[q].argmax(1) == top_fp).sum())
        if q == "int8":
            c.check("EfficientNet INT8 top-1 == FP32 top-1 (photos equal of %d)" % len(PHOTOS), same, ">=", len(PHOTOS))
        else:
            print("EfficientNet INT4 top-1 == FP32 on %d of %d photos (not asserted)" % (same, len(PHOTOS)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=("minilm", "efficientnet"))
    ap.add_argument("--convert", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--models", default=os.environ.get("MODELS_DIR", os.path.join(root, "models")))
    ap.add_argument("--work", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    args.work = args.work or os.path.join(args.models, "accuracy_" + args.model)
    need = {"minilm": ["minilm.onnx", "minilm_inputs/batch_all/sentence_embedding.npy"],
            "efficientnet": ["efficientnet_lite0.onnx"] + ["images/%s_logits.npy" % p for p in PHOTOS]}[args.model]
    missing = [n for n in need if not os.path.exists(os.path.join(args.models, n))]
    if missing:
        print("test_accuracy %s: SKIPPED: %s missing in %s (run tools/models/get_models.sh %s)"
              % (args.model, ", ".join(missing), args.models, args.models))
        return SKIP
    for b in (args.convert, args.run):
        if not os.access(b, os.X_OK):
            print("test_accuracy: FAILED: %s is not an executable" % b)
            return 1
    os.makedirs(args.work, exist_ok=True)
    c = Checker()
    t = time.time()
    try:
        (test_minilm if args.model == "minilm" else test_efficientnet)(args, c)
    except (RuntimeError, OSError, ValueError) as e:
        print("test_accuracy %s: FAILED: %s" % (args.model, e))
        return 1
    c.report("test_accuracy %s (%.0f s, work dir %s)" % (args.model, time.time() - t, args.work))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
