"""Eval files (bugbear / flake8-async style): real code, expected findings as comments.

``tests/lint/eval_files/csf101.py`` holds code for CSF101; a line expected to be
reported ends with ``# CSF101: 12`` (1-based column, as ``celery-safe check`` and flake8
print it; several as ``# CSF101: 12, CSF101: 30``). Every other line must stay silent
for that code. An optional first-lines header ``# config: task-decorators=a.b, select=CSF9``
sets the config. Each file runs as written, with ``# noqa: CODE`` added to the expected
lines, with a bare ``# noqa``, and through the flake8 plugin class.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from celery_safe.lint import Config, check_source
from celery_safe.lint.front.flake8_plugin import Plugin, named_opt_in
from celery_safe.lint.front.formats import character_column

EVAL_DIR = Path(__file__).parent / "eval_files"
EVAL_FILES = sorted(EVAL_DIR.glob("csf*.py"))
_EXPECTED = re.compile(r"(CSF\d{3}): (\d+)")
_HEADER = re.compile(r"^# config: (.*)$", re.M)

Expected = set[tuple[str, int, int]]


def _code(path: Path) -> str:
    return path.stem.upper()


def _config(source: str) -> Config:
    match = _HEADER.search(source)
    if match is None:
        return Config()
    table: dict[str, object] = {}
    for item in match.group(1).split(";"):
        key, _, value = item.partition("=")
        table[key.strip()] = [v.strip() for v in value.split(",") if v.strip()]
    return Config.from_mapping(table)


def _expected(source: str, code: str) -> Expected:
    found: Expected = set()
    for number, line in enumerate(source.splitlines(), 1):
        comment = line.partition("  # CSF")[2]
        if comment:
            for got, column in _EXPECTED.findall("CSF" + comment):
                if got == code:
                    found.add((code, number, int(column)))
    return found


def _actual(source: str, code: str, config: Config) -> Expected:
    lines = source.splitlines(keepends=True)
    return {
        (f.code, f.line, character_column(lines[f.line - 1], f.col))
        for f in check_source(source, "eval.py", config)
        if f.code == code
    }


def _with_noqa(source: str, expected: Expected, comment: str) -> str:
    lines = source.splitlines(keepends=True)
    for _, number, _ in expected:
        lines[number - 1] = lines[number - 1].rstrip("\n") + f"  {comment}\n"
    return "".join(lines)


@pytest.fixture(params=EVAL_FILES, ids=lambda p: p.stem)
def eval_file(request: pytest.FixtureRequest) -> tuple[str, str, Config]:
    path: Path = request.param
    source = path.read_text(encoding="utf-8")
    return _code(path), source, _config(source)


def test_findings_match_the_comments(eval_file: tuple[str, str, Config]) -> None:
    code, source, config = eval_file
    expected = _expected(source, code)
    assert expected, f"eval file for {code} has no positive case"
    actual = _actual(source, code, config)
    assert sorted(actual - expected) == [], "reported but not expected"
    assert sorted(expected - actual) == [], "expected but not reported"


@pytest.mark.parametrize("comment", ["# noqa: {code}", "# noqa", "# NOQA:{code},E501"])
def test_noqa_silences_each_finding(eval_file: tuple[str, str, Config], comment: str) -> None:
    code, source, config = eval_file
    expected = _expected(source, code)
    silenced = _with_noqa(source, expected, comment.format(code=code))
    assert _actual(silenced, code, config) == set()


def test_noqa_for_another_code_does_not_silence(eval_file: tuple[str, str, Config]) -> None:
    code, source, config = eval_file
    expected = _expected(source, code)
    other = "CSF999" if code != "CSF999" else "CSF101"
    assert _actual(_with_noqa(source, expected, f"# noqa: {other}"), code, config) == expected


def test_flake8_plugin_reports_the_same(
    eval_file: tuple[str, str, Config], tmp_path: Path
) -> None:
    code, source, config = eval_file
    lines = source.splitlines(keepends=True)
    # a file of its own project, as ``check_source`` sees it (not this repository's)
    path = tmp_path / "eval.py"
    path.write_text(source, encoding="utf-8")
    Plugin.task_decorators = config.task_decorators
    Plugin.named = named_opt_in((*config.select, *config.extend_select))  # as flake8 --select
    try:
        plugin = Plugin(ast.parse(source), str(path), lines)
        reported = {
            (message.split()[0], line, character_column(lines[line - 1], col))
            for line, col, message, _ in plugin.run()
            if message.startswith(code)
        }
    finally:
        Plugin.task_decorators, Plugin.named = (), ()
    assert reported == _expected(source, code)
