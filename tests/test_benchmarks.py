"""Every benchmark stays runnable: each runs at a tiny size and prints its figures.

Figures are read by people, never asserted (timings on a shared machine are noise): a
script may exit 1 when a ratio misses its target, which only a full-size run means.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

#: script -> (tiny-size arguments, lines its output must hold).
SMOKE: dict[str, tuple[list[str], list[str]]] = {
    "task_overhead.py": (["--calls", "20", "--rounds", "2"], [
        "celery_safe.task             [plain  ] / app.task",
        "celery_safe.task + resource  [plain  ] / app.task + with session()",
        "app.task                     [guarded] / app.task                   [plain]",
        "a join outside tasks pays",
        "a join inside a task is refused in",
    ]),
    "workflow_validation.py": (["--rounds", "2", "--chord", "20", "--chain", "5"], [
        "chord of 20 signatures", "chain of 5 links",
    ]),
    "lint_speed.py": (["--runs", "1", "--packages", "vine", "--project", "vine",
                       "--large-size", "100000"], [
        "corpus: vine", "(a) flake8  CPU", "plugin run() alone",
        "imports the plugin and its engine: ", "s CPU from bytecode", "s compiled from source",
        "(b) CPU, a process per round, imports done: read + ast.parse", "imports its CLI once",
        "(d) this tree: check 6 files  CPU: first (empty cache)",
    ]),
    "cache_scale.py": (["--base", "HEAD", "--entries", "1500", "--runs", "1"], [
        "HEAD: cache of 1500 entries", "this tree: cache of 1500 entries",
        "one-file check, min / median of 1 rounds", "large, miss: wall", "large, hit: wall",
    ]),
    "embedded_vs_redis.py": (["--repeat", "1", "--drain", "20", "--idle", "1"], [
        "one task ms", "3-link chain ms", "20-task chord ms", "drain tasks/s",
    ]),
    "fix_speed.py": (["--tiny"], ["(a)", "(b)", "(c)", "(d)", "(e)", "100 CSF104"]),
    "lint_corpus.py": (["vine"], ["vine: ", "0 internal error(s)"]),
    "registry_hostile.py": (["--tiny"], ["1,000 entries", "billion laughs", "/health p50"]),
    "registry_history.py": (["--bundles", "5", "--commits", "20", "--repeat", "1"], [
        "parse_collection (a sync's parse)", "bundle_last_commits", "task_growth is",
        "a re-run after 10 new commits", "37,493 months uncapped (before)",
    ]),
    "registry_pipeline.py": (["--sizes", "1x1", "--repeat", "1"], [
        "in-process baseline (no Celery)", "  embedded ", "  redis ",
    ]),
    "explain_cost.py": (["--parts", "2", "--rounds", "1"], [
        "embedded, 3 steps, finished", "embedded, 3 steps, queued, no worker",
    ]),
    "retry_race.py": (["--runs", "1"], [
        "redis     fails on its retry     countdown=0 ", "embedded  fails on its retry",
        "countdown=1 (baseline)",
    ]),
    "registry_search.py": (["--sizes", "20", "--repeat", "1"], [
        "20 bundles: stored in", "'EKS'", "full text", "LIKE",
    ]),
    "registry_admin.py": (["--sizes", "1x1", "--requests", "2"], [
        "admin API: one run of POST /admin/sync", "  1x1 ",
    ]),
    "lint_versus.py": (["--base", "HEAD", "--runs", "1", "--packages", "vine", "--flake8"], [
        "corpus: vine", "HEAD: read + ast.parse", "this tree: read + ast.parse",
        "this tree / HEAD: check", "(c) flake8 -j 1, CPU, cold cache, without the plugin",
        "HEAD: overhead min / median of 1 rounds", "this tree / HEAD, -j 1: flake8 CPU",
        "(c) flake8 default -j, CPU, cold cache", "this tree / HEAD, default -j: flake8 CPU",
    ]),
}


#: script -> the test that runs it end to end on data of its own.
RUN_ELSEWHERE = {"lint_precision.py": "tests/lint/test_corpus_benchmark.py"}
#: modules the benchmarks import (a worker's app), not benchmarks themselves
SUPPORT = {"embedded_bench_app.py"}


def test_every_benchmark_has_a_smoke_run() -> None:
    scripts = sorted(path.name for path in BENCHMARKS.glob("*.py") if path.name not in SUPPORT)
    assert sorted([*SMOKE, *RUN_ELSEWHERE]) == scripts
    for script, test in RUN_ELSEWHERE.items():
        assert script in (BENCHMARKS.parent / test).read_text()


#: a hang guard, 30x what the slowest tiny run takes on a busy 2-core machine: never a measure
HANG_GUARD = 600


@pytest.mark.worker  # several start worker processes
@pytest.mark.timeout(0)  # pytest-timeout's limit off: HANG_GUARD ends a stuck script instead
@pytest.mark.parametrize("script", sorted(SMOKE))
def test_benchmark_runs_at_a_tiny_size(script: str, celery_safe_redis_url: str) -> None:
    arguments, expected = SMOKE[script]
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        capture_output=True, text=True, timeout=HANG_GUARD,
    )
    assert run.returncode in (0, 1), run.stderr  # 1: a target missed at this size
    for line in expected:
        assert line in run.stdout, f"{line!r} missing from:\n{run.stdout}\n{run.stderr}"
    assert "skipped" not in run.stdout  # every row ran (Redis is there, as under CI)
