"""Prints the FP32 / INT8 / INT4 comparison table of scripts/demo.sh from its outputs."""
import json
import os
import sys

import numpy as np


def cosines(a, b):
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)


def main():
    out, ref_dir, onnx_path = sys.argv[1], sys.argv[2], sys.argv[3]
    ref = np.load(os.path.join(ref_dir, "sentence_embedding.npy"))  # onnxruntime FP32
    fp32 = np.load(os.path.join(out, "embed_none", "sentence_embedding.npy"))
    rows = []
    for q, label in (("none", "FP32"), ("int8", "INT8"), ("int4", "INT4 recipe*")):
        emb = np.load(os.path.join(out, f"embed_{q}", "sentence_embedding.npy"))
        b = json.load(open(os.path.join(out, f"bench_{q}.json")))
        c = cosines(emb, fp32)
        rows.append((label, os.path.getsize(os.path.join(out, f"minilm_{q}.efb")) / 1e6, b["bench"]["median_ms"],
                     b["peak_rss_mb"], c.min(), c.mean()))
    rel = np.abs(fp32 - ref).max() / np.abs(ref).max()
    print(f"all-MiniLM-L6-v2, {ref.shape[0]} real sentences; latency: batch 1, sequence 128, "
          f"{json.load(open(os.path.join(out, 'bench_none.json')))['threads'] or 'all'} thread(s), isa "
          f"{json.load(open(os.path.join(out, 'bench_none.json')))['isa']}")
    print(f"ONNX file {os.path.getsize(onnx_path) / 1e6:.1f} MB; edgert FP32 vs onnxruntime FP32: "
          f"max abs diff / max |ref| = {rel:.2e}")
    print(f"{'model':<16} {'file MB':>8} {'median ms':>10} {'peak RSS MB':>12} {'min cos':>8} {'mean cos':>9}")
    for r in rows:
        print(f"{r[0]:<16} {r[1]:>8.1f} {r[2]:>10.2f} {r[3]:>12.1f} {r[4]:>8.5f} {r[5]:>9.5f}")
    print("(cosine of each sentence embedding against edgert FP32)")
    print("* INT4 recipe: block 32 asymmetric INT4, with the attention value / output and FFN output layers"
          " kept INT8 (tools/models/minilm_int4_overrides.json; docs/models.md)")


if __name__ == "__main__":
    main()
