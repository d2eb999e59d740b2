#!/usr/bin/env python3
"""Mixed precision on MiniLM, measured on held-out sentences (docs/converter.md, "Mixed precision").

Usage: mixed_minilm.py --convert EDGERT_CONVERT --run EDGERT_RUN [--models DIR] [--work DIR]
                       [--max-error 0.995] [--check]

Converts models/minilm.onnx to FP32, INT8 (--quant int8), INT4 (--quant int4 --calib, GPTQ) and
mixed (--quant mixed --max-error C --calib), calibrating on minilm_calib/ (16 sentences), and
runs each on minilm_inputs/batch_all (the 68 sentences of sentences.txt, none of them in the
calibration set). Prints conversion time, file size and, against edgert FP32, the per-sentence
cosine of sentence_embedding and of last_hidden_state (over the sentence's valid tokens): min
and mean.
--check: exit 1 unless mixed's held-out minimum cosine is >= C and its file is smaller than
INT8's. Exit 77 when the models are not there.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def sh(cmd):
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout)
        raise RuntimeError("failed (exit %d): %s" % (p.returncode, " ".join(cmd)))
    return time.time() - t


def cos_rows(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convert", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--models", default=os.environ.get("MODELS_DIR", os.path.join(root, "models")))
    ap.add_argument("--work", default=None)
    ap.add_argument("--max-error", default="0.995")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    onnx_path = os.path.join(args.models, "minilm.onnx")
    calib = os.path.join(args.models, "minilm_calib")
    test = os.path.join(args.models, "minilm_inputs", "batch_all")
    for need in (onnx_path, calib, os.path.join(test, "input_ids.npy")):
        if not os.path.exists(need):
            print("mixed_minilm: SKIPPED: %s missing (run tools/models/get_models.sh)" % need)
            return 77
    work = args.work or os.path.join(args.models, "mixed_minilm")
    os.makedirs(work, exist_ok=True)
    recipes = [
        ("fp32", ["--quant", "none"]),
        ("int8", ["--quant", "int8"]),
        ("int4", ["--quant", "int4", "--calib", calib]),
        ("mixed", ["--quant", "mixed", "--max-error", args.max_error, "--calib", calib]),
    ]
    mask = np.load(os.path.join(test, "attention_mask.npy")).astype(bool)
    outs, rows = {}, []
    for name, opts in recipes:
        efb = os.path.join(work, "minilm_%s.efb" % name)
        t = sh([args.convert, onnx_path, efb] + opts + ["--no-progress", "--threads", args.threads,
                                                       "--report", os.path.join(work, "minilm_%s.json" % name)])
        od = os.path.join(work, "out_%s" % name)
        sh([args.run, efb] + [os.path.join(test, n + ".npy") for n in INPUTS] + ["--threads", "2", "--out", od])
        outs[name] = {k: np.load(os.path.join(od, k + ".npy")) for k in ("sentence_embedding", "last_hidden_state")}
        rows.append((name, t, os.path.getsize(efb)))
    fp = outs["fp32"]
    print("| model | convert s | file bytes | embedding cos min | mean | hidden-state cos min | mean |")
    print("|---|---|---|---|---|---|---|")
    res = {}
    for name, t, size in rows:
        ce = cos_rows(outs[name]["sentence_embedding"], fp["sentence_embedding"])
        m3 = mask[..., None]
        ch = cos_rows((outs[name]["last_hidden_state"] * m3).reshape(len(mask), -1),
                      (fp["last_hidden_state"] * m3).reshape(len(mask), -1))
        res[name] = (size, min(ce.min(), ch.min()))
        print("| %s | %.1f | %d | %.5f | %.5f | %.5f | %.5f |" % (name, t, size, ce.min(), ce.mean(), ch.min(), ch.mean()))
    print("(%d held-out sentences; hidden-state cosine per sentence over its valid tokens)" % len(ce))
    if args.check:
        ok = res["mixed"][1] >= float(args.max_error) and res["mixed"][0] < res["int8"][0]
        print("check: mixed held-out min cosine %.5f >= %s and %d < %d bytes (int8): %s"
              % (res["mixed"][1], args.max_error, res["mixed"][0], res["int8"][0], "ok" if ok else "FAILED"))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
