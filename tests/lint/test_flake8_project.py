"""The flake8 plugin sees the project as ``celery-safe check`` does (issue 21, item 5).

flake8 hands the plugin one file at a time, in several processes (``-j 2`` here); tasks,
helpers and canvases of other modules must still count, and opt-in codes need naming.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from celery_safe.cli import main
from celery_safe.lint.front.flake8_plugin import Plugin

from .test_cache import pack_entries, packs
from .test_cli import _shop

UTILS = """\
def wait_all(results):
    return [r.get() for r in results]
"""

TASKS = """\
from celery import shared_task
from shop.utils import wait_all


@shared_task
def fetch(i):
    return i


@shared_task
def refresh(ids):
    pending = [fetch.delay(i) for i in ids]
    return wait_all(pending)
"""

FLOWS = """\
from celery import chain
from shop.tasks import fetch

chain(fetch.s("a"), fetch.s("b", "c"))()
"""

VIEWS = """\
from shop.tasks import fetch


def view(x):
    return fetch.delay(x).get()
"""


def flake8(cwd: Path, *argv: str) -> list[str]:
    """``path:line:col: CODE`` of each CSF line flake8 prints."""
    out = subprocess.run(
        [sys.executable, "-m", "flake8", "-j", "2", *argv],
        capture_output=True, text=True, cwd=cwd,
        env={**os.environ, "CELERY_SAFE_CACHE_DIR": "off"},  # not check's answers
    )  # fmt: skip
    assert out.returncode in (0, 1), out.stderr
    lines = [line for line in out.stdout.splitlines() if " CSF" in line]
    return sorted(" ".join(line.split(" ")[:2]) for line in lines)


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    code = main(["check", "--no-cache", *argv])
    out = capsys.readouterr().out.splitlines()[:-1]  # the last line is the summary
    assert code == (1 if out else 0)
    return sorted(" ".join(line.split(" ")[:2]) for line in out)


def test_flake8_reports_cross_module_findings_like_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _shop(tmp_path, utils=UTILS, tasks=TASKS, flows=FLOWS)
    monkeypatch.chdir(tmp_path)
    found = flake8(tmp_path, "--select=CSF", "shop")
    assert found == [
        "shop/flows.py:4:21: CSF205",  # fetch lives in shop/tasks.py
        "shop/tasks.py:13:12: CSF104",  # the join is in shop/utils.py
    ]
    assert check(capsys, "shop") == found
    # opt-in codes too: a join in a helper that a task reaches is CSF104, not CSF901
    assert flake8(tmp_path, "--select=CSF,CSF9", "shop") == found
    assert check(capsys, "shop", "--extend-select", "CSF9") == found


def test_opt_in_codes_must_be_named_like_bugbears_b9(tmp_path: Path) -> None:
    _shop(tmp_path, tasks=TASKS, views=VIEWS, utils=UTILS)
    join_outside = "shop/views.py:5:12: CSF901"
    assert join_outside not in flake8(tmp_path, "--select=CSF", "shop")
    assert join_outside not in flake8(tmp_path, "--select=C", "shop")
    # a plain --ignore replaces flake8's default ignore list: still not run
    assert join_outside not in flake8(tmp_path, "--ignore=E501", "shop")
    for named in ("--select=CSF9", "--select=CSF90", "--extend-select=CSF901"):
        assert join_outside in flake8(tmp_path, named, "shop"), named


def test_the_plugin_reads_the_projects_table_as_check_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _shop(tmp_path, utils=UTILS, tasks=TASKS, flows=FLOWS)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.celery-safe]\nignore = ["CSF205"]\n')
    assert flake8(tmp_path, "--select=CSF", "shop") == ["shop/tasks.py:13:12: CSF104"]
    assert check(capsys, "shop") == ["shop/tasks.py:13:12: CSF104"]


def test_flake8_reads_the_entries_check_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], private_findings_cache: Path
) -> None:
    package = _shop(tmp_path, utils=UTILS, tasks=TASKS, flows=FLOWS)
    assert main(["check", str(package)]) == 1
    printed = sorted(
        " ".join(line.split(" ")[:2]) for line in capsys.readouterr().out.splitlines()[:-1]
    )

    def entries() -> dict[str, int]:  # name -> inode: a rewrite renames a new file in
        return {p.name: p.stat().st_ino for p in private_findings_cache.glob("*.json")}

    written = entries()
    # check writes packs, and the answers of the project scans it asked
    assert all(name.endswith((".pack.json", ".scan.json")) for name in written)
    stored = [json.loads((private_findings_cache / n).read_text())["entries"]
              for n in written if n.endswith(".pack.json")]
    assert sum(map(len, stored)) == 4
    out = subprocess.run(
        [sys.executable, "-m", "flake8", "-j", "2", "--select=CSF", str(package)],
        capture_output=True, text=True,
    )  # fmt: skip
    got = sorted(" ".join(line.split(" ")[:2]) for line in out.stdout.splitlines())
    assert got == printed
    # every file's findings came from check's entries, every scan's answer from its
    assert entries() == written


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_each_flake8_process_writes_its_entries_into_the_pack_once_as_it_ends(
    tmp_path: Path, private_findings_cache: Path, jobs: str
) -> None:
    """No file per source file: each process (-j 2: each worker, -j 1: flake8 itself)
    merges what it computed into the project's pack as it ends, keeping its siblings'
    entries; the next run reads them all and writes nothing."""
    more = {f"more{n}": TASKS for n in range(6)}  # files enough for both workers
    package = _shop(tmp_path, utils=UTILS, tasks=TASKS, flows=FLOWS, **more)

    def run() -> list[str]:
        out = subprocess.run(
            [sys.executable, "-m", "flake8", "-j", jobs, "--select=CSF", str(package)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert out.stderr == ""
        return sorted(out.stdout.splitlines())

    first = run()
    assert any("CSF104" in line for line in first)
    written = packs(private_findings_cache)
    scans = {p.name: p.stat().st_ino for p in private_findings_cache.glob("*.scan.json")}
    # packs alone: no entry file per source file (the folder's lock, stamp and tmp/ aside,
    # and the answers of the project scans: one file a scan, not a source file)
    assert {p.name for p in private_findings_cache.iterdir()} - set(written) - set(scans) <= {
        "lock", "swept", "tmp"}
    # every file the pre-filter let through (the others mention no task or canvas)
    assert sorted(Path(p).name for p in pack_entries(private_findings_cache)) == sorted(
        ["flows.py", "tasks.py", *(f"{name}.py" for name in more)]
    )
    assert run() == first
    assert packs(private_findings_cache) == written  # nothing rewritten
    assert {p.name: p.stat().st_ino for p in private_findings_cache.glob("*.scan.json")} == scans


def test_a_new_run_in_one_process_writes_the_entries_of_the_last_one_first(
    tmp_path: Path, private_findings_cache: Path
) -> None:
    """A host running flake8 twice in one process: the second run's ``parse_options``
    writes what the first computed (its end), before its caches are dropped."""
    package = _shop(tmp_path, utils=UTILS, tasks=TASKS)
    Plugin.parse_options(argparse.Namespace())
    assert _plugin_codes(package / "tasks.py") == ["CSF104"]
    assert packs(private_findings_cache) == {}  # kept until the run ends
    Plugin.parse_options(argparse.Namespace())
    assert [Path(p).name for p in pack_entries(private_findings_cache)] == ["tasks.py"]


def test_an_opt_in_code_the_project_selects_runs_in_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _shop(tmp_path, tasks=TASKS, views=VIEWS, utils=UTILS)
    (tmp_path / "pyproject.toml").write_text('[tool.celery-safe]\nextend-select = ["CSF901"]\n')
    monkeypatch.chdir(tmp_path)
    join_outside = "shop/views.py:5:12: CSF901"
    assert join_outside in check(capsys, "shop")
    assert join_outside in flake8(tmp_path, "--select=CSF", "shop")
    assert join_outside not in flake8(tmp_path, "shop")  # flake8's default ignore list


def _plugin_codes(path: Path) -> list[str]:
    """The codes the plugin reports on ``path``, in this process, as flake8 calls it."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    found = Plugin(ast.parse(source), str(path), lines).run()
    return sorted({message.split()[0] for _, _, message, _ in found})


