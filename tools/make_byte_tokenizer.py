#!/usr/bin/env python3
"""A byte-level tokenizer.json with exactly 256 tokens (id = byte value, no merges, no special
tokens), made with Hugging Face `tokenizers`: it gives the tiny fixture models of
tests/fixtures/hf (vocab_size 256, no tokenizer of their own) real texts to read, so that
`erank sweep` and `erank diff` can run them on sentences in tests.

Usage: .venv/bin/python tools/make_byte_tokenizer.py
Writes tests/fixtures/sweep/byte_tokenizer.json and, as a check for erank's loader,
tests/fixtures/sweep/byte_tokenizer_ids.json (texts and the ids `tokenizers` gives them).
"""
import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "sweep")


def bytes_to_unicode():
    """GPT-2's printable stand-ins for the 256 byte values (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def main():
    vocab = {ch: b for b, ch in bytes_to_unicode().items()}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "byte_tokenizer.json")
    tok.save(path)
    texts = ["Hello world, the quick fox.", "Effective rank: exp(H).", "café 東京 🙂", "  two  spaces"]
    ids = [tok.encode(t).ids for t in texts]
    assert all(i == list(t.encode()) for i, t in zip(ids, texts)), "ids are not the bytes"
    with open(os.path.join(OUT, "byte_tokenizer_ids.json"), "w") as f:
        json.dump({"texts": texts, "ids": ids}, f, ensure_ascii=False)
        f.write("\n")
    print(path, tok.get_vocab_size())


if __name__ == "__main__":
    main()
