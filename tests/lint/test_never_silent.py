"""Never silent (issue 9 §4, issue 16 item 10): a file not checked is CSF000, not "clean"."""

from __future__ import annotations

import ast

from celery_safe.lint import Config, check_source, check_tree
from celery_safe.lint.flake8_plugin import Plugin

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
