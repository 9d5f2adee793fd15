"""What the join rules and CSF206 rely on, measured on a real prefork worker (Redis).

Celery's join-in-task check (``assert_will_not_block``) refuses, inside a task:
``~signature``/``~group``/``~chain`` (``Signature.__invert__`` is
``apply_async().get()``), ``ResultSet.join``, ``GroupResult.join_native``/``get``
(restored too), ``AsyncResult.wait``/``collect``/``get_leaf``, results taken from
``.results``/``.children`` (through ``zip`` too), ``get`` of the ``EagerResult`` of
``task.apply()`` or ``self.apply()``, and an eager ``chain.apply()``/``chord.apply()``
(they join inside); ``iter_native`` waits without the check; an eager ``group.apply()``
joins nothing; ``get`` of a result sent ignored returns ``None`` at once; a result
returned down a chain fails to encode (json) before the next step could join it. A beat
entry naming a task nobody registers is sent when due and dropped by the worker. The
linter is run on the very module the worker runs, so the two cannot drift."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from celery_safe.testing.worker_process import WorkerProcess

APP_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "joins_api"
TIMEOUT = 60.0
#: the Redis database these tests use (flushed first)
REDIS_DB = 8
WOULD_BLOCK = "Never call result.get() within a task!"

pytestmark = [pytest.mark.worker, pytest.mark.redis]

#: each task Celery's join-in-task check refuses, and the argument it is sent: one
#: number, or a list of them
REFUSED = {
    "inverts_a_signature": 3,
    "inverts_a_group": [1, 2],
    "inverts_a_chain": 3,
    "joins_a_result_set": [1, 2],
    "joins_natively": [1, 2],
    "gets_a_group_result": [1, 2],
    "gets_a_restored_group": [1, 2],
    "waits": 3,
    "collects": 3,
    "gets_a_leaf": 3,
    "gets_each_of_results": [1, 2],
    "gets_each_child": [1, 2],
    "gets_an_eager_result": 3,
    "applies_a_chain": 3,
    "applies_a_chord": [1, 2],
    "reapplies_itself": 3,
}


@pytest.fixture(scope="module")
def worker(request: pytest.FixtureRequest) -> Iterator[tuple[ModuleType, WorkerProcess]]:
    import redis

    url = f"{request.getfixturevalue('celery_safe_redis_url')}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    env = {"JOINS_API_URL": url, "JOINS_API_QUEUE": f"ja-{uuid.uuid4().hex[:8]}"}
    os.environ.update(env)
    sys.path.insert(0, str(APP_DIR))
    try:
        import joins_api_app

        with WorkerProcess(
            "joins_api_app", pool="prefork", concurrency=2, cwd=APP_DIR, env=env
        ) as process:
            yield joins_api_app, process
        joins_api_app.app.close()
    finally:
        sys.path.remove(str(APP_DIR))
        sys.modules.pop("joins_api_app", None)


@pytest.mark.parametrize("task", sorted(REFUSED))
def test_celery_refuses_the_join_inside_a_prefork_task(
    worker: tuple[ModuleType, WorkerProcess], task: str
) -> None:
    app, _ = worker
    sent = getattr(app, task).delay(REFUSED[task])
    error = sent.get(timeout=TIMEOUT, propagate=False)
    assert isinstance(error, RuntimeError), (task, error)
    assert WOULD_BLOCK in str(error)


def test_iter_native_waits_without_celerys_check(
    worker: tuple[ModuleType, WorkerProcess],
) -> None:
    # two pool processes: the one waiting, the other running what it waits for
    app, _ = worker
    assert app.iterates_natively.delay([1, 2]).get(timeout=TIMEOUT) == [2, 3]


def test_an_eager_group_joins_nothing(worker: tuple[ModuleType, WorkerProcess]) -> None:
    """``group.apply`` runs each member eagerly and joins none: no error in a task
    (``chain.apply`` and ``chord.apply`` do join, see ``REFUSED``)."""
    app, _ = worker
    assert app.applies_a_group.delay([1, 2]).get(timeout=TIMEOUT) == 2


@pytest.mark.parametrize("task", ["gets_an_ignored_result", "gets_a_result_sent_ignored"])
def test_the_get_of_an_ignored_result_returns_none_at_once(
    worker: tuple[ModuleType, WorkerProcess], task: str
) -> None:
    """``AsyncResult.get`` returns ``None`` before Celery's check when the result is
    ignored (the task's ``ignore_result=True``, or ``apply_async(ignore_result=True)``):
    no wait, no error (a wrong value, but not a join)."""
    app, _ = worker
    sent = getattr(app, task).delay(3)
    assert sent.get(timeout=TIMEOUT) is None
    assert sent.state == "SUCCESS"


def test_a_result_handed_down_a_chain_fails_to_encode_before_any_join(
    worker: tuple[ModuleType, WorkerProcess],
) -> None:
    """A task returning a ``GroupResult`` to the next step of a chain: with the default
    json serializer the next message cannot be encoded, so the chain fails there and the
    next step's ``get`` never runs (a join only under pickle)."""
    from celery import chain
    from kombu.exceptions import EncodeError

    app, _ = worker
    sent = chain(app.starts_a_group.s([1, 2]), app.joins_what_it_receives.s()).delay()
    with pytest.raises(EncodeError, match="GroupResult is not JSON serializable"):
        sent.get(timeout=TIMEOUT)
    assert sent.state == "FAILURE" and sent.parent.state == "FAILURE"


def test_the_linter_reports_each_refused_join(worker: tuple[ModuleType, WorkerProcess]) -> None:
    argv = [sys.executable, "-m", "celery_safe", "check", "--no-cache",
            str(APP_DIR / "joins_api_app.py")]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    by_line = {(code, int(line)) for line, code in re.findall(r"^.*?\.py:(\d+):\d+: (CSF\d{3}) ", out, re.M)}
    text = (APP_DIR / "joins_api_app.py").read_text().splitlines()
    for task in [*REFUSED, "iterates_natively"]:
        start = next(i for i, t in enumerate(text) if t.startswith(f"def {task}("))
        end = next((i for i in range(start + 1, len(text)) if text[i].startswith("@app")),
                   len(text))
        codes = {code for code, line in by_line if start < line <= end}
        assert codes & {"CSF101", "CSF105"}, (task, codes)
    for task in ("gets_an_ignored_result", "gets_a_result_sent_ignored", "joins_what_it_receives"):
        start = next(i for i, t in enumerate(text) if t.startswith(f"def {task}("))
        end = next((i for i in range(start + 1, len(text)) if text[i].startswith("@app")),
                   len(text))
        assert not {code for code, line in by_line if start < line <= end}, task
    entry = next(i for i, t in enumerate(text) if '"nightly":' in t) + 1
    assert ("CSF206", entry) in by_line, by_line


def test_beat_sends_an_entry_no_task_registers_and_the_worker_drops_it(
    worker: tuple[ModuleType, WorkerProcess],
) -> None:
    _, process = worker
    with tempfile.TemporaryDirectory(prefix="joins-api-beat-") as folder:
        log_path = Path(folder) / "beat.log"
        command = [
            sys.executable, "-m", "celery", "-A", "joins_api_app", "beat",
            "-s", str(Path(folder) / "schedule"), "--max-interval", "1", "-l", "INFO",
        ]
        env = {**os.environ, "PYTHONPATH": str(APP_DIR)}
        with log_path.open("wb") as log:
            beat = subprocess.Popen(command, cwd=APP_DIR, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + TIMEOUT
            seen = ""
            while time.monotonic() < deadline:
                seen = process.log_text()
                if "Received unregistered task of type 'joins_api_app.nightly_report'" in seen:
                    break
                assert beat.poll() is None, log_path.read_text()
                time.sleep(0.2)
            else:
                raise AssertionError(f"the worker never saw the entry:\n{seen}")
            sent = log_path.read_text()
        finally:
            beat.terminate()
            beat.wait(30)
    assert "Sending due task nightly (joins_api_app.nightly_report)" in sent
    assert "The message has been ignored and discarded." in seen
