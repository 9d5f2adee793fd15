"""The registry example's ``legacy/`` package: what ``fix`` rewrites, what it leaves and why,
and one legacy orchestration run before and after the fix (eager, SQLite, no broker)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from celery_safe.lint.codemods.fixer import FixOptions
from celery_safe.lint.config import Config
from celery_safe.lint.front.fix_cli import fix_paths

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "examples" / "registry" / "legacy"
pytestmark = [
    pytest.mark.skipif(not LEGACY.is_dir(), reason="examples/registry/legacy not present"),
    pytest.mark.skipif(shutil.which("git") is None, reason="the legacy clone step needs git"),
]
pytest.importorskip("yaml", reason="the legacy registry reads collections.yaml with PyYAML")

#: Runs ``clone_repositories_task`` (a loop of ``.apply(...).get()``) eagerly, the way a
#: caller outside tasks starts it, and by a direct call, each from a clean checkout dir.
DRIVER = """
import json, os, shutil, sys
os.environ["LEGACY_REGISTRY_DB"] = sys.argv[2]
os.environ["LEGACY_REPOS_DIR"] = sys.argv[3]
import celery_safe
from legacy.celery_app import app
app.conf.update(task_always_eager=True, broker_url="memory://", result_backend="cache+memory://")
from legacy import registry_tasks
from legacy.storage import connect

conn = connect()
for slug in ("alpha", "beta"):
    entry = {"slug": slug, "git_url": sys.argv[4], "git_ref": "main"}
    conn.execute("INSERT OR REPLACE INTO collections VALUES (?, ?)", (slug, json.dumps(entry)))
conn.commit()

def checkouts():
    return sorted(p.name for p in __import__("pathlib").Path(sys.argv[3]).iterdir())

if sys.argv[1] == "guarded":
    celery_safe.guard(app)
task = registry_tasks.clone_repositories_task
shutil.rmtree(sys.argv[3], ignore_errors=True)
try:
    eager = task.delay(["alpha", "beta"]).get()
except Exception as exc:
    eager = f"{type(exc).__name__}: {exc}"
eager_dirs = checkouts() if os.path.isdir(sys.argv[3]) else []
shutil.rmtree(sys.argv[3], ignore_errors=True)
direct = task(["alpha", "beta"])
print(json.dumps({"eager": eager, "eager_dirs": eager_dirs, "direct": direct, "dirs": checkouts()}))
"""


def git_repository(path: Path) -> str:
    """A one-commit collection repository on branch main, cloned through file://."""
    bundle = path / "codebundles" / "k8s-restart"
    bundle.mkdir(parents=True)
    (bundle / "runbook.robot").write_text("*** Tasks ***\nRestart\n    Log    ok\n")
    names = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    env = {**dict.fromkeys(names, "t"), "PATH": os.environ.get("PATH", ""), "HOME": str(path)}
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", "-C", str(path), *command], check=True, env=env)
    return f"file://{path}"


def run_driver(package_parent: Path, mode: str, tmp_path: Path, url: str) -> dict[str, Any]:
    driver = tmp_path / f"driver_{mode}.py"
    driver.write_text(DRIVER)
    repos = tmp_path / "checkouts"
    done = subprocess.run(
        [sys.executable, str(driver), mode, str(tmp_path / f"{mode}.sqlite"), str(repos), url],
        cwd=package_parent, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": f"{package_parent}:{REPO}", "PATH": os.environ.get("PATH", "")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def fixed_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    before = tmp_path_factory.mktemp("before")
    after = tmp_path_factory.mktemp("after")
    for parent in (before, after):
        shutil.copytree(LEGACY, parent / "legacy", ignore=shutil.ignore_patterns("__pycache__"))
    summary = fix_paths([after / "legacy"], FixOptions(), Config(), write=True)
    return before, after, summary


def test_fix_rewrites_the_joins_it_can_and_explains_the_rest(
    fixed_copy: tuple[Path, Path, Any],
) -> None:
    _, after, summary = fixed_copy
    rewritten = {(Path(f.path).name, f.task) for r in summary.results for f in r.rewritten}
    assert rewritten >= {
        ("registry_tasks.py", "clone_repositories_task"),
        ("registry_tasks.py", "sync_collection_task"),
        ("registry_tasks.py", "populate_registry_task"),
        ("workflow_tasks.py", "nightly_task"),
    }
    left = {(Path(s.finding.path).name, s.finding.code, s.finding.task): s.reason
            for r in summary.results for s in r.remaining}  # fmt: skip
    assert "helper" in left["registry_tasks.py", "CSF104", "populate_registry_task"]
    assert "allow_join_result" in left["enhancement_tasks.py", "CSF103", "enhance_collection_task"]
    assert (
        "group, chord or chain"
        in left["workflow_tasks.py", "CSF101", "sync_collections_parallel_task"]
    )
    assert not summary.broken
    # the health checks' dict.get / Thread.join / str.join are not joins: byte-identical
    assert (after / "legacy" / "health_tasks.py").read_bytes() == (
        LEGACY / "health_tasks.py"
    ).read_bytes()
    # its callee reports FAILURE through self.update_state: no task id of its own in-process
    assert (
        "self.update_state"
        in left["enhancement_tasks.py", "CSF101", "enhance_pending_codebundles_task"]
    )
    again = fix_paths([after / "legacy"], FixOptions(), Config(), write=False)
    assert not again.changed


def test_legacy_clone_loop_runs_under_the_guard_after_the_fix(
    fixed_copy: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    before, after, _ = fixed_copy
    (tmp_path / "origin").mkdir()
    url = git_repository(tmp_path / "origin")
    legacy = run_driver(before, "plain", tmp_path, url)
    assert str(legacy["eager"]).startswith("RuntimeError: Never call result.get()")
    fixed = run_driver(after, "guarded", tmp_path, url)
    checkouts = str(tmp_path / "checkouts")
    expected = [{"slug": s, "path": f"{checkouts}/{s}"} for s in ("alpha", "beta")]
    assert fixed["eager"] == legacy["direct"] == expected
    assert fixed["eager_dirs"] == legacy["dirs"] == ["alpha", "beta"]
    assert fixed["direct"] == legacy["direct"]
