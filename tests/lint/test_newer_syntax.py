"""A file written for a newer Python than the one celery-safe runs on (issue 21 item 7).

It stays CSF000 with a non-zero exit, and the message says which Python's syntax the
file uses and to run celery-safe under that Python. On a Python that has the syntax,
the same file parses and is checked like any other (so the test runs everywhere).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from celery_safe.cli import main

#: (introduced in, what it is, source)
NEWER = [
    ((3, 12), "PEP 701", 'names = ["a"]\nprint(f"{", ".join(names)}")\n'),
    ((3, 12), "PEP 701", 'row = {"a": 1}\nprint(f"{row["a"]}")\n'),
    ((3, 12), "PEP 695", "type Pair = tuple[int, int]\n"),
    ((3, 12), "PEP 695", "def first[T](items: list[T]) -> T:\n    return items[0]\n"),
    ((3, 12), "PEP 695", "class Box[T]:\n    pass\n"),
    ((3, 13), "PEP 696", "def first[T = int](items: list[T]) -> T:\n    return items[0]\n"),
    (
        (3, 14),
        "PEP 758",
        "try:\n    pass\nexcept ValueError, KeyError:\n    pass\n",
    ),
    ((3, 14), "PEP 750", 'who = "x"\ngreeting = t"hello {who}"\n'),
]
TASK = "from celery import shared_task\n\n\n@shared_task\ndef add(x, y):\n    return x + y\n"


@pytest.mark.parametrize(("version", "pep", "source"), NEWER)
def test_newer_syntax_names_the_python_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: tuple[int, int], pep: str,
    source: str,
) -> None:
    target = tmp_path / "tasks.py"
    target.write_text(TASK + source)
    code = main(["check", str(target)])
    out = capsys.readouterr().out
    if sys.version_info[:2] >= version:
        ast.parse(target.read_text())  # this Python has the syntax: the file is checked
        assert code == 0 and "CSF000" not in out
        return
    assert code == 1 and "CSF000" in out
    wanted = f"{version[0]}.{version[1]}"
    assert f"Python {wanted} syntax" in out and pep in out, out
    assert f"run celery-safe under Python {wanted} or newer" in out, out


def test_a_plain_syntax_error_claims_no_newer_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "tasks.py"
    target.write_text(TASK + "def broken(:\n    pass\n")
    assert main(["check", str(target)]) == 1
    out = capsys.readouterr().out
    assert "CSF000" in out and "run celery-safe under" not in out


def test_a_letter_inside_a_string_is_no_string_prefix() -> None:
    """``['t', 'u']`` has ``t'`` in it, but no template string: a syntax error on such a
    line claims no newer Python."""
    from celery_safe.lint.syntax import newer_syntax

    source = "names = ['t', 'f']  )\n"
    try:
        ast.parse(source)
    except SyntaxError as exc:
        assert newer_syntax(exc, source.splitlines(), running=(3, 10)) is None
    else:
        raise AssertionError("the sample must not parse")
