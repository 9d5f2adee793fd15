"""CSF214 in ``validate``: a chord header part due longer after the one before it than
the Redis backend keeps the gathered results (``result_expires``); the premise is
measured by ``test_chord_header_part_due_after_result_expires_never_runs_the_body``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from celery import Celery, chord

from celery_safe.workflows import WorkflowError, validate
from celery_safe.workflows import chord as safe_chord


def make(backend: str = "redis://localhost:6379/0", **conf: Any) -> Celery:
    app = Celery("shop", set_as_current=False, broker="memory://", backend=backend)
    app.conf.update(conf)

    @app.task(shared=False, name="shop.export")
    def export(day: int) -> int:
        return day

    @app.task(shared=False, name="shop.merge")
    def merge(days: list[int]) -> int:
        return len(days)

    return app


@pytest.fixture
def app() -> Iterator[Celery]:
    yield make(result_expires=3600)


def codes(problems: list[Any]) -> list[tuple[str, str]]:
    return [(p.code, p.where) for p in problems]


def test_a_part_due_after_the_results_expire_is_reported(app: Celery) -> None:
    export, merge = app.tasks["shop.export"], app.tasks["shop.merge"]
    canvas = chord([export.s(1), export.s(2).set(countdown=2 * 3600)], merge.s())
    problems = validate(canvas)
    assert codes(problems) == [("CSF214", "chord.header[1]")]
    assert "due 7200 s after the part before it (0 s), longer than result_expires (3600 s)" in (
        problems[0].message)
    with pytest.raises(WorkflowError, match="CSF214"):
        safe_chord([export.s(1), export.s(2).set(countdown=2 * 3600)], merge.s())


def test_an_eta_counts_as_its_countdown(app: Celery) -> None:
    export, merge = app.tasks["shop.export"], app.tasks["shop.merge"]
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    canvas = chord([export.s(1), export.s(2).set(eta=later)], merge.s())
    assert codes(validate(canvas)) == [("CSF214", "chord.header[1]")]


@pytest.mark.parametrize(
    ("countdowns", "conf", "backend"),
    [
        ((0, 1800), {"result_expires": 3600}, "redis://"),  # within the expiry
        ((0, 3000, 6000), {"result_expires": 3600}, "redis://"),  # each gap within it
        ((7200, 7200), {"result_expires": 3600}, "redis://"),  # both late, together
        ((0, 7200), {}, "redis://"),  # the default: a day
        ((0, 7200), {"result_expires": None}, "redis://"),  # never expire
        ((0, 7200), {"result_expires": timedelta(hours=3)}, "redis://"),
        ((0, 7200), {"result_expires": 3600}, "db+sqlite://"),  # not measured: not judged
    ],
)
def test_quiet(countdowns: tuple[int, ...], conf: dict[str, Any], backend: str) -> None:
    app = make(backend, **conf)
    export, merge = app.tasks["shop.export"], app.tasks["shop.merge"]
    header = [export.s(i).set(countdown=c) if c else export.s(i) for i, c in enumerate(countdowns)]
    assert [p.code for p in validate(chord(header, merge.s())) if p.code == "CSF214"] == []


def test_ignored_when_asked(app: Celery) -> None:
    export, merge = app.tasks["shop.export"], app.tasks["shop.merge"]
    canvas = chord([export.s(1), export.s(2).set(countdown=7200)], merge.s())
    assert validate(canvas, ignore={"CSF214"}) == []
