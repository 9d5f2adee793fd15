"""Never silent (issue 9 §4, issue 16 item 10): a file not checked is CSF000, not "clean"."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe.cli import main
from celery_safe.lint import Config, check_source, check_tree
from celery_safe.lint.findings import Finding
from celery_safe.lint.front.cli import check_file, parses
from celery_safe.lint.front.flake8_plugin import Plugin
from celery_safe.lint.interp.depth import MAX_DEPTH
from celery_safe.lint.resolve import ModuleResolver

from .test_cli import JOINING

#: Parses (ast builds the chain), but too deep for the analysis' recursion.
DEEP = (
    "from celery import shared_task\n@shared_task\ndef t(r):\n"
    "    return r.get() + " + "+".join(["a"] * 900) + "\n"
)
#: The task's only decorator is a configured one; no word "task" anywhere.
CONFIGURED = "from myproj.jobs import job\n" + JOINING.replace(
    "from celery import shared_task\n", ""
).replace("@shared_task", "@job")


def test_too_deep_to_analyse_is_csf000_in_the_engine_and_the_flake8_plugin() -> None:
    (finding,) = check_source(DEEP, "deep.py")
    assert finding.code == "CSF000" and "too deeply nested" in finding.message
    lines = DEEP.splitlines(keepends=True)
    reported = [m for _, _, m, _ in Plugin(ast.parse(DEEP), "deep.py", lines).run()]
    assert reported == [finding.message]


def test_a_source_that_does_not_parse_raises_even_without_task_words() -> None:
    try:
        check_source("x = (" * 300 + "1" + ")" * 300, "nested.py")
    except SyntaxError as exc:
        assert "too many nested parentheses" in str(exc)
    else:
        raise AssertionError("a file Python cannot parse was reported as clean")


def test_configured_task_decorators_wake_the_pre_filter() -> None:
    assert "task" not in CONFIGURED.lower()
    config = Config(task_decorators=("myproj.jobs.job",))
    assert [f.code for f in check_source(CONFIGURED, "jobs.py", config)] == ["CSF101"]
    lines = CONFIGURED.splitlines(keepends=True)
    tree = ast.parse(CONFIGURED)
    assert [f.code for f in check_tree(tree, "jobs.py", lines, config)] == ["CSF101"]


def test_too_deep_does_not_depend_on_the_host_recursion_limit(tmp_path: Path) -> None:
    """A host that raised the recursion limit (mypy's API does) still gets CSF000: the
    analysis bounds its own depth instead of running until Python's limit (or the C
    stack) gives out. Under the raised limit the old analysis checked this file."""
    target = tmp_path / "deep.py"
    target.write_text(DEEP)
    lines = DEEP.splitlines(keepends=True)
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        (finding,) = check_source(DEEP, "deep.py")
        reported = [m for _, _, m, _ in Plugin(ast.parse(DEEP), "deep.py", lines).run()]
        cli_exit = main(["check", str(target)])
    finally:
        sys.setrecursionlimit(previous)
    assert finding.code == "CSF000"
    assert f"more than {MAX_DEPTH} levels" in finding.message
    assert reported == [finding.message] and cli_exit == 1


def test_nesting_below_the_bound_is_analysed_at_the_default_limit() -> None:
    """The bound sits below what the analysis manages at Python's default limit."""
    assert sys.getrecursionlimit() <= 1000
    depth = MAX_DEPTH - 20  # the chain adds a few levels of its own
    source = (
        "from celery import shared_task\n@shared_task\ndef add(x):\n    return x\n"
        "@shared_task\ndef t(x):\n    return add.delay(x).get() + " + "+".join(["x"] * depth) + "\n"
    )
    assert [f.code for f in check_source(source, "ok.py")] == ["CSF101"]


ALPHABET = "deflambx():=[]{},.*+ \n\t'\"\\#"


def _check_one(tmp_path: Path, text: str) -> tuple[int, list[Finding]]:
    target = tmp_path / "m.py"
    target.write_text(text)
    config = Config()
    found, _ = check_file(target, config, ModuleResolver())
    return main(["check", "--no-cache", "--output", str(tmp_path / "out"), str(target)]), found


def test_a_module_the_pre_filter_rules_out_is_still_known_to_parse(tmp_path: Path) -> None:
    """``check`` knows a module without task words parses without building its tree
    (``parses``); one it cannot vouch for is parsed, and one that does not parse is CSF000."""
    assert _check_one(tmp_path, "x = 1\n") == (0, [])
    code, (finding,) = _check_one(tmp_path, "def f(:\n    pass\n")
    assert code == 1 and finding.code == "CSF000"
    code, (finding,) = _check_one(tmp_path, "x = (" * 300 + "1" + ")" * 300 + "\n")
    assert code == 1 and finding.code == "CSF000"
    # refused by the symbol table (Python will not compile them) yet parsed: not CSF000,
    # exactly as when the tree was always built
    for text in ("def f(a, a):\n    pass\n", "nonlocal x\n", "def f():\n    x = 1\n    global x\n"):
        assert not parses(text, "m.py") and ast.parse(text)
        assert _check_one(tmp_path, text) == (0, []), text


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith writes odd programs
@given(source=hypothesmith.from_grammar() | st.text(alphabet=ALPHABET, max_size=40))
def test_parses_vouches_only_for_what_ast_parses(source: str) -> None:
    """Whatever ``parses`` accepts, ``ast.parse`` does: it never hides a CSF000."""
    if parses(source, "m.py"):
        ast.parse(source)  # never raises when parses() said yes
