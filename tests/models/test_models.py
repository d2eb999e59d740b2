#!/usr/bin/env python3
"""Checks what tools/models/get_models.sh made (MODELS_DIR, default models/ in the repo): graph
interfaces, that the stored inputs are what the tokenizer/preprocessing produce, that the stored
onnxruntime references reproduce, and that the sample photos get sensible top-1 classes.
Skips (exit 0) when the models have not been made. Runs as a script or under pytest."""
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
sys.path.insert(0, os.path.join(root, "tools", "models"))
MODELS = os.environ.get("MODELS_DIR", os.path.join(root, "models"))


class Skip(Exception):
    pass


def _need(*names):
    for n in names:
        if not os.path.exists(os.path.join(MODELS, n)):
            try:
                import pytest
                pytest.skip("%s missing: run tools/models/get_models.sh" % n)
            except ImportError:
                raise Skip(n)


def _session(name):
    import onnxruntime as ort
    return ort.InferenceSession(os.path.join(MODELS, name), providers=["CPUExecutionProvider"])


def test_minilm():
    _need("minilm.onnx", "vocab.txt", "minilm_inputs/index.tsv")
    import wordpiece
    sess = _session("minilm.onnx")
    ins = {i.name: i.shape for i in sess.get_inputs()}
    outs = {o.name: o.shape for o in sess.get_outputs()}
    assert ins == {n: ["batch", "seq"] for n in ("input_ids", "attention_mask", "token_type_ids")}
    assert outs == {"last_hidden_state": ["batch", "seq", 384], "sentence_embedding": ["batch", 384]}
    tok = wordpiece.WordPieceTokenizer(os.path.join(MODELS, "vocab.txt"))
    d = os.path.join(MODELS, "minilm_inputs")
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "index.tsv"), encoding="utf-8")][1:]
    assert len(rows) >= 52
    for name, L, sent in rows[:5] + [r for r in rows if r[0] == "bench_seq128"]:
        feeds = {n: np.load(os.path.join(d, name, n + ".npy")) for n in ins}
        want = tok.encode(sent, max_length=int(L), pad_to=int(L) if name == "bench_seq128" else None)
        for n in ins:
            assert feeds[n].dtype == np.int64 and np.array_equal(feeds[n], want[n]), (name, n)
        h, e = sess.run(["last_hidden_state", "sentence_embedding"], feeds)
        assert np.abs(h - np.load(os.path.join(d, name, "last_hidden_state.npy"))).max() < 1e-5
        assert np.abs(e - np.load(os.path.join(d, name, "sentence_embedding.npy"))).max() < 1e-6
        assert abs(np.linalg.norm(e) - 1) < 1e-5
    e = np.load(os.path.join(d, "batch_all", "sentence_embedding.npy"))
    sentences = [r for r in rows if r[0].startswith("s")]
    assert e.shape == (len(sentences), 384)
    full = {n: np.load(os.path.join(d, "bench_full128", n + ".npy")) for n in ins}
    assert full["input_ids"].shape == (1, 128) and int(full["attention_mask"].sum()) == 128
    print("test_models: minilm ok")


def test_efficientnet():
    _need("efficientnet_lite0.onnx", "imagenet_labels.txt", "images")
    import efficientnet
    sess = _session("efficientnet_lite0.onnx")
    assert [i.shape for i in sess.get_inputs()] == [["batch", 3, 224, 224]]
    labels = open(os.path.join(MODELS, "imagenet_labels.txt"), encoding="utf-8").read().splitlines()
    assert len(labels) == 1000 and labels[285].startswith("Egyptian cat")
    expect = {"chelsea_cat": range(281, 286), "coffee": [967], "camera": [872]}  # cats, espresso, tripod
    pdir = efficientnet.photo_dir()
    for fname, name, _ in efficientnet.PHOTOS:
        x = np.load(os.path.join(MODELS, "images", name + ".npy"))
        assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
        assert np.array_equal(x, efficientnet.preprocess(os.path.join(pdir, fname)))
        (y,) = sess.run(None, {"input": x})
        ref = np.load(os.path.join(MODELS, "images", name + "_logits.npy"))
        assert np.abs(y - ref).max() < 1e-4
        if name in expect:
            assert int(y.argmax()) in expect[name], (name, labels[int(y.argmax())])
    print("test_models: efficientnet ok")


if __name__ == "__main__":
    try:
        test_minilm()
        test_efficientnet()
    except Skip as e:
        print("test_models: skipped (%s missing: run tools/models/get_models.sh)" % e)
