"""Test tasks for the workflow tests, on an app made per configuration.

``make_app(conf)`` builds a fresh Celery app with the same task names every time, so
the test process and a real worker (``wf_worker.py``, configured from the environment)
agree on names while each test picks its own broker and backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from celery import Celery

import celery_safe

#: Environment variable carrying the app's configuration (JSON) into a worker process.
CONFIG_ENV = "CELERY_SAFE_WF_CONFIG"
#: A setting naming a file where the ``note*`` tasks append what they were called with:
#: how a test sees a chord body or an error callback run on a worker (their results are
#: not always stored, and an error callback's never is).
NOTES = "celery_safe_test_notes"

IN_MEMORY = {"result_backend": "cache+memory://", "broker_url": "memory://"}


@contextlib.contextmanager
def open_db() -> Iterator[dict[str, int]]:
    yield {"opened": 1}


def make_app(conf: dict[str, Any] | None = None, name: str = "wf") -> SimpleNamespace:
    """An app and its tasks: ``t = make_app(); t.add.s(1, 2)``; ``t.app`` is the app."""
    app = Celery(name, set_as_current=False)
    app.conf.update(IN_MEMORY if conf is None else conf)
    celery_safe.guard(app)

    @app.task(shared=False, name="wf.add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(shared=False, name="wf.inc")
    def inc(x: int) -> int:
        return x + 1

    @app.task(shared=False, name="wf.const")
    def const() -> int:
        return 1

    @app.task(shared=False, name="wf.tsum")
    def tsum(numbers: list[int]) -> int:
        return sum(numbers)

    @app.task(shared=False, name="wf.count")
    def count(items: list[Any]) -> int:
        return len(items)

    @app.task(shared=False, name="wf.pair")
    def pair(x: int) -> tuple[int, int]:
        return (x, x)

    @app.task(shared=False, name="wf.collect")
    def collect(*items: Any) -> list[Any]:
        return list(items)

    @app.task(shared=False, name="wf.scale")
    def scale(x: int, *, factor: int) -> int:
        return x * factor

    @app.task(shared=False, name="wf.bound_add", bind=True)
    def bound_add(self: Any, x: int, y: int = 0) -> int:
        return x + y

    @celery_safe.task(app, shared=False, name="wf.with_db", resources={"db": open_db})
    def with_db(x: int, *, db: dict[str, int]) -> int:
        return x + db["opened"]

    @celery_safe.task(
        app, shared=False, name="wf.bound_with_db", bind=True, resources={"db": open_db}
    )
    def bound_with_db(self: Any, x: int, scale: int = 1, *, db: dict[str, int]) -> int:
        return (x + db["opened"]) * scale

    @app.task(shared=False, name="wf.quiet", ignore_result=True)
    def quiet(x: int) -> int:
        return x

    @app.task(shared=False, name="wf.fail")
    def fail(x: int) -> int:
        raise ValueError(f"failed on {x}")

    @app.task(shared=False, name="wf.on_error")
    def on_error(request: Any, exc: BaseException, traceback: Any) -> str:
        return f"{request.id}: {exc}"

    @app.task(shared=False, name="wf.on_error_id")
    def on_error_id(task_id: str) -> str:
        return task_id

    @app.task(shared=False, name="wf.bad_errback")
    def bad_errback(request: Any, exc: BaseException) -> None:
        return None

    @app.task(shared=False, name="wf.joins")
    def joins(x: int) -> int:
        return int(add.delay(x, x).get(timeout=1))  # noqa: CSF101 (deliberate)

    @app.task(shared=False, name="wf.builds_broken_chain")
    def builds_broken_chain() -> None:
        from celery_safe.workflows import chain

        chain(const.si(), const.s()).delay()

    @app.task(shared=False, name="wf.store_yaml_data_task")
    def store_yaml_data_task() -> str:
        return "stored"

    @app.task(shared=False, name="wf.clone_repositories_task")
    def clone_repositories_task(collection_slugs: list[str] | None = None) -> list[str]:
        return list(collection_slugs or [])

    @app.task(shared=False, name="wf.parse_stored_data_task")
    def parse_stored_data_task() -> int:
        return 3

    @app.task(shared=False, name="wf.with_progress", bind=True)
    def with_progress(self: Any, x: int) -> int:
        """Reports its progress (a PROGRESS state) before it finishes: a chord part too."""
        celery_safe.report_progress(self, 1, 2, stage="halfway")
        return x

    @app.task(shared=False, name="wf.fan_out", bind=True)
    def fan_out(self: Any, n: int) -> Any:
        """Replaces itself with a chord summing ``inc(i)`` for i < n (Task.replace)."""
        from celery import chord

        return self.replace(chord([inc.s(i) for i in range(n)], tsum.s()))

    @app.task(shared=False, name="wf.slow_inc")
    def slow_inc(x: int, delay: float) -> int:
        time.sleep(delay)
        return x + 1

    @app.task(shared=False, name="wf.regroup", bind=True)
    def regroup(self: Any, n: int) -> Any:
        """Replaces itself with ``group(inc(i) for i < n)`` (Task.replace with a group)
        whose first member finishes last: its results arrive out of order."""
        from celery import group

        return self.replace(group(slow_inc.s(i, 0.0 if i else 1.5) for i in range(n)))

    @app.task(shared=False, name="wf.flaky", bind=True, max_retries=5)
    def flaky(self: Any, times: int) -> int:
        """Retries itself ``times`` times a second apart, then returns how often it retried.

        Not ``countdown=0``: Celery sends the retry before the failed attempt stores RETRY,
        so with two pool processes the next attempt can finish first and the late RETRY
        then overwrites its SUCCESS (seen on Redis in 2 of 4 runs: the state stays RETRY).
        """
        if self.request.retries < times:
            raise self.retry(exc=ConnectionError(f"attempt {self.request.retries}"),
                             countdown=1)
        return int(self.request.retries)

    @app.task(shared=False, name="wf.retry_now", bind=True, max_retries=1)
    def retry_now(self: Any) -> int:
        """Retries once at once (``countdown=0``), then returns its attempt: the retry
        race's task (``wf_hold`` makes it lose the race every time)."""
        if not self.request.retries:
            raise self.retry(exc=ConnectionError("first attempt"), countdown=0)
        return int(self.request.retries)

    @app.task(shared=False, name="wf.retry_then_fail", bind=True, max_retries=1)
    def retry_then_fail(self: Any) -> int:
        """Retries once at once (``countdown=0``), then fails: the retry race's task
        when the retry fails."""
        if not self.request.retries:
            raise self.retry(exc=ConnectionError("first attempt"), countdown=0)
        raise ValueError(f"attempt {self.request.retries} failed")

    @app.task(shared=False, name="wf.retry_later", bind=True)
    def retry_later(self: Any) -> None:
        """Retries in an hour: its state stays RETRY while a worker holds the next try."""
        raise self.retry(exc=TimeoutError("the service is busy"), countdown=3600)

    @app.task(shared=False, name="wf.outlive")
    def outlive(task_id: str, release: str) -> int:
        """A chord part that ends only once ``task_id`` has stored its result, that
        result is gone again (expired on Redis; deleted by ``backend.cleanup()`` on a
        database) and the file ``release`` exists: a part that outlives its sibling's
        result for as long as a test needs, without a guess at how long that takes."""
        for gone in (False, True):
            while (app.backend.get_task_meta(task_id, cache=False)["status"]
                   == "PENDING") is not gone:
                time.sleep(0.05)
        while not os.path.exists(release):
            time.sleep(0.05)
        return 0

    @app.task(shared=False, name="wf.note")
    def note(items: list[Any]) -> list[Any]:
        """A chord body that says it ran, and with what."""
        _note(app, "body", items)
        return items

    @app.task(shared=False, name="wf.note_error")
    def note_error(request: Any, exc: BaseException, traceback: Any) -> None:
        """An error callback called as ``(request, exc, traceback)``."""
        _note(app, "errback", [request.id, type(exc).__name__, traceback is not None])

    @app.task(shared=False, name="wf.note_error_id")
    def note_error_id(task_id: str) -> None:
        """An error callback sent as a task with the failed task's id."""
        _note(app, "errback_id", [task_id])

    @app.task(shared=False, name="wf.note_anything")
    def note_anything(*args: Any) -> None:
        """An error callback that takes whatever it is given (Celery calls it in-process,
        as ``(request, exc, traceback)``, unless it is immutable)."""
        _note(app, "errback_any", [type(a).__name__ for a in args])

    @app.task(shared=False, name="wf.note_args")
    def note_args(*args: Any) -> None:
        """An error callback taking only ``*args``: where its partial arguments land."""
        _note(app, "errback_args", _shown(args))

    @app.task(shared=False, bind=True, name="wf.note_args_bound")
    def note_args_bound(self: Any, *args: Any) -> None:
        """The same, bound: Celery sends it as a task with the failed task's id first."""
        _note(app, "errback_args_bound", _shown(args))

    @app.task(shared=False, name="wf.note_id_and")
    def note_id_and(task_id: str, extra: str) -> None:
        """An error callback taking the failed task's id and one argument of its own:
        Celery 5.7 counts its partial argument before choosing how to call it."""
        _note(app, "errback_id_and", [task_id, extra])

    return SimpleNamespace(**{k: v for k, v in locals().items() if k != "conf"})


def _shown(args: tuple[Any, ...]) -> list[str]:
    """Arguments as a note: short strings as they are, anything else by its type."""
    return [a if isinstance(a, str) and len(a) < 80 else type(a).__name__ for a in args]


def _note(app: Celery, kind: str, value: Any) -> None:
    path = app.conf.get(NOTES)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps([kind, value]) + "\n")


def read_notes(path: str | os.PathLike[str]) -> list[list[Any]]:
    """What the ``note*`` tasks wrote to ``path``, in order."""
    try:
        with open(path, encoding="utf-8") as notes:
            text = notes.read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line]


def app_from_env() -> Celery:
    """The app a worker process runs: configured from ``CELERY_SAFE_WF_CONFIG``."""
    raw = os.environ.get(CONFIG_ENV)
    conf = json.loads(raw) if raw else None
    app: Celery = make_app(conf).app
    return app
