"""``validate_schedule``: beat's entries checked by the canvas model before beat runs
them, and ``check_schedule_on_beat`` stopping a real ``celery beat`` process."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.schedules import crontab
from wf_tasks import make_app

from celery_safe.workflows import validate_schedule


@pytest.fixture
def t() -> SimpleNamespace:
    return make_app()


def _problems(t: SimpleNamespace, schedule: dict[str, Any]) -> list[tuple[str, str]]:
    t.app.conf.beat_schedule = schedule
    return [(p.code, p.where) for p in validate_schedule(t.app)]


def test_a_good_schedule_is_clean(t: SimpleNamespace) -> None:
    schedule = {
        "every-minute": {"task": "wf.add", "schedule": 60, "args": (1, 2)},
        "hourly": {"task": "wf.inc", "schedule": timedelta(hours=1), "kwargs": {"x": 1}},
        "nightly": {
            "task": "wf.const",
            "schedule": crontab(hour=3, minute=0),
            "options": {"queue": "slow", "priority": 9, "expires": 600, "countdown": 5},
        },
    }
    assert _problems(t, schedule) == []


def test_a_missing_task_says_what_it_may_have_meant(t: SimpleNamespace) -> None:
    t.app.conf.beat_schedule = {"sum": {"task": "wf.ad", "schedule": 10, "args": (1, 2)}}
    (problem,) = validate_schedule(t.app)
    assert (problem.code, problem.where) == ("CSF206", "beat_schedule.sum")
    assert "did you mean 'wf.add'" in problem.message


@pytest.mark.parametrize(
    ("entry", "code", "words"),
    [
        ({"task": "wf.add", "schedule": 10, "args": (1,)}, "CSF205", "missing required"),
        ({"task": "wf.const", "schedule": 10, "args": (1,)}, "CSF205", "at most 0"),
        ({"task": "wf.add", "schedule": 10, "args": ({1}, 2)}, "CSF207", "set"),
        ({"task": "wf.add", "schedule": "6h", "args": (1, 2)}, "CSF213", "'schedule' must"),
        ({"task": "wf.add", "schedule": 0, "args": (1, 2)}, "CSF213", "positive"),
        ({"task": "wf.add", "schedule": 10, "args": 1}, "CSF213", "'args' must"),
        ({"task": "wf.add", "schedule": 10, "args": (1, 2), "options": {"prio": 1}},
         "CSF213", "no option 'prio'"),
        ({"task": "wf.add", "schedule": 10, "args": (1, 2), "options": {"priority": 900}},
         "CSF213", "0 to 255"),
        ({"task": "wf.add", "args": (1, 2)}, "CSF213", "no 'schedule'"),
        ({"schedule": 10}, "CSF213", "'task' must"),
        ({"task": "wf.add", "schedule": 10, "arg": (1, 2)}, "CSF213", "unknown key"),
        ("wf.add", "CSF213", "must be a mapping"),
    ],
)
def test_each_wrong_entry_is_named(
    t: SimpleNamespace, entry: Any, code: str, words: str
) -> None:
    t.app.conf.beat_schedule = {"job": entry}
    problems = validate_schedule(t.app)
    assert [(p.code, p.where) for p in problems] == [(code, "beat_schedule.job")]
    assert words in problems[0].message


BEAT_APP = """\
from celery import Celery

from celery_safe.workflows import check_schedule_on_beat

app = Celery("beatcheck", broker="memory://")


@app.task(name="beatcheck.tick")
def tick():
    return 1


app.conf.beat_schedule = {{"tick": {{"task": "{task}", "schedule": 1.0}}}}
check_schedule_on_beat(app)
"""


#: Generous: under load a beat process took more than 8 s to refuse (a fixed 8 s wait
#: failed in a loaded run, after beat had logged CSF206 and before it had exited).
BEAT_DEADLINE = 120.0
#: What beat logs when it sends an entry: it got past ``beat_init`` (the check) and runs.
SENT_TICK = "Sending due task tick (beatcheck.tick)"


def _beat(tmp_path: Path, task: str) -> tuple[int | None, str]:
    """Start ``celery beat`` on a one-entry schedule; its exit code (None: it was still
    running when it sent the entry, and was stopped) and its output. Waits for either,
    never a fixed time."""
    (tmp_path / "beatcheck.py").write_text(BEAT_APP.format(task=task))
    argv = [sys.executable, "-m", "celery", "-A", "beatcheck", "beat", "-l", "info",
            "-s", str(tmp_path / "schedule")]
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(argv, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + BEAT_DEADLINE
        while beat.poll() is None and SENT_TICK not in log.read_text(errors="replace"):
            assert time.monotonic() < end, f"beat neither exited nor sent the entry in " \
                f"{BEAT_DEADLINE:g} s:\n{log.read_text(errors='replace')}"
            time.sleep(0.05)
        code = beat.poll()
    finally:
        if beat.poll() is None:
            beat.terminate()
            beat.wait(30)
    return code, log.read_text(errors="replace")


@pytest.mark.worker
def test_beat_refuses_to_start_with_a_missing_task(tmp_path: Path) -> None:
    code, output = _beat(tmp_path, "beatcheck.tikc")
    assert code not in (0, None), output
    assert "CSF206" in output and "did you mean 'beatcheck.tick'" in output


@pytest.mark.worker
def test_beat_runs_a_good_schedule(tmp_path: Path) -> None:
    code, output = _beat(tmp_path, "beatcheck.tick")
    assert code is None and SENT_TICK in output, output  # running, past the check
    assert "CSF" not in output
