#!/usr/bin/env python3
"""Writes edgert_run-ready MiniLM inputs and onnxruntime reference outputs as .npy files.

Usage: make_inputs.py [MODELS_DIR]   (default models/; needs MODELS_DIR/minilm.onnx and vocab.txt,
made by minilm.py)

Layout, one folder per sample, one .npy per ONNX input/output name:
  MODELS_DIR/minilm_inputs/index.tsv                 name, seq_len, sentence (tab-separated)
  MODELS_DIR/minilm_inputs/sNNN/                     sentence NNN of sentences.txt, unpadded
      input_ids.npy attention_mask.npy token_type_ids.npy   int64 [1, L]
      last_hidden_state.npy float32 [1, L, 384]      sentence_embedding.npy float32 [1, 384]
  MODELS_DIR/minilm_inputs/bench_seq128/             the longest sentence, right-padded to L = 128
                                                     (attention_mask 0 on padding), same files
  MODELS_DIR/minilm_inputs/bench_full128/            all sentences joined, cut to 128 tokens (no
                                                     padding: every key is a real token)
  MODELS_DIR/minilm_inputs/batch_all/                all sentences as one batch [N, Lmax], padded
(EfficientNet inputs/references are written by efficientnet.py into MODELS_DIR/images/.)
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wordpiece  # noqa: E402

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("last_hidden_state", "sentence_embedding")


def write_sample(sess, folder, feeds):
    os.makedirs(folder, exist_ok=True)
    outs = dict(zip(OUTPUTS, sess.run(list(OUTPUTS), feeds)))
    for name, arr in list(feeds.items()) + list(outs.items()):
        np.save(os.path.join(folder, name + ".npy"), arr)
    return outs


def main(argv):
    import onnxruntime as ort
    models = argv[1] if len(argv) > 1 else "models"
    onnx_path = os.path.join(models, "minilm.onnx")
    tok = wordpiece.WordPieceTokenizer(os.path.join(models, "vocab.txt"))
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    out = os.path.join(models, "minilm_inputs")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(HERE, "sentences.txt"), encoding="utf-8") as f:
        sents = [l.strip() for l in f if l.strip()]

    rows = []
    for i, s in enumerate(sents):
        feeds = tok.encode(s)
        name = "s%03d" % i
        write_sample(sess, os.path.join(out, name), feeds)
        rows.append((name, feeds["input_ids"].shape[1], s))

    longest = max(sents, key=lambda s: len(tok.encode_ids(s)))
    n_long = len(tok.encode_ids(longest, max_length=128))
    feeds = tok.encode(longest, max_length=128, pad_to=128)
    o = write_sample(sess, os.path.join(out, "bench_seq128"), feeds)
    # padding must not change the pooled embedding
    ref = sess.run(["sentence_embedding"], tok.encode(longest, max_length=128))[0]
    pad_diff = float(np.abs(ref - o["sentence_embedding"]).max())
    rows.append(("bench_seq128", 128, longest))

    feeds = tok.encode(" ".join(sents), max_length=128)
    if feeds["input_ids"].shape != (1, 128) or int(feeds["attention_mask"].sum()) != 128:
        print("make_inputs: the joined sentences give %s tokens, not 128" % (feeds["input_ids"].shape,))
        return 1
    write_sample(sess, os.path.join(out, "bench_full128"), feeds)
    rows.append(("bench_full128", 128, "<all sentences joined, cut to 128 tokens>"))

    feeds = tok.encode_batch(sents)
    write_sample(sess, os.path.join(out, "batch_all"), feeds)
    rows.append(("batch_all", feeds["input_ids"].shape[1], "<all %d sentences>" % len(sents)))

    with open(os.path.join(out, "index.tsv"), "w", encoding="utf-8") as f:
        f.write("name\tseq_len\tsentence\n")
        for r in rows:
            f.write("%s\t%d\t%s\n" % r)
    lens = [r[1] for r in rows[: len(sents)]]
    print("make_inputs: wrote %d sentence samples (seq_len %d..%d), bench_seq128 (%d real tokens, "
          "padded; pooled diff vs unpadded %.3g), bench_full128 and batch_all %s into %s"
          % (len(sents), min(lens), max(lens), n_long,
             pad_diff, feeds["input_ids"].shape, out))
    return 0 if pad_diff < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
