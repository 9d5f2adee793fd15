"""The embedded result backend keeps a task's state and result consistent under races.

A task retried with no delay on a threads pool stores ``RETRY`` in one thread while its
next run stores ``SUCCESS`` in another. Celery 5.7's database backend reads the row,
then writes the state (forced) and only the columns that look changed: on SQLite, with
no row locks, a stale read let a late ``RETRY`` land on the new ``SUCCESS`` and keep
its return value — a row no reader can decode ("If the stored exception isn't an
instance of BaseException, it must be a dictionary"). CI met it once.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.backends.database import DatabaseBackend
from celery.exceptions import Retry
from celery.exceptions import TimeoutError as CeleryTimeoutError

import celery_safe.embedded
from celery_safe.embedded.backend import FORCED_QUERY, _unsettled

TASK_ID = "retried-task"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Celery]:
    app = Celery("results", set_as_current=False)
    celery_safe.embedded.configure(app, tmp_path)
    yield app
    app.close()


def _pause_after_reading(backend: Any, paused: threading.Event, go_on: threading.Event) -> None:
    """Make the calling thread's store stop right after it has read the row."""
    original = backend._update_result  # called with the row read, before writing it
    storing_thread = threading.current_thread()

    def update_result(task: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is storing_thread:
            paused.set()
            assert go_on.wait(10), "the test never let the paused store go on"
        return original(task, *args, **kwargs)

    backend._update_result = update_result


def test_a_late_retry_never_leaves_a_row_that_cannot_be_read(app: Celery) -> None:
    backend = app.backend
    retry = Retry("Retry in 0s", exc=KeyError("not yet"))
    backend.mark_as_retry(TASK_ID, retry)
    paused, go_on, success_stored = threading.Event(), threading.Event(), threading.Event()

    def late_retry() -> None:
        _pause_after_reading(backend, paused, go_on)
        backend.mark_as_retry(TASK_ID, retry)

    def next_run_succeeds() -> None:
        backend.mark_as_done(TASK_ID, 2)
        success_stored.set()

    retrying = threading.Thread(target=late_retry)
    retrying.start()
    assert paused.wait(10), "the retry store never read the row"
    succeeding = threading.Thread(target=next_run_succeeds)
    succeeding.start()
    # Unguarded, the SUCCESS lands now, under the paused store's stale read. Guarded,
    # it waits for the paused store's lock; either way, give it its chance first.
    success_stored.wait(1)
    go_on.set()
    retrying.join(15)
    succeeding.join(15)
    assert not retrying.is_alive() and not succeeding.is_alive()

    meta = backend.get_task_meta(TASK_ID)  # raised TypeError on the inconsistent row
    assert (meta["status"], meta["result"]) == ("SUCCESS", 2)


def test_stores_of_many_threads_end_in_the_last_ready_state(app: Celery) -> None:
    backend = app.backend
    retry = Retry("Retry in 0s", exc=KeyError("not yet"))
    ids = [f"task-{n}" for n in range(8)]
    for task_id in ids:
        backend.mark_as_retry(task_id, retry)

    def store(task_id: str) -> None:
        for _ in range(5):
            backend.mark_as_retry(task_id, retry)
        backend.mark_as_done(task_id, task_id.upper())

    def late_retries(task_id: str) -> None:
        for _ in range(10):
            backend.mark_as_retry(task_id, retry)

    threads = [threading.Thread(target=store, args=(i,)) for i in ids]
    threads += [threading.Thread(target=late_retries, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for task_id in ids:
        meta = backend.get_task_meta(task_id)
        # A RETRY stored after the SUCCESS is ignored, as Celery documents.
        assert (meta["status"], meta["result"]) == ("SUCCESS", task_id.upper())


@pytest.mark.parametrize("store", ["direct", "celery"])
@pytest.mark.parametrize("end", ["FAILURE", "REVOKED", "SUCCESS"])
def test_a_late_non_terminal_state_never_replaces_a_terminal_one(
    app: Celery, end: str, store: str
) -> None:
    """Reproduces: a late RETRY replaced a FAILURE (a SUCCESS was kept): the failure and
    its traceback were lost, the task read RETRY for ever. A task that ended stays ended:
    a late RETRY, STARTED or PENDING store changes nothing, on the direct store and on
    Celery's own (what runs on a table of an older shape) alike; a later end of the same
    id still replaces a FAILURE or REVOKED, as in Celery."""
    backend = app.backend
    if store == "celery":
        backend._store_row = lambda *args: False  # Celery's own ORM store runs
    task_id = f"ended-{end.lower()}"
    retry = Retry("Retry in 0s", exc=KeyError("not yet"))
    if end == "FAILURE":
        backend.mark_as_failure(task_id, ValueError("attempt 2 failed"), traceback="tb 2")
    elif end == "REVOKED":
        backend.mark_as_revoked(task_id, "revoked by hand")
    else:
        backend.mark_as_done(task_id, 42)
    ended = backend.get_task_meta(task_id, cache=False)
    backend.mark_as_retry(task_id, retry, traceback="tb 1")
    backend.mark_as_started(task_id)
    backend.store_result(task_id, None, "PENDING")
    backend.store_result(task_id, {"done": 1}, "PROGRESS")  # a custom state
    meta = backend.get_task_meta(task_id, cache=False)
    assert (meta["status"], meta["traceback"]) == (end, ended["traceback"])
    assert repr(meta["result"]) == repr(ended["result"])
    backend.mark_as_done(task_id, 7)  # the same id run again, to its end
    assert backend.get_task_meta(task_id, cache=False)["result"] == (
        42 if end == "SUCCESS" else 7)


# -- a client waiting in get() ---------------------------------------------------------

STORE = """
import sys
from celery import Celery
import celery_safe.embedded
app = celery_safe.embedded.configure(Celery("writer"), sys.argv[1])
app.backend.store_result(sys.argv[2], 42, "SUCCESS")
"""


FAIL = """
import sys
from celery import Celery
import celery_safe.embedded
app = celery_safe.embedded.configure(Celery("writer"), sys.argv[1])
app.backend.mark_as_failure(sys.argv[2], ValueError("attempt 2 failed"), traceback="tb 2")
"""


def test_a_store_of_another_process_is_read_at_once_and_kept(
    app: Celery, tmp_path: Path
) -> None:
    """The retry race across processes, as on a worker: this process has read the task
    (its pooled connection is warm), another stores the next attempt's FAILURE, this
    one stores its late RETRY. Each read sees the last commit (no read transaction is
    left open on a pooled connection, on Celery's read before 5.7 or the direct one),
    and the late RETRY changes nothing."""
    backend = app.backend
    backend.mark_as_started(TASK_ID)
    for _ in range(3):
        assert backend.get_task_meta(TASK_ID, cache=False)["status"] == "STARTED"
    done = subprocess.run([sys.executable, "-c", FAIL, str(tmp_path), TASK_ID],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    failed = backend.get_task_meta(TASK_ID, cache=False)
    assert (failed["status"], failed["traceback"]) == ("FAILURE", "tb 2")
    backend.mark_as_retry(TASK_ID, Retry("Retry in 0s", exc=KeyError("not yet")))
    meta = backend.get_task_meta(TASK_ID, cache=False)
    assert (meta["status"], repr(meta["result"])) == (
        "FAILURE", repr(ValueError("attempt 2 failed")))


def test_a_waiting_client_is_rung_by_a_store_in_another_process(
    app: Celery, tmp_path: Path
) -> None:
    """The client waits on a doorbell beside ``results.sqlite``; a store elsewhere rings it."""
    wake = Path(f"{tmp_path / 'results.sqlite'}.wake")
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(app.AsyncResult("rung").get(timeout=60)))
    waiter.start()
    deadline = time.monotonic() + 60
    while not (wake.is_dir() and any(wake.iterdir())):  # its doorbell is bound
        assert time.monotonic() < deadline, "the client never made its doorbell"
        time.sleep(0.01)
    done = subprocess.run([sys.executable, "-c", STORE, str(tmp_path), "rung"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    waiter.join(60)
    assert got == [42]
    assert list(wake.iterdir()) == [], "the doorbell outlived the wait"


def test_a_quiet_wait_queries_the_results_file_only_while_it_may_change(
    app: Celery, tmp_path: Path
) -> None:
    """Before: a query every 0.5 s (most of a waiting client's CPU); now the file's size
    and time, and a query only after a change (or every ``FORCED_QUERY`` seconds)."""
    backend = app.backend
    backend.store_result("other", 1, "SUCCESS")  # the file and its WAL exist
    an_hour_ago = time.time() - 3600  # settled: no later write can share their times
    for name in ("results.sqlite", "results.sqlite-wal"):
        os.utime(tmp_path / name, (an_hour_ago, an_hour_ago))
    queries = 0
    original = backend.get_task_meta

    def counted(task_id: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal queries
        queries += 1
        return original(task_id, *args, **kwargs)

    backend.get_task_meta = counted
    with pytest.raises(CeleryTimeoutError):
        app.AsyncResult("never").get(timeout=3)
    assert FORCED_QUERY > 3
    assert queries <= 2, f"{queries} queries in a 3 s wait on an unchanged file"


def test_a_file_changed_just_before_a_look_is_unsettled() -> None:
    now = time.time_ns()
    assert _unsettled((10, now, -1, -1), now) and _unsettled(None, now)
    assert not _unsettled((10, now - 2 * 10**9, 20, now - 10**9), now)


# -- the direct store writes the row Celery's ORM store writes --------------------------


_REQUEST = SimpleNamespace(
    id="stored-task", task="bench.add", args=(1, 2), kwargs={"a": 1}, hostname="worker-1",
    retries=2, delivery_info={"routing_key": "q"}, group=None, chord=None, parent_id=None,
    root_id=None, errbacks=None, children=[], stamped_headers=["stamp"], stamp="value",
    ignore_result=False,
)


def _rows(directory: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(directory / "results.sqlite") as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM celery_taskmeta ORDER BY task_id")]
    for row in rows:
        row["date_done"] = row["date_done"] is not None  # the time differs; set or not
    return rows


def _stored_rows(directory: Path, *, extended: bool, orm: bool) -> list[list[dict[str, Any]]]:
    """The table after each store of a sequence, by the direct store or Celery's."""
    app = Celery("rows", set_as_current=False)
    celery_safe.embedded.configure(app, directory)
    app.conf.result_extended = extended
    backend = app.backend
    if orm:
        backend._store_row = lambda *args: False  # Celery's own ORM store runs
    stores: list[Callable[[], Any]] = [
        lambda: backend.mark_as_started("t1", pid=1),
        lambda: backend.mark_as_retry("t1", Retry("r", exc=KeyError("k")), request=_REQUEST),
        lambda: backend.mark_as_done("t1", {"v": [1, 2]}, request=_REQUEST),
        lambda: backend.mark_as_failure("t2", ValueError("bad"), request=_REQUEST),
        lambda: backend.mark_as_done("t2", 5, request=_REQUEST),
        lambda: backend.mark_as_done("t2", 6, request=_REQUEST),  # after SUCCESS: ignored
    ]
    tables = []
    for store in stores:
        store()
        tables.append(_rows(directory))
    plain = DatabaseBackend(app=app, url=f"sqlite:///{directory / 'results.sqlite'}")
    assert [(plain.get_task_meta(t)["status"], plain.get_task_meta(t)["result"])
            for t in ("t1", "t2")] == [("SUCCESS", {"v": [1, 2]}), ("SUCCESS", 5)]
    for task_id in ("t1", "t2", "never-stored"):  # the direct read: what Celery's reads
        assert backend._get_task_meta_for(task_id) == plain._get_task_meta_for(task_id)
    app.close()
    return tables


@pytest.mark.parametrize("extended", [False, True])
def test_the_direct_store_writes_the_row_celerys_store_writes(
    tmp_path: Path, extended: bool
) -> None:
    direct = _stored_rows(tmp_path / "direct", extended=extended, orm=False)
    orm = _stored_rows(tmp_path / "orm", extended=extended, orm=True)
    assert direct == orm and len(direct[-1]) == 2
