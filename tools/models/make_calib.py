#!/usr/bin/env python3
"""Writes a MiniLM calibration folder for edgert_convert --calib from calib_sentences.txt: 16
sentences that are NOT in sentences.txt (the accuracy test set), one sample folder each, unpadded.

Usage: make_calib.py [MODELS_DIR]   -> MODELS_DIR/minilm_calib/cNN/{input_ids,attention_mask,token_type_ids}.npy
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
import wordpiece  # noqa: E402


def main(argv):
    models = argv[1] if len(argv) > 1 else os.path.join(HERE, "..", "..", "models")
    tok = wordpiece.WordPieceTokenizer(os.path.join(models, "vocab.txt"))
    with open(os.path.join(HERE, "calib_sentences.txt"), encoding="utf-8") as f:
        sents = [l.strip() for l in f if l.strip()]
    with open(os.path.join(HERE, "sentences.txt"), encoding="utf-8") as f:
        assert not set(sents) & {l.strip() for l in f}, "calibration sentences overlap the test set"
    out = os.path.join(models, "minilm_calib")
    for i, s in enumerate(sents):
        d = os.path.join(out, "c%02d" % i)
        os.makedirs(d, exist_ok=True)
        for name, arr in tok.encode(s).items():
            np.save(os.path.join(d, name + ".npy"), arr)
    print("make_calib: %d samples in %s" % (len(sents), out))


if __name__ == "__main__":
    main(sys.argv)
