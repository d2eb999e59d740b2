#!/usr/bin/env python3
"""Pure-Python BERT WordPiece tokenizer (uncased), the reference for edgert's C++ port.

Behaviour matches BertTokenizer / tokenizers' BertNormalizer + BertPreTokenizer + WordPiece with
the all-MiniLM-L6-v2 settings (lowercase, strip accents, tokenize CJK chars, clean text):

1. Clean text: drop U+0000, U+FFFD and control characters (Unicode category C*, except \\t \\n \\r);
   map whitespace (space, \\t, \\n, \\r, category Zs) to ' '.
2. Put spaces around CJK ideographs (the CJK Unified Ideographs blocks, see _is_cjk).
3. Split on whitespace. For each word: lowercase each character on its own (Unicode full
   lowercase mapping, no final-sigma rule), NFD-decompose and drop nonspacing marks (Mn),
   then split into runs of non-punctuation and single punctuation characters (ASCII 33-47,
   58-64, 91-96, 123-126, or Unicode category P*).
4. WordPiece each piece: a piece longer than 100 characters is [UNK]; otherwise greedy
   longest-match-first against the vocab, continuation pieces prefixed with '##'; if any
   position cannot be matched the whole piece becomes [UNK].
5. Add [CLS] ... [SEP]; truncate the middle tokens so that the total is <= max_length; optional
   right padding with [PAD] (id 0) up to pad_to.

Returns int64 arrays input_ids, attention_mask, token_type_ids (all zeros: single sentence).

Usage: wordpiece.py VOCAB.txt "some sentence" ...   (prints tokens and ids)
"""
import sys
import unicodedata

DEFAULT_MAX_LENGTH = 256  # sentence-transformers max_seq_length of all-MiniLM-L6-v2
MAX_CHARS_PER_WORD = 100


def load_vocab(path):
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            tok = line.rstrip("\n")
            if tok not in vocab:  # first occurrence wins, as in HF
                vocab[tok] = i
    return vocab


def _is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lowercase=True, strip_accents=True):
    out = []
    for ch in text:  # clean text + CJK spacing
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            out.append(" ")
        elif _is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    tokens = []
    for word in "".join(out).split():
        if lowercase:  # per character, like tokenizers (no context-dependent final sigma)
            word = "".join(c.lower() for c in word)
        if strip_accents:
            word = "".join(c for c in unicodedata.normalize("NFD", word)
                           if unicodedata.category(c) != "Mn")
        cur = []
        for ch in word:
            if _is_punctuation(ch):
                if cur:
                    tokens.append("".join(cur))
                    cur = []
                tokens.append(ch)
            else:
                cur.append(ch)
        if cur:
            tokens.append("".join(cur))
    return tokens


def wordpiece(token, vocab, unk="[UNK]"):
    if len(token) > MAX_CHARS_PER_WORD:
        return [unk]
    pieces, start = [], 0
    while start < len(token):
        end = len(token)
        found = None
        while start < end:
            sub = token[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


class WordPieceTokenizer:
    def __init__(self, vocab_path, lowercase=True, strip_accents=True):
        self.vocab = load_vocab(vocab_path)
        self.inv = {i: t for t, i in self.vocab.items()}
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        for t in ("[CLS]", "[SEP]", "[UNK]", "[PAD]"):
            assert t in self.vocab, t
        self.cls_id, self.sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        self.unk_id, self.pad_id = self.vocab["[UNK]"], self.vocab["[PAD]"]

    def tokenize(self, text):
        """Word pieces without special tokens."""
        out = []
        for tok in basic_tokenize(text, self.lowercase, self.strip_accents):
            out.extend(wordpiece(tok, self.vocab))
        return out

    def encode_ids(self, text, max_length=DEFAULT_MAX_LENGTH):
        """[CLS] pieces [SEP] as a list of ids, truncated to max_length."""
        assert max_length >= 2
        ids = [self.vocab[p] for p in self.tokenize(text)][: max_length - 2]
        return [self.cls_id] + ids + [self.sep_id]

    def encode(self, text, max_length=DEFAULT_MAX_LENGTH, pad_to=None):
        """Model inputs for one sentence: dict of int64 arrays of shape [1, L].

        L = number of tokens (<= max_length), or pad_to if given (pad with [PAD], mask 0)."""
        import numpy as np
        ids = self.encode_ids(text, max_length)
        n = len(ids)
        L = max(n, pad_to or 0)
        input_ids = np.full((1, L), self.pad_id, dtype=np.int64)
        input_ids[0, :n] = ids
        mask = np.zeros((1, L), dtype=np.int64)
        mask[0, :n] = 1
        return {"input_ids": input_ids, "attention_mask": mask,
                "token_type_ids": np.zeros((1, L), dtype=np.int64)}

    def encode_batch(self, texts, max_length=DEFAULT_MAX_LENGTH):
        """Batch padded to the longest sentence: dict of int64 arrays [B, L]."""
        import numpy as np
        seqs = [self.encode_ids(t, max_length) for t in texts]
        L = max(len(s) for s in seqs)
        input_ids = np.full((len(seqs), L), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(seqs), L), dtype=np.int64)
        for i, s in enumerate(seqs):
            input_ids[i, :len(s)] = s
            mask[i, :len(s)] = 1
        return {"input_ids": input_ids, "attention_mask": mask,
                "token_type_ids": np.zeros_like(input_ids)}


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    tok = WordPieceTokenizer(argv[1])
    for text in argv[2:]:
        ids = tok.encode_ids(text)
        print(" ".join(tok.inv[i] for i in ids))
        print(" ".join(str(i) for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
