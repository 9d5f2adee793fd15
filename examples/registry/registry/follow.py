"""Follow a run from a terminal: one line each time its progress changes, until it ends.

    python -m registry run sync --wait
    run 3f2c1a9e  sync-all  queued — no worker is running; start one with `python -m
                            registry worker`
    run 3f2c1a9e  sync-all  running 4/8
    run 3f2c1a9e  sync-all  finished with 1 error  in 1.9 s

It reads what the web page and ``GET /runs/{id}`` read (:func:`registry.runs.observe_run`),
so it waits *outside* any task, polling the result backend; nothing is joined.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from sqlalchemy import Engine

from registry import runs

__all__ = ["follow_run", "progress_line"]


def progress_line(view: dict[str, Any]) -> str:
    """One line for a run as ``ObservedRun.as_json`` gives it."""
    parts = [f"run {view['id'][:8]}", view["action"], view["headline"]]
    parts += [f"{step['task'] or step['id']} {step['progress']['current']:g}/"
              f"{step['progress']['total']:g}" for step in view["trace"] if step["progress"]]
    if view["status"] != "running" and view["seconds"]:
        parts.append(f"in {view['seconds']:.1f} s")
    return "  ".join(parts)


def follow_run(
    engine: str | Engine, run_id: str, app: Celery, *, timeout: float,
    emit: Callable[[str], None] = print, interval: float = 0.25,
) -> dict[str, Any]:
    """Emit a progress line whenever it changes; return the run once it is no longer
    running (``TimeoutError`` after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        run = runs.get_run(engine, run_id)
        if run is None:
            raise LookupError(f"no run {run_id!r}")
        view = runs.observe_run(engine, run, app).as_json()
        line = progress_line(view)
        if line != last:
            emit(line)
            last = line
        if view["status"] != "running":
            return view
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still running after {timeout:g} s")
        time.sleep(interval)
