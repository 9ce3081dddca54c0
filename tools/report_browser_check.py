#!/usr/bin/env python3
"""Renders an `erank report` page in a real browser (Debian's chromium, headless) through the
DevTools protocol, with Python's standard library only, and checks that every plot is drawn.

What the page must hold is derived here from the input JSON files alone (not from erank's code):
which sections (results of erank diff/rank/loss on the same texts form one model comparison; every
other file one section), which plots each has, how many series each plot has and how many marks
(points, bars, cells, estimates) each series draws. In the browser, every <svg class="plot"> must
have a non-zero size, the expected series groups, and marks with a non-zero box inside the plot.
The page must load nothing from anywhere (no scripts, images, stylesheets or fonts).
A full-page screenshot is saved as OUT/report.png.

Usage: python3 tools/report_browser_check.py --report report.html --out DIR INPUT.json...
Exit 0: passed; 77: no chromium (the test skips); 1: failed, with the reason on stderr.
"""
import argparse
import base64
import json
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arena_browser_check import find_chromium, launch_chromium  # noqa: E402

LENS_TEXTS, LENS_TOKENS = 3, 48


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def kind_of(d):
    if d.get("kind") == "sweep":
        return "sweep"
    if d.get("command") in ("diff", "rank", "loss"):
        return "results"
    if d.get("command") == "probe":
        return "probe"
    if "texts" in d and "summary" in d and "final_norm" in d:
        return "lens"
    if "models" in d and "bootstrap_rounds" in d:
        return "arena"
    if "results" in d and ("configs" in d or "n-shot" in d):
        return "eval"
    raise ValueError("unknown kind")


def series(*counts):
    """Expected mark counts of a plot's series; series without marks are not drawn."""
    return sorted(c for c in counts if c > 0)


def vs_params(prefix, models, plots):
    """models: dicts with diff_a, diff_b, red_tok, red_text, acc (None when missing)."""
    cnt = lambda k: sum(1 for m in models if finite(m.get(k)))
    if cnt("diff_a") or cnt("diff_b"):
        plots[prefix + "diff-vs-params"] = series(cnt("diff_a"), cnt("diff_b"))
    if cnt("red_tok") or cnt("red_text"):
        plots[prefix + "loss-vs-params"] = series(cnt("red_tok"), cnt("red_text"))
    if cnt("acc"):
        plots[prefix + "accuracy-vs-params"] = series(cnt("acc"))


def has_metric(task_result):
    return any(finite(v) and "_stderr" not in k and k != "sample_len"
               for k, v in task_result.items())


def eval_of(d, evals):
    """The erank eval results of a results document's model: same path, else same name."""
    path, name = d["model"].get("path"), d["model"]["name"]
    for e in evals:
        if path and ((e.get("config") or {}).get("model_args") or {}).get("path") == path:
            return e
    for e in evals:
        if e.get("model_name") == name:
            return e
    return None


def expect_results(docs, evals):
    plots = {}
    per_layer = []
    for d in docs:
        per_layer.append(sum(1 for L in d["per_layer"] if finite(L["trained"].get("erank_a"))))
        per_layer.append(sum(1 for L in d["per_layer"] if finite(L.get("erank_a_untrained"))))
    plots["erank-per-layer"] = series(*per_layer)
    models = []
    for d in docs:
        last, loss = d["per_layer"][-1], d.get("loss") or {}
        models.append({"diff_a": last.get("diff_a"), "diff_b": last.get("diff_b"),
                       "red_tok": loss.get("reduced_per_token"),
                       "red_text": loss.get("reduced_per_text")})
    vs_params("", models, plots)
    acc = {}
    for d in docs:
        e = eval_of(d, evals)
        for task, r in (e or {}).get("results", {}).items():
            if has_metric(r):
                acc[task] = acc.get(task, 0) + 1
    if acc:
        plots["accuracy-vs-params"] = series(*acc.values())
    return plots


