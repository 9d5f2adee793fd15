"""Meta tests: catalogue codes, rule modules, docs and eval files are the same set."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from celery_safe import catalogue, deployment
from celery_safe.lint import Config, check_source, rules
from celery_safe.lint.docs import render_page
from celery_safe.lint.engine import ENGINE_CODES
from celery_safe.lint.registry import RULES

EVAL_DIR = Path(__file__).parent / "eval_files"
SECTIONS = (*catalogue.REQUIRED_SECTIONS, "Known problems", "Fix safety")
STATIC = sorted(c for c, e in catalogue.all_codes().items() if e.scope in ("static", "both"))
#: The deployment codes: runtime rules of ``celery_safe.deployment`` (check_app); the
#: linter runs the same rules on literal configuration, except those needing live workers.
DEPLOYMENT = sorted(c for c in catalogue.all_codes() if c.startswith("CSF4"))
LIVE_ONLY = ["CSF405"]


def test_every_static_code_has_a_rule_and_every_rule_a_static_code() -> None:
    assert sorted(set(RULES) | set(ENGINE_CODES)) == STATIC


def test_every_rule_module_is_imported_and_registers_its_own_code() -> None:
    modules = {m.name for m in pkgutil.iter_modules(rules.__path__) if m.name.startswith("csf")}
    registered = {rule.module.rpartition(".")[2] for rule in RULES.values()}
    assert modules == registered
    for code, rule in RULES.items():
        assert rule.module.endswith("." + code.lower())
        assert importlib.import_module(rule.module) is getattr(rules, code.lower())


def test_opt_in_codes_are_off_by_default_and_on_when_selected() -> None:
    off = [code for code in RULES if not catalogue.get(code).default]
    assert off, "at least one opinionated code is off by default"
    for code in off:
        assert not Config().enabled(code)
        assert Config(select=(code[:4],)).enabled(code)
        assert not Config(select=(code[:4],), ignore=(code,)).enabled(code)


def test_every_rule_has_an_eval_file_and_every_eval_file_a_rule() -> None:
    files = {p.stem.upper() for p in EVAL_DIR.glob("csf*.py")}
    assert files == set(RULES)


def test_every_deployment_code_has_a_runtime_rule_and_a_static_one_with_its_examples(
) -> None:
    assert sorted(deployment.RULES) == DEPLOYMENT
    modules = {m.name for m in pkgutil.iter_modules(deployment.__path__)
               if m.name.startswith("csf")}
    assert modules == {code.lower() for code in DEPLOYMENT}
    for code, found in deployment.RULES.items():
        assert found.module == f"celery_safe.deployment.{code.lower()}"
        if code in LIVE_ONLY:
            assert catalogue.get(code).scope == "runtime" and code not in RULES
            continue
        # one judgement: the static rule shows (and is tested on) the runtime rule's examples
        assert catalogue.get(code).scope == "both"
        assert (RULES[code].invalid, RULES[code].valid) == (found.invalid, found.valid)


@pytest.mark.parametrize("code", STATIC + DEPLOYMENT)
def test_every_code_is_documented(code: str) -> None:
    entry = catalogue.get(code)
    missing = [title for title in SECTIONS if not entry.section(title)]
    assert missing == [], f"{code}.md lacks sections {missing}"
    page = render_page(code)  # a rule's examples fill its page (tests/lint/test_rule_examples.py)
    example, use_instead = page.split("## Example", 1)[1].split("## Use instead", 1)
    assert "```python" in example and "```python" in use_instead.split("\n## ", 1)[0]
    assert entry.fix and entry.name == entry.name.lower()


@pytest.mark.parametrize("path", sorted(EVAL_DIR.glob("csf*.py")), ids=lambda p: p.stem)
def test_messages_fill_every_placeholder(path: Path) -> None:
    every_code = Config(select=("CSF",))
    findings = check_source(path.read_text(encoding="utf-8"), str(path), every_code, noqa=False)
    assert findings
    unfilled = [f.message for f in findings if re.search(r"\{\w+(![rsa])?\}", f.message)]
    assert unfilled == []
