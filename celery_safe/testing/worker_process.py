"""Real Celery worker processes for integration tests and demos.

    with WorkerProcess("proj.celery_app", pool="prefork", concurrency=2, cwd=root) as worker:
        assert add.delay(1, 2).get(timeout=10) == 3

The worker is a separate ``celery worker`` process (not a thread in the test), so it
behaves exactly as in production: its own imports, its own pool, its own signals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["WorkerProcess", "WorkerStartError"]


class WorkerStartError(RuntimeError):
    """The worker exited or did not report ready in time; carries its log."""


class WorkerProcess:
    """A ``celery -A app worker`` subprocess, started ready and stopped cleanly."""

    def __init__(
        self,
        app: str,
        *,
        pool: str = "prefork",
        concurrency: int = 2,
        queues: Sequence[str] = (),
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        loglevel: str = "INFO",
        ready_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.pool = pool
        self.concurrency = concurrency
        self.hostname = f"w{uuid.uuid4().hex[:8]}@%h"
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self.ready_timeout = ready_timeout
        self.log_path = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
        self.command = [
            sys.executable, "-m", "celery", "-A", app, "worker",
            "-P", pool, "-c", str(concurrency), "-n", self.hostname,
            "-l", loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat",
            *(["-Q", ",".join(queues)] if queues else []),
            *extra_args,
        ]
        self.env = {**os.environ, **(env or {})}
        pythonpath = [str(self.cwd), *filter(None, [self.env.get("PYTHONPATH", "")])]
        self.env["PYTHONPATH"] = os.pathsep.join(pythonpath)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("worker not started")
        return self.process.pid

    def log_text(self) -> str:
        """Everything the worker logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> WorkerProcess:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WorkerStartError(
                    f"worker {self.app} exited with {self.process.returncode}:\n{self.log_text()}"
                )
            if " ready." in self.log_text():
                return self
            time.sleep(0.05)
        self.stop()
        raise WorkerStartError(
            f"worker {self.app} not ready in {self.ready_timeout}s:\n{self.log_text()}"
        )

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): a crash, not a shutdown."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        """Warm shutdown (SIGTERM to the main process, which stops its own pool), then
        SIGKILL to the whole group if it does not exit in ``timeout``."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
