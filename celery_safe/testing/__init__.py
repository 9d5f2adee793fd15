"""Helpers for testing Celery code with celery-safe: real worker processes and more."""

from __future__ import annotations

from .guarded_worker import start_guarded_worker
from .worker_process import WorkerProcess, WorkerStartError

__all__ = ["WorkerProcess", "WorkerStartError", "start_guarded_worker"]
