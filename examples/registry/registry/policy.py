"""How enhancement treats a provider: retries with backoff and jitter, a rate, time limits.

A provider is a remote model in a real deployment: it goes down, rate-limits, times out.
``enhance_bundle`` retries those errors (:data:`registry.enhance.TRANSIENT_ERRORS`) with
exponential backoff, at most ``max_retries`` times, then records the bundle ``failed``
with the last error. Every value can be set from the environment (``REGISTRY_ENHANCE_*``),
read when the worker imports the tasks.

The jitter is derived from the task id and the attempt number instead of drawn at
random: many bundles failing together still spread their retries (their ids differ),
while one attempt's delay is reproducible in logs and tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping

__all__ = ["EnhancePolicy"]


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    value = float(text)
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{name} must be a number >= 0, not {text!r}")
    return value


@dataclasses.dataclass(frozen=True)
class EnhancePolicy:
    """The enhancement task's retry, rate and time settings."""

    max_retries: int = 4
    #: Seconds before the first retry; each further retry waits up to twice as long.
    backoff: float = 2.0
    backoff_max: float = 300.0
    #: Celery's per-worker rate: a worker starts at most this many calls. Set it to the
    #: provider's quota (``"60/m"``); the default only keeps a runaway loop in check.
    rate_limit: str | None = "100/s"
    #: The provider call is interrupted after this (``SoftTimeLimitExceeded``; prefork
    #: pool only) and the bundle is marked failed; the process is killed after ``time_limit``.
    soft_time_limit: float = 60.0

    @property
    def time_limit(self) -> float:
        """The hard limit: the soft one plus time to write the failure."""
        return self.soft_time_limit + 15.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EnhancePolicy:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            max_retries=int(_number(env, "REGISTRY_ENHANCE_MAX_RETRIES", default.max_retries)),
            backoff=_number(env, "REGISTRY_ENHANCE_BACKOFF", default.backoff),
            backoff_max=_number(env, "REGISTRY_ENHANCE_BACKOFF_MAX", default.backoff_max),
            rate_limit=env.get("REGISTRY_ENHANCE_RATE_LIMIT", default.rate_limit) or None,
            soft_time_limit=_number(
                env, "REGISTRY_ENHANCE_SOFT_TIME_LIMIT", default.soft_time_limit
            ),
        )

    def retry_delay(self, task_id: str, retries: int) -> float:
        """Seconds before retry number ``retries + 1`` of task ``task_id``.

        Exponential with "equal jitter": half of ``backoff * 2**retries`` (capped at
        ``backoff_max``) for sure, the other half scaled by a fraction fixed by the
        task id and attempt.
        """
        ceiling = min(self.backoff_max, self.backoff * 2.0 ** min(retries, 32))
        digest = hashlib.sha256(f"{task_id}:{retries}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2.0**64
        return ceiling / 2 + ceiling / 2 * fraction
