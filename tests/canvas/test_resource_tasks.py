"""The README's pattern: a ``celery_safe.task`` with a resource, chained from another
module. Its resource is hidden from callers, so the linter (``check`` and flake8) and
``validate`` must all accept the chain, and all reject a real mismatch alike."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from celery_safe.cli import main
from celery_safe.workflows import validate

TASKS = """\
import contextlib

from celery import Celery

import celery_safe

app = Celery("shop", set_as_current=False)


@contextlib.contextmanager
def Session():
    yield "session"


@celery_safe.task(app, shared=False)
def fetch():
    return ["a", "b"]


@celery_safe.task(app, resources={"db": Session}, shared=False)
def store(items, *, db):
    return len(items)
"""

FLOWS = """\
from celery import chain

from shop.tasks import fetch, store

good = chain(fetch.s(), store.s())
bad = chain(fetch.s(), store.s(["c"]))
"""


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Path]:
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(TASKS)
    (package / "flows.py").write_text(FLOWS)
    sys.path.insert(0, str(tmp_path))
    try:
        yield package
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
            del sys.modules[name]


def test_check_sees_through_resources_across_modules(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(shop / "flows.py")]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if "CSF" in line]
    assert len(lines) == 1, lines
    assert "flows.py:6:24: CSF201 chain[1] store cannot take the result of chain[0] fetch" in (
        lines[0]
    )
    assert "takes store(items)" in lines[0]  # the resource is hidden, as at runtime


def test_flake8_sees_through_resources_in_one_module(shop: Path) -> None:
    module = shop / "one.py"
    module.write_text(TASKS + "\n\nfrom celery import chain\n\nchain(fetch.s(), store.s())\n")
    argv = [sys.executable, "-m", "flake8", "--select", "CSF", str(module)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.stdout == "" and result.returncode == 0, result.stdout + result.stderr


def test_validate_agrees(shop: Path) -> None:
    flows = importlib.import_module("shop.flows")
    assert validate(flows.good) == []
    assert [p.code for p in validate(flows.bad)] == ["CSF201"]
    assert "takes store(items)" in validate(flows.bad)[0].message
