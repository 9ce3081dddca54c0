#!/usr/bin/env python3
"""Golden data for tests/template, rendered by transformers and jinja2 themselves.
Run: /work/main/.venv/bin/python tools/make_template_goldens.py

Writes tests/fixtures/template/:
  <family>.jinja      the chat templates (model data): SmolLM2 from models/smollm2-135m.gguf
                      (tokenizer.chat_template, read with the gguf package); Llama 3.1 / 3.2,
                      Qwen2.5, Mistral Nemo and Phi-3.5 from the llama-cpp-python 0.3.36 sdist
                      (vendor/llama.cpp/models/templates/, downloaded with pip if build/dl lacks
                      it); Gemma 3: models/gemma3-270m.gguf carries no tokenizer.chat_template, so
                      gemma3.jinja is google/gemma-3-*-it's tokenizer_config.json chat_template,
                      committed as is and only hashed here.
  goldens.json        per family: conversations, add_generation_prompt, vars (the family's real
                      special tokens plus extras) and the text of tokenizer.apply_chat_template(
                      ..., tokenize=False) on a tokenizer carrying that template and those tokens,
                      or the error it raised.
  engine_cases.json   small (template, context) cases of the engine's pieces rendered by the
                      environment transformers compiles chat templates with
                      (_compile_jinja_template: ImmutableSandboxedEnvironment, trim_blocks,
                      lstrip_blocks, loopcontrols, its tojson / raise_exception / namespace).
Llama 3.2 calls strftime_now("%d %b %Y") when date_string is not given: every Llama 3.2 golden
passes date_string, so no golden depends on today's date.
"""
import glob
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "template")
SDIST = "llama_cpp_python-0.3.36.tar.gz"
SDIST_TEMPLATES = "vendor/llama.cpp/models/templates/"

import gguf  # noqa: E402
import jinja2  # noqa: E402
import tokenizers  # noqa: E402
import transformers  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402
from transformers.utils.chat_template_utils import _compile_jinja_template  # noqa: E402

FAMILIES = {
    # name: (source, special tokens as the model's tokenizer_config gives them)
    "smollm2": ("models/smollm2-135m.gguf [tokenizer.chat_template]",
                {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                 "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>"}),
    "gemma3": ("google/gemma-3-270m-it tokenizer_config.json chat_template (committed fixture)",
               {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>",
                "pad_token": "<pad>"}),
    "llama3.1": (SDIST + ":" + SDIST_TEMPLATES + "meta-llama-Llama-3.1-8B-Instruct.jinja",
                 {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    "llama3.2": (SDIST + ":" + SDIST_TEMPLATES + "meta-llama-Llama-3.2-3B-Instruct.jinja",
                 {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    "qwen2.5": (SDIST + ":" + SDIST_TEMPLATES + "Qwen-Qwen2.5-7B-Instruct.jinja",
                {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "mistral": (SDIST + ":" + SDIST_TEMPLATES + "mistralai-Mistral-Nemo-Instruct-2407.jinja",
                {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
    "phi3": (SDIST + ":" + SDIST_TEMPLATES + "microsoft-Phi-3.5-mini-instruct.jinja",
             {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>",
              "pad_token": "<|endoftext|>"}),
}


def sdist_path():
    local = os.path.join(ROOT, "build", "dl", SDIST)
    if os.path.exists(local):
        return local
    tmp = tempfile.mkdtemp()
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                           ":all:", "llama-cpp-python==0.3.36", "-d", tmp])
    return glob.glob(os.path.join(tmp, "llama_cpp_python-*.tar.gz"))[0]


def gguf_string(path, key):
    f = gguf.GGUFReader(path).fields[key]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def load_templates():
    out = {}
    with tarfile.open(sdist_path()) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}
        for fam, (src, _) in FAMILIES.items():
            if src.startswith(SDIST):
                text = tar.extractfile(members[src.split(":", 1)[1]]).read().decode("utf-8")
            elif fam == "smollm2":
                text = gguf_string(os.path.join(ROOT, "models/smollm2-135m.gguf"),
                                   "tokenizer.chat_template")
            else:
                with open(os.path.join(OUT, fam + ".jinja"), encoding="utf-8", newline="") as f:
                    text = f.read()
            out[fam] = text
    return out


def tokenizer_for(template, special):
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel({"x": 0}, unk_token="x"))
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, **special)
    tok.chat_template = template
    return tok


SYS = {"role": "system", "content": "You are a concise assistant."}
U1 = {"role": "user", "content": "What is the capital of France?"}
A1 = {"role": "assistant", "content": "Paris."}
U2 = {"role": "user", "content": "And of Germany?"}
ZH = {"role": "user", "content": "你好，世界！请用中文回答。 Ünïcödé ✓ 🚀"}
WS = {"role": "user", "content": "  \n  leading and trailing whitespace\n\n  "}
WS_A = {"role": "assistant", "content": "\n answer with newlines \n"}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string",
                                                             "description": "City name"}},
                   "required": ["city"]}}}]

