"""Test-run policy for every suite of the repository (tests/ and examples/registry/tests).

Under ``CI`` (set by ``.ci/run``): hypothesis runs derandomized, so a run's examples
depend only on the code, never on the day; and a test that skips fails instead, so a
missing prerequisite (PostgreSQL, graphviz, Redis, RabbitMQ, an optional package) can
never turn a CI run green by not running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

CI = bool(os.environ.get("CI"))

settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
if CI:
    settings.load_profile("ci")


def _fail_skip(report: Any) -> None:
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where nothing may skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_skip(outcome.get_result())
