#!/usr/bin/env python3
"""erank next to llama.cpp on the same GGUF files and threads (issue 18): prefill, loss and decode
tokens/s and peak RSS, with the ratios erank / llama.cpp (speed: higher is better for erank;
memory: erank's peak RSS over llama.cpp's, lower is better). Stdlib only; run through
bench/llama_side_by_side.sh, which builds both.

Per model, each measurement alternating between the two tools, best of R runs:
  prefill P (64, 256, 512, 1024 tokens, one sequence):
      llama.cpp  llama-bench -m M -t T -p P -n 0 -r 1 -o json            (avg_ts)
      erank      erank generate on one prompt of exactly P token ids, --max-new-tokens 1
                 (prefill_tokens / prefill_s from --stats)
  decode (64 new tokens after a short prompt):
      llama.cpp  llama-bench -m M -t T -p 0 -n 64 -r 1 -o json            (avg_ts)
      erank      erank generate, 8-token prompt, --max-new-tokens 64 --ignore-eos (decode t/s)
  loss (N windows of 512 tokens of BoolQ passages):
      llama.cpp  llama-perplexity -m M -f text -c 512 -b 512 --chunks N   (its prompt eval t/s)
      erank      erank loss on the same text cut into N texts of 512 tokens (batch_tokens /
                 forward_s: its forward passes with the fused log-softmax, not the last
                 layer's eRank that erank loss also takes; the whole run's rate is printed too)
Peak RSS is /usr/bin/time's maximum resident set of each process (the largest over the runs).
The prompts are BoolQ passages tokenised by the model's own tokenizer (generate_bench.py's).
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_bench as gb  # noqa: E402  (prompts, run, machine)

ROOT = gb.ROOT


def timed(cmd, work, **kw):
    """Runs cmd under /usr/bin/time; returns (stdout, stderr, peak RSS MiB)."""
    rss = work / "rss.txt"
    out, err, _ = gb.run(["/usr/bin/time", "-f", "%M", "-o", rss] + list(cmd), **kw)
    return out, err, int(rss.read_text().split()[-1]) / 1024


def llama_bench(bindir, model, threads, p, n, work):
    out, _, rss = timed([bindir / "llama-bench", "-m", model, "-t", threads, "-p", p, "-n", n,
                         "-r", 1, "-o", "json"], work)
    return json.loads(out)[0]["avg_ts"], rss


def erank_generate(erank, model, prompt, new, threads, work):
    data, stats = work / "prompt.jsonl", work / "stats.json"
    data.write_text(json.dumps({"ids": prompt}) + "\n")
    _, _, rss = timed([erank, "generate", "--model", model, "--data", data, "--field", "ids",
                       "--max-new-tokens", new, "--batch", 1, "--ignore-eos", "--threads", threads,
                       "--out", work / "gen.jsonl", "--stats", stats], work)
    s = json.loads(stats.read_text())
    return s["prefill_tokens"] / s["prefill_s"], \
        (s["decode_tokens"] / s["decode_s"] if s["decode_s"] > 0 else None), rss


def llama_perplexity(bindir, model, text_file, chunks, threads, work):
    _, err, rss = timed([bindir / "llama-perplexity", "-m", model, "-f", text_file, "-c", 512,
                         "-b", 512, "--chunks", chunks, "-t", threads], work)
    # Its log lines carry timestamps (minutes.seconds.ms.us): the scoring runs from the line
    # announcing the chunks to the final estimate, chunks x 512 tokens.
    stamp = r"(\d+)\.(\d+)\.(\d+)\.(\d+) I "
    t0 = re.search(stamp + r"perplexity: calculating perplexity over (\d+) chunks", err)
    # (its progress line has no newline: the final estimate's stamp is the one right before it)
    t1 = re.search(stamp + r"Final estimate: PPL = ([\d.]+)", err)
    if not (t0 and t1):
        sys.exit("llama-perplexity: no chunk or final estimate line\n" + err[-2000:])
    sec = lambda m: int(m.group(1)) * 60 + int(m.group(2)) + int(m.group(3)) / 1e3 + \
        int(m.group(4)) / 1e6
    return int(t0.group(5)) * 512 / (sec(t1) - sec(t0)), rss, float(t1.group(5))


def erank_loss(erank, model, texts_file, threads, work):
    res = work / "loss.json"
    _, _, rss = timed([erank, "loss", "--model", model, "--data", texts_file, "--max-tokens", 512,
                       "--threads", threads, "-q", "--out", res], work)
    r = json.loads(res.read_text())
    t = r["timings"]
    # The forward passes with their fused log-softmax (forward_s), as llama-perplexity's prompt
    # eval times its forward passes; `erank loss` also takes the last layer's eRank (metrics_s),
    # which llama.cpp has no counterpart of. The whole run's rate goes into --out as well.
    return t["batch_tokens"] / t["forward_s"], rss, r["loss"]["trained"]["per_token"], \
        t["tokens_per_s"]


def best(xs):
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"],
                    help="names under models/ or GGUF paths")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--prefill", default="64,256,512,1024")
    ap.add_argument("--loss-chunks", type=int, default=4)
    ap.add_argument("--out", default=None, help="all numbers as JSON")
    a = ap.parse_args()
    erank = ROOT / "build/erank"
    bindir = ROOT / "build/llama.cpp/bin"
    for b in (erank, bindir / "llama-bench", bindir / "llama-perplexity"):
        if not b.exists():
            sys.exit(f"{b} missing (bench/llama_side_by_side.sh builds it)")
    sizes = [int(x) for x in a.prefill.split(",")]
    report = {"machine": gb.machine(), "threads": a.threads, "reps": a.reps, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in a.models:
            model = Path(name) if name.endswith(".gguf") else ROOT / "models" / f"{name}.gguf"
            if not model.exists():
                gb.log(f"{model} missing, skipped")
                continue
            # prompts: exactly P ids (the model's special prefix first), and an 8-token one
            _, groups = gb.make_prompts(erank, model, [(1, p) for p in sizes] + [(1, 8)])
            prompts = {p: g[0] for p, g in zip(sizes + [8], groups)}
            # loss text: BoolQ passages; llama-perplexity cuts the file, erank takes the same text
            # as chunks of ~512 tokens (each truncated to 512 by --max-tokens)
            body = gb.boolq_text(400)
            text_file = work / "text.txt"
            text_file.write_text(body)
            ids = gb.tokenize(erank, model, body, False)
            words = body.split(" ")
            per = max(1, len(words) * 512 // max(1, len(ids)))  # ~512 tokens of words
            texts = [" ".join(words[i:i + int(per * 1.2)]) for i in range(0, len(words), per)]
            texts_file = work / "texts.jsonl"
            texts_file.write_text("".join(json.dumps({"text": t}) + "\n"
                                          for t in texts[:a.loss_chunks]))
            rows, run_rates = {}, []
            for rep in range(a.reps):
                gb.log(f"[{model.name}] run {rep + 1}/{a.reps}")
                for p in sizes:
                    lt, lr = llama_bench(bindir, model, a.threads, p, 0, work)
                    et, _, er = erank_generate(erank, model, prompts[p], 1, a.threads, work)
                    rows.setdefault(f"prefill {p}", []).append((et, lt, er, lr))
                lt, lr = llama_bench(bindir, model, a.threads, 0, 64, work)
                _, et, er = erank_generate(erank, model, prompts[8], 64, a.threads, work)
                rows.setdefault("decode 64", []).append((et, lt, er, lr))
                lt, lr, lppl = llama_perplexity(bindir, model, text_file, a.loss_chunks, a.threads,
                                                work)
                et, er, eloss, erun = erank_loss(erank, model, texts_file, a.threads, work)
                rows.setdefault("loss 512", []).append((et, lt, er, lr))
                run_rates.append(erun)
            print(f"\n{model.name}: {a.threads} threads, best of {a.reps} "
                  f"(tokens/s; peak RSS MiB; ratios erank / llama.cpp)")
            print(f"{'':<14}{'erank t/s':>11}{'llama t/s':>11}{'speed':>8}"
                  f"{'erank MiB':>11}{'llama MiB':>11}{'memory':>8}")
            out = {}
            for k, rs in rows.items():
                et, lt = best(r[0] for r in rs), best(r[1] for r in rs)
                er, lr = max(r[2] for r in rs), max(r[3] for r in rs)
                out[k] = {"erank_tps": et, "llama_tps": lt, "speed_ratio": et / lt,
                          "erank_rss_mib": er, "llama_rss_mib": lr, "memory_ratio": er / lr,
                          "runs": rs}
                print(f"{k:<14}{et:>11.1f}{lt:>11.1f}{et / lt:>7.2f}x"
                      f"{er:>11.0f}{lr:>11.0f}{er / lr:>7.2f}x")
            print(f"(loss on {a.loss_chunks} x 512 tokens: erank's mean loss {eloss:.4f}; "
                  f"llama-perplexity's PPL {lppl} scores only the second half of each window;\n"
                  f" erank's loss rate is its forward passes with the fused log-softmax; with the "
                  f"last layer's eRank that `erank loss` adds: {best(run_rates):.1f} t/s)")
            out["loss 512"]["erank_run_tps"] = best(run_rates)
            report["models"][model.name] = out
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