def expect_sweep(d):
    plots = {}
    for i, s in enumerate(d["sets"]):
        p = f"set{i}/"
        ok = [m for m in s["models"] if m["status"] == "ok"]
        vs_params(p, [{"diff_a": m.get("diff_a"), "diff_b": m.get("diff_b"),
                       "red_tok": m.get("reduced_loss_per_token"),
                       "red_text": m.get("reduced_loss_per_text"), "acc": m.get("accuracy")}
                      for m in ok], plots)
        positions = {}
        for m in ok:
            for L in m.get("per_layer", []):
                if L.get("position"):
                    positions.setdefault(L["position"], 0)
                    positions[L["position"]] += 1 if finite(L.get("diff_a")) else 0
        if positions:
            plots[p + "layer-ablation"] = series(*positions.values())
        counts = []
        for m in ok:
            counts.append(sum(1 for L in m.get("per_layer", []) if finite(L.get("erank_trained_a"))))
            counts.append(sum(1 for L in m.get("per_layer", []) if finite(L.get("erank_untrained_a"))))
        plots[p + "erank-per-layer"] = series(*counts)
    return plots


def expect_lens(d):
    plots = {"mean-per-layer": series(sum(1 for s in d["summary"] if finite(s.get("mean_kl"))),
                                      sum(1 for s in d["summary"] if finite(s.get("mean_jsd"))))}
    for t, text in enumerate(d["texts"][:LENS_TEXTS]):
        n = min(len(text["tokens"]), LENS_TOKENS)
        plots[f"heatmap-t{t}"] = series(sum(1 for L in text["layers"] for v in L["jsd"][:n]
                                            if finite(v)))
    return plots


def expect_probe(d):
    counts = [sum(1 for L in d["layers"] if finite(L["r2"].get(t))) for t in d["targets"]]
    for key in ("random_labels", "random_tokens"):
        if key in d.get("controls", {}):
            counts.append(sum(1 for L in d["controls"][key] if finite(L["r2"].get("mean"))))
    return {"r2-per-layer": series(*counts)}


def expect_arena(d):
    return {"ratings": series(sum(1 for m in d["models"] if finite(m.get("bt"))),
                              sum(1 for m in d["models"] if finite(m.get("style_bt"))))}


def expect_eval(d):
    return {"main-metric": series(sum(1 for r in d["results"].values() if has_metric(r)))}


def expected_sections(paths):
    """[(kind, [files], {plot: sorted mark counts})] in page order."""
    docs = {p: json.load(open(p)) for p in paths}
    out, groups = [], {}
    for p in paths:
        d = docs[p]
        k = kind_of(d)
        if k == "results":
            key = (d.get("dataset") or {}).get("sha256") or p
            if key in groups:
                groups[key][1].append(p)
                continue
            groups[key] = ("results", [p], None)
            out.append(groups[key])
        else:
            out.append((k, [p], None))
    evals = [docs[p] for p in paths if kind_of(docs[p]) == "eval"]
    result = []
    for k, files, _ in out:
        ds = [docs[f] for f in files]
        plots = {"results": lambda: expect_results(ds, evals), "sweep": lambda: expect_sweep(ds[0]),
                 "lens": lambda: expect_lens(ds[0]), "probe": lambda: expect_probe(ds[0]),
                 "arena": lambda: expect_arena(ds[0]), "eval": lambda: expect_eval(ds[0])}[k]()
        result.append((k, files, plots))
    return result


COLLECT = r"""
(() => {
  const inside = (b, r) => b.x + b.width / 2 >= r.x - 1 && b.x + b.width / 2 <= r.x + r.width + 1 &&
                           b.y + b.height / 2 >= r.y - 1 && b.y + b.height / 2 <= r.y + r.height + 1;
  return {
    sections: [...document.querySelectorAll('section.report-section')].map(sec => ({
      kind: sec.dataset.kind, files: JSON.parse(sec.dataset.files),
      plots: [...sec.querySelectorAll('svg.plot')].map(svg => {
        const r = svg.getBoundingClientRect();
        return {name: svg.dataset.plot, w: r.width, h: r.height,
                declared: +svg.dataset.seriesCount,
                table_beside: !!svg.closest('.figure') &&
                              !!svg.closest('.figure').querySelector('.table-wrap table tbody tr'),
                series: [...svg.querySelectorAll('g.series')].map(g => {
                  const marks = [...g.querySelectorAll('.mark')];
                  return {name: g.dataset.series, marks: marks.length,
                          drawn: marks.filter(m => { const b = m.getBoundingClientRect();
                                                     return b.width > 0 && b.height > 0 &&
                                                            inside(b, r); }).length};
                }),
                has_axes: svg.querySelectorAll('.axes text').length > 0,
                has_legend: svg.querySelectorAll('.legend-entry').length};
      })})),
    external: performance.getEntriesByType('resource').map(e => e.name),
    active: document.querySelectorAll('script, iframe, img, object, embed, link[rel=stylesheet],' +
                                       'main a, section a').length,
    version: (document.getElementById('erank-version') || {}).textContent || '',
    title: document.title,
  };
})()
"""


