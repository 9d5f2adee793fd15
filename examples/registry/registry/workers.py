"""Start real ``celery worker`` processes (and optionally ``celery beat``) for the registry.

    with LocalWorkers(count=2) as workers:    # two worker processes, started in parallel
        run_pipeline(...)

The processes inherit this process's environment, so ``REGISTRY_HOME``,
``REGISTRY_BROKER_URL``... set by the CLI reach them. On several machines, run
``python -m registry worker --broker redis://...`` on each one instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from celery_safe.testing import WorkerProcess

__all__ = ["APP", "BeatProcess", "LocalWorkers", "worker_command"]

#: The Celery app every registry worker loads.
APP = "registry.celery_app"


def worker_command(
    *, concurrency: int = 2, pool: str = "prefork", loglevel: str = "INFO", beat: bool = False
) -> list[str]:
    """The ``celery worker`` command line ``python -m registry worker`` runs."""
    command = [
        sys.executable, "-m", "celery", "-A", APP, "worker",
        "-P", pool, "-c", str(concurrency), "-l", loglevel,
    ]
    if beat:
        command.append("--beat")
    return command


class BeatProcess:
    """``celery beat`` in its own process: sends the sync and health jobs on schedule."""

    def __init__(self, schedule_file: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_path = Path(tempfile.mkstemp(prefix="registry-beat-", suffix=".log")[1])
        self.command = [
            sys.executable, "-m", "celery", "-A", APP, "beat",
            "-s", str(schedule_file), "-l", "INFO",
        ]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BeatProcess:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class LocalWorkers:
    """``count`` worker processes on this machine, each with ``concurrency`` pool processes."""

    def __init__(
        self,
        count: int = 2,
        *,
        concurrency: int = 1,
        pool: str = "prefork",
        env: Mapping[str, str] | None = None,
        beat_schedule_file: Path | None = None,
        loglevel: str = "INFO",
    ) -> None:
        if count < 1:
            raise ValueError(f"LocalWorkers needs at least one worker, got count={count}")
        self.workers = [
            WorkerProcess(APP, pool=pool, concurrency=concurrency, env=env, loglevel=loglevel)
            for _ in range(count)
        ]
        self.beat = BeatProcess(beat_schedule_file, env) if beat_schedule_file else None

    @property
    def concurrency(self) -> int:
        """How many tasks can run at once across all the workers."""
        return sum(worker.concurrency for worker in self.workers)

    def start(self) -> LocalWorkers:
        """Start every worker at once and return when all of them are ready."""
        with ThreadPoolExecutor(max_workers=len(self.workers)) as starter:
            futures = [starter.submit(worker.start) for worker in self.workers]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            self.stop()
            raise errors[0]  # type: ignore[misc]
        if self.beat is not None:
            self.beat.start()
        return self

    def stop(self) -> None:
        """Warm-stop every worker at once (each finishes its current task first)."""
        if self.beat is not None:
            self.beat.stop()
        with ThreadPoolExecutor(max_workers=len(self.workers)) as stopper:
            list(stopper.map(lambda worker: worker.stop(), self.workers))

    def __enter__(self) -> LocalWorkers:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