def test_files_of_two_projects_in_one_process_keep_their_own_tables(tmp_path: Path) -> None:
    """The plugin finds a folder's config once per run, not per file: files of two
    projects met in turn by one flake8 process still get each its project's table, and
    options set between files (as tests and hosts do) count from the next file on."""
    quiet, loud = tmp_path / "quiet", tmp_path / "loud"
    for root in (quiet, loud):
        root.mkdir()
        _shop(root, tasks=TASKS, views=VIEWS, utils=UTILS)
    (quiet / "pyproject.toml").write_text('[tool.celery-safe]\nignore = ["CSF104"]\n')
    Plugin.parse_options(argparse.Namespace())  # a new run
    for _ in range(2):
        assert _plugin_codes(quiet / "shop" / "tasks.py") == []
        assert _plugin_codes(loud / "shop" / "tasks.py") == ["CSF104"]
    assert _plugin_codes(loud / "shop" / "views.py") == []
    Plugin.named = ("CSF901",)  # as flake8 --extend-select=CSF901
    try:
        assert _plugin_codes(loud / "shop" / "views.py") == ["CSF901"]
        assert _plugin_codes(quiet / "shop" / "views.py") == ["CSF901"]
    finally:
        Plugin.named = ()
    assert _plugin_codes(loud / "shop" / "views.py") == []


def test_per_process_answers_are_found_before_flake8_forks_its_workers(
    private_findings_cache: Path,
) -> None:
    """flake8 calls ``parse_options`` in its main process, then forks the workers: what
    each worker's first file would look up once (the installed Celery, the cache's engine
    key) is found there, so the workers inherit it instead of each paying for it."""
    code = (
        "import argparse\n"
        "from celery_safe.celery_internals import _installed\n"
        "from celery_safe.lint.cache import engine_key\n"
        "from celery_safe.lint.front.flake8_plugin import Plugin\n"
        "before = (_installed.cache_info().currsize, engine_key.cache_info().currsize)\n"
        "Plugin.parse_options(argparse.Namespace())\n"
        "print(before, (_installed.cache_info().currsize, engine_key.cache_info().currsize))\n"
    )
    for cache, known in ((str(private_findings_cache), "(1, 1)"), ("off", "(1, 0)")):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "CELERY_SAFE_CACHE_DIR": cache},
        )  # fmt: skip
        assert out.stdout.split() == ["(0,", "0)", *known.split()]
