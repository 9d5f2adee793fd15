"""Helpers for testing Celery code with celery-safe: real worker processes and more."""

from __future__ import annotations

from .worker_process import WorkerProcess, WorkerStartError

__all__ = ["WorkerProcess", "WorkerStartError"]