def check(page_info, expected):
    errors = []
    got = page_info["sections"]
    if len(got) != len(expected):
        errors.append(f"{len(got)} sections on the page, expected {len(expected)}: "
                      f"{[s['kind'] for s in got]} vs {[e[0] for e in expected]}")
    for (kind, files, plots), sec in zip(expected, got):
        where = f"section {kind} {[os.path.basename(f) for f in files]}"
        if sec["kind"] != kind or sec["files"] != files:
            errors.append(f"{where}: page has {sec['kind']} {sec['files']}")
            continue
        names = [p["name"] for p in sec["plots"]]
        if sorted(names) != sorted(plots):
            errors.append(f"{where}: plots {sorted(names)}, expected {sorted(plots)}")
        for p in sec["plots"]:
            w = f"{where} plot {p['name']}"
            if not (p["w"] > 0 and p["h"] > 0):
                errors.append(f"{w}: not drawn ({p['w']} x {p['h']})")
            if not p["has_axes"]:
                errors.append(f"{w}: no axis labels")
            if not p["table_beside"]:
                errors.append(f"{w}: no table of numbers beside it")
            marks = sorted(s["marks"] for s in p["series"])
            if p["name"] in plots and marks != plots[p["name"]]:
                errors.append(f"{w}: marks per series {marks}, expected {plots[p['name']]}")
            if p["declared"] != len(p["series"]):
                errors.append(f"{w}: data-series-count {p['declared']} but {len(p['series'])} groups")
            for s in p["series"]:
                if s["marks"] == 0 or s["drawn"] != s["marks"]:
                    errors.append(f"{w} series {s['name']!r}: {s['drawn']} of {s['marks']} marks "
                                  "drawn inside the plot")
            if len(p["series"]) > 1 and p["has_legend"] < len(p["series"]):
                errors.append(f"{w}: legend has {p['has_legend']} entries for "
                              f"{len(p['series'])} series")
    ext = [u for u in page_info["external"] if not u.startswith("data:")]
    if ext:
        errors.append(f"the page loaded {ext}")
    if page_info["active"]:
        errors.append(f"{page_info['active']} script/img/link/anchor elements inside the page's "
                      "sections (unescaped text?)")
    if not page_info["version"]:
        errors.append("no erank version in the header")
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("inputs", nargs="+")
    args = ap.parse_args()
    expected = expected_sections(args.inputs)
    chrome = find_chromium()
    if not chrome:
        print("no chromium: skipped")
        return 77
    os.makedirs(args.out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="erank-chromium-")
    browser = None
    try:
        browser, page = launch_chromium(chrome, profile, "1400,1000")
        page.call("Runtime.enable")
        page.goto("file://" + os.path.abspath(args.report))
        info = page.js(COLLECT)
        size = page.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"],
                               "height": min(size["height"], 16000), "scale": 1})
        png = os.path.join(args.out, "report.png")
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        summary = [{"kind": s["kind"], "files": [os.path.basename(f) for f in s["files"]],
                    "plots": {p["name"]: [[x["name"], x["marks"]] for x in p["series"]]
                              for p in s["plots"]}} for s in info["sections"]]
        print(json.dumps({"sections": summary, "screenshot": png,
                          "page_height": size["height"]}, indent=1))
        errors = check(info, expected)
        if errors:
            raise RuntimeError("\n  ".join([""] + errors))
        return 0
    finally:
        if browser:
            browser.kill()
            browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, KeyError, ValueError, OSError) as e:
        print("report browser check failed:", e, file=sys.stderr)
        sys.exit(1)