COMMON = [
    ("single_user", [U1], {}),
    ("system_user", [SYS, U1], {}),
    ("multi_turn", [U1, A1, U2], {}),
    ("system_multi_turn", [SYS, U1, A1, U2], {}),
    ("unicode", [ZH], {}),
    ("whitespace", [WS, WS_A, U2], {}),
]
EXTRA = {
    "gemma3": [("parts", [{"role": "system", "content": [{"type": "text", "text": "Sys part"}]},
                          {"role": "user", "content": [{"type": "text", "text": " part one "},
                                                       {"type": "text", "text": "part two"}]}],
                {}),
               ("not_alternating", [U1, U2], {})],
    "mistral": [("not_alternating", [U1, U2], {}),
                ("tools", [U1, A1, U2], {"tools": TOOLS}),
                ("bad_role", [U1, {"role": "critic", "content": "hm"}], {})],
    "llama3.1": [("tools", [SYS, U1], {"tools": TOOLS}),
                 ("tools_in_system", [U1], {"tools": TOOLS, "tools_in_user_message": False}),
                 ("default_date", [U1], None)],
    "llama3.2": [("tools", [U1], {"tools": TOOLS})],
    "qwen2.5": [("tools", [SYS, U1], {"tools": TOOLS}),
                ("tool_calls", [U1, {"role": "assistant", "content": "",
                                     "tool_calls": [{"type": "function", "function": {
                                         "name": "get_weather",
                                         "arguments": {"city": "Paris"}}}]},
                                {"role": "tool", "content": "{\"temp\": 21}"},
                                {"role": "tool", "content": "sunny"}], {}),
                ("parts_error", [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                 {})],
    "smollm2": [("assistant_last", [U1, A1], {})],
    "phi3": [("empty_system", [{"role": "system", "content": ""}, U1], {})],
}


def chats(templates):
    out = []
    for fam, text in templates.items():
        special = FAMILIES[fam][1]
        tok = tokenizer_for(text, special)
        for name, msgs, extra in COMMON + EXTRA.get(fam, []):
            vars_ = dict(extra or {})
            if fam.startswith("llama") and extra is not None:
                vars_.setdefault("date_string", "15 Mar 2025")
            for agp in (False, True):
                case = {"family": fam, "name": name, "template": fam,
                        "messages": msgs, "add_generation_prompt": agp,
                        "vars": {**special, **vars_}}
                try:
                    case["expected"] = tok.apply_chat_template(
                        msgs, tokenize=False, add_generation_prompt=agp, **vars_)
                except Exception as e:  # noqa: BLE001 - the error is the golden
                    case["expected_error"] = str(e)
                out.append(case)
    return out


# (template, context) pairs for the engine's pieces; each rendered by transformers' environment.
ENGINE = [
    # whitespace control, trim_blocks, lstrip_blocks, comments, raw
    ("a  {{- 'b' -}}  c", {}),
    ("a\n  {%- if true %}\n  b\n  {% endif -%}\n  c", {}),
    ("  {% if true %}\n  x\n  {% endif %}\n", {}),
    ("{% if true %}x{% endif %}\ny", {}),
    ("{% if true +%}\nx{% endif %}", {}),
    ("  {%+ if true %}x{% endif %}", {}),
    ("a {# comment #}\nb", {}),
    ("a\n  {# comment #}\nb", {}),
    ("a {#- comment -#}  b", {}),
    ("{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("line1\r\nline2\rline3\n", {}),
    ("{{ 'x' }}\n\n", {}),
    ("\t{% for i in [1] %}\n\t{{ i }}\n\t{% endfor %}\n", {}),
    # literals and printing
    ("{{ [1, 'a', none, true, 1.5, {'k': (1,)}] }}", {}),
    ("{{ 1e20 }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1e16 }} {{ 3.0e15 }} {{ -0.0 }}", {}),
    ("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }}", {}),
    ("{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ true }}|{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ [1] + [2] }}", {}),
    ("{{ 'it''s' }} {{ \"q\\\"q\" }} {{ '\\u00e9\\x41\\n\\t|' }} {{ 'a' 'b' }}", {}),
    ("{{ {'b': 1, 'a': 2} }} {{ ('x', 'y') }} {{ () }} {{ 'it\\'s' ~ [\"it's\"]|string }}", {}),
    ("{{ 1, 2 }}", {}),
    ("{{ -x }} {{ +x }} {{ not x }} {{ x > 1 and x < 5 }} {{ 1 < x < 3 }}", {"x": 2}),
    ("{{ none or 'b' }} {{ 0 and 'b' }} {{ 'a' if x else 'b' }} {{ 'c' if not x }}|", {"x": 0}),
    ("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ [1,2] == [1,2] }} {{ 'b' > 'a' }}", {}),
    ("{{ 'ell' in 'hello' }} {{ 2 in [1,2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", {}),
    # attribute / item / slices
    ("{{ m.role }} {{ m['content'] }} {{ m.missing }}| {{ l[0] }} {{ l[-1] }} {{ l[9] }}|",
     {"m": {"role": "user", "content": "hi"}, "l": [1, 2, 3]}),
    ("{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[5:] }} {{ s[1:3] }} {{ s[::-1] }}",
     {"l": [1, 2, 3, 4], "s": "héllo"}),
    ("{{ m.items() | list }} {{ m.keys() | list }} {{ m.values() | list }} {{ m.get('z', 3) }}",
     {"m": {"a": 1, "b": 2}}),
    ("{{ m['items'] }}|{{ m.items() | list }}|", {"m": {"items": "key"}}),
    ("{{ l.0 }} {{ t.1 }}", {"l": [5, 6], "t": [7, 8]}),
    # undefined
    ("[{{ u }}] {{ u is defined }} {{ u is undefined }} {{ u | default('d') }} {{ u | length }}",
     {}),
    ("{{ u is iterable }} {{ u is sequence }} {{ u is mapping }} {{ 'a' in u }} {{ u == u }}", {}),
    ("{% for x in u %}a{% else %}empty{% endfor %} {{ u ~ 'x' }} {{ u | string }}|", {}),
    ("{{ d.zz is defined }} {{ d.zz | default('z') }} {{ none | default('n') }}", {"d": {}}),
    ("{{ '' | default('e', true) }} {{ 0 | d('zero', boolean=true) }}", {}),
    ("{{ u.attr }}", {}),
    ("{{ u + 1 }}", {}),
    ("{{ d.zz.a }}", {"d": {}}),
    ("{{ u() }}", {}),
    # loops
    ("{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
     "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {"l": ["a", "b", "c"]}),
    ("{% for x in l %}{{ loop.previtem | default('-') }}{{ x }}{{ loop.nextitem | default('-') }}"
     " {% endfor %}", {"l": [1, 2, 3]}),
    ("{% for x in l if x is odd %}{{ x }}{{ loop.length }} {% endfor %}", {"l": [1, 2, 3, 4, 5]}),
    ("{% for x in l %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}"
     "{{ x }}{% endfor %}", {"l": [1, 2, 3, 4, 5]}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
     {"d": {"b": 1, "a": 2}}),
    ("{% for x in [] %}x{% else %}none{% endfor %}", {}),
    ("{% for c in 'abc' %}{{ c }}-{{ loop.cycle('odd', 'even') }} {% endfor %}", {}),
    ("{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}"
     "{{ loop.index }}|{% endfor %}", {}),
    ("{% for i in range(3) %}{{ i }}{% endfor %} {{ range(1, 10, 3) | list }}", {}),
    # set and scoping
    ("{% set x = 0 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}", {}),
    ("{% for i in [1, 2] %}[{{ y }}]{% set y = i %}{% endfor %}[{{ y }}]", {}),
    ("{% if true %}{% set z = 5 %}{% endif %}{{ z }}", {}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set messages = messages[1:] %}{{ messages | length }}",
     {"messages": [1, 2, 3]}),
    ("{% set ns = namespace(n=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}"
     "{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.n }} {{ ns.found }}", {}),
    ("{% set ns = namespace() %}{% set ns.index = 0 %}{{ ns.index }}", {}),
    ("{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]", {}),
    ("{% set block | trim | upper %}  inner  {% endset %}[{{ block }}]", {}),
    ("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("{% set d = dict(a=1, b='x') %}{{ d }} {{ dict({'k': 2}) }}", {}),
    # macros, call, filter blocks
    ("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}"
     "{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet('C', 'Yo') }}", {}),
    ("{% macro m(a) %}{{ a }}|{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}),
    ("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
     "{% call wrap('b') %}bold {{ 1 }}{% endcall %}", {}),
    ("{% macro rows(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}"
     "{% call(x) rows([1, 2]) %}[{{ x * 10 }}]{% endcall %}", {}),
    ("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", {}),
    ("{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("{% generation %}gen {{ 1 }}{% endgeneration %}", {}),
    # filters
    ("[{{ '  a b  ' | trim }}] [{{ 'xxaxx' | trim('x') }}] {{ 'aBc' | upper }} {{ 'AbC' | lower }}",
     {}),
    ("{{ 'hello world' | capitalize }} {{ 'hello wORLD-foo (bar)' | title }}", {}),
    ("{{ [3, 1, 2] | length }} {{ 'héllo' | count }} {{ {'a': 1} | length }} {{ [1, 2] | first }}"
     " {{ [1, 2] | last }} {{ 'abc' | first }}", {}),
    ("{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ users | join(',', attribute='n') }}",
     {"users": [{"n": "x"}, {"n": "y"}]}),
    ("{{ d | tojson }} {{ d | tojson(indent=2) }} {{ 'é\"<>' | tojson }} {{ [1.0, none, true] | tojson }}",
     {"d": {"b": [1, {"c": "x"}], "a": {}}}),
    ("{{ d | tojson(separators=(',', ':')) }} {{ d | tojson(sort_keys=true) }} "
     "{{ 'é' | tojson(ensure_ascii=true) }} {{ [] | tojson(indent=2) }}", {"d": {"b": 1, "a": 2}}),
    ("{{ 42 | string }} {{ '42' | int + 1 }} {{ '4.7' | int }} {{ 'x' | int(-1) }} {{ 3.9 | int }}"
     " {{ '1.5' | float }} {{ 'y' | float }} {{ 2 | float }}", {}),
    ("{{ 'ab' | list }} {{ d | items | list }} {{ d | list }}", {"d": {"k": "v"}}),
    ("{{ 'a-b-a' | replace('a', 'x') }} {{ 'aaa' | replace('a', 'b', 2) }}", {}),
    ("{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} "
     "{{ ms | rejectattr('role', 'eq', 'user') | list | length }} "
     "{{ ms | selectattr('extra') | list | length }} {{ ms | selectattr('extra', 'defined') | list }}",
     {"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
             {"role": "user", "content": "c", "extra": 1}]}),
    ("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3] | reject('even') | list }} "
     "{{ [0, 1, '', 'a'] | select | list }} {{ ['a', 'B'] | map('upper') | list }}", {}),
    ("{{ [1, 2, 1, 3] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }} "
     "{{ [3, 1, 2] | reverse | list }} {{ 'abc' | reverse }}", {}),
    ("{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1] | sort(reverse=true) }} "
     "{{ us | sort(attribute='a') | map(attribute='a') | list }}", {"us": [{"a": 2}, {"a": 1}]}),
    ("{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(method='ceil') }}"
     " {{ 3 | round }} {{ -4 | abs }} {{ -1.5 | abs }}", {}),
    ("{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|"
     "{{ 'a\\n\\nb' | indent(width='> ', blank=true) }}", {}),
    ("{{ '<a href=\"x\">&</a>' | escape }} {{ 'x' | safe }} {{ [1, 2] | sum }} {{ [3, 1] | min }}"
     " {{ [3, 1] | max }}", {}),
    ("{{ {'b': 1, 'a': 2} | dictsort }} {{ 'a b  c' | wordcount }} {{ 'x' | center(5) }}|", {}),
    # tests
    ("{{ 'a' is string }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }}"
     " {{ true is integer }} {{ 1.0 is float }} {{ {} is mapping }} {{ [] is iterable }}"
     " {{ 'x' is sequence }} {{ true is boolean }} {{ false is false }} {{ true is true }}", {}),
    ("{{ none is none }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} "
     "{{ 9 is divisibleby(4) }} {{ 'a' is eq 'a' }} {{ 2 is gt 1 }} {{ 2 is lt 1 }} "
     "{{ 2 is in [1, 2] }} {{ x is not none }} {{ raise_exception is callable }}", {"x": 1}),
    ("{{ none | selectattr('type', 'equalto', 'x') | list }} {{ none | map('upper') | list }}", {}),
    ("{{ 'a' | safe + '<b>' }} {{ '<' + ('&' | safe) }} {{ ('<' | e) | e }} {{ '<' ~ ('&' | safe) }}"
     " {% if [] | select %}gen-true{% endif %} {{ [1, 2] | map('string') is sequence }}", {}),
    ("{{ [1] | select | length }}", {}),
    ("{{ [1] | map('string') | tojson }}", {}),
    ("{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ x is sameas none }}", {"x": None}),
    # string methods
    ("[{{ s.strip() }}] [{{ s.lstrip() }}] [{{ s.rstrip() }}] [{{ 'xxhixx'.strip('x') }}]",
     {"s": "  \n hi \t "}),
    ("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} "
     "{{ 'a b c'.rsplit(' ', 1) }} {{ 'x\\ny\\r\\nz'.splitlines() }}", {}),
    ("{{ s.startswith('he') }} {{ s.endswith('lo') }} {{ s.startswith(('x', 'h')) }} "
     "{{ s.upper() }} {{ s.title() }} {{ s.replace('l', 'L') }} {{ s.find('l') }} "
     "{{ s.find('z') }} {{ s.count('l') }} {{ s.capitalize() }}", {"s": "hello"}),
    ("{{ '-'.join(['a', 'b']) }} {{ '{} and {}'.format('x', 'y') }} {{ '{name}!'.format(name='n') }}"
     " {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ 'think</think>rest'.split('</think>')[-1] }}",
     {}),
    ("{{ s[0] }}{{ s[-1] }} {{ s | length }} {{ s[1:] | upper }}", {"s": "日本語テキスト"}),
    # errors the templates rely on
    ("{{ raise_exception('Bad conversation: ' ~ n) }}", {"n": 3}),
    ("{% if true %}\n{{ raise_exception('on line two') }}{% endif %}", {}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ [1] + 'a' }}", {}),
]


def engine_cases():
    out = []
    for template, ctx in ENGINE:
        case = {"template": template, "context": ctx}
        try:
            case["expected"] = _compile_jinja_template(template).render(**ctx)
        except Exception as e:  # noqa: BLE001 - the error is the golden
            case["expected_error"] = str(e)
        out.append(case)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    templates = load_templates()
    meta = {}
    for fam, text in templates.items():
        path = os.path.join(OUT, fam + ".jinja")
        if fam != "gemma3":
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        meta[fam] = {"file": os.path.relpath(path, ROOT), "source": FAMILIES[fam][0],
                     "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    goldens = {"generator": "tools/make_template_goldens.py",
               "transformers": transformers.__version__, "jinja2": jinja2.__version__,
               "date_string": "Llama 3.x goldens pass date_string (15 Mar 2025) except "
                              "llama3.1 default_date, which uses the template's default",
               "templates": meta, "chats": chats(templates)}
    with open(os.path.join(OUT, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(goldens, f, ensure_ascii=False, indent=1)
        f.write("\n")
    cases = {"generator": "tools/make_template_goldens.py", "jinja2": jinja2.__version__,
             "environment": "transformers _compile_jinja_template", "cases": engine_cases()}
    with open(os.path.join(OUT, "engine_cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")
    counts = {}
    for c in goldens["chats"]:
        counts[c["family"]] = counts.get(c["family"], 0) + 1
    print("chats:", counts, "engine cases:", len(cases["cases"]),
          "errors:", sum("expected_error" in c for c in cases["cases"]))


if __name__ == "__main__":
    main()
