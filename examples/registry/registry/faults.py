"""Deterministic failure injection for the local provider: show retries on real workers.

    REGISTRY_ENHANCER_FAULTS="k8s-restart:2,aws-s3-audit:always"

makes the provider raise :class:`~registry.enhance.ProviderUnavailable` on the first two
calls for bundle ``k8s-restart`` and on every call for ``aws-s3-audit``; ``*`` names every
bundle (``*:1``: each bundle fails once). Bundles are named by their whole slug or by
``collection/slug``.

Calls are counted per bundle in files under a directory (``$REGISTRY_HOME/faults`` for
the workers), claimed with ``O_CREAT | O_EXCL``: every worker process on the machine
agrees on the count, so "fail the first two calls" means the same whichever process
runs the retry. Without a directory the count is kept in memory (one process).
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from collections import Counter
from pathlib import Path

__all__ = ["FAULTS_ENV", "FaultPlan", "FaultRule"]

#: The environment variable holding the plan (empty or unset: no faults).
FAULTS_ENV = "REGISTRY_ENHANCER_FAULTS"

_RULE = re.compile(r"^(?P<bundle>\*|[\w.-]+(?:/[\w.-]+)?):(?P<times>always|[0-9]+)$")


@dataclasses.dataclass(frozen=True)
class FaultRule:
    """Fail the first ``times`` calls for ``bundle`` (``None``: every call)."""

    bundle: str  # a slug, "collection/slug", or "*"
    times: int | None

    def matches(self, collection: str, slug: str) -> bool:
        return self.bundle in ("*", slug, f"{collection}/{slug}")


class FaultPlan:
    """Which provider calls fail, decided by each bundle's call number (never at random)."""

    def __init__(self, rules: list[FaultRule], state_dir: Path | None = None) -> None:
        self.rules = rules
        self.state_dir = state_dir
        self._memory: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, text: str, state_dir: Path | None = None) -> FaultPlan:
        """``bundle:N`` or ``bundle:always``, comma-separated; a bad rule is refused."""
        rules = []
        for part in filter(None, (item.strip() for item in text.split(","))):
            found = _RULE.match(part)
            if found is None:
                raise ValueError(
                    f"bad fault rule {part!r}: use '<slug>:<n>', '<slug>:always' or '*:<n>'"
                )
            times = found["times"]
            rules.append(FaultRule(found["bundle"], None if times == "always" else int(times)))
        return cls(rules, state_dir)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def should_fail(self, collection: str, slug: str) -> int | None:
        """Count this call for the bundle; its call number when it must fail, else ``None``."""
        rule = next((r for r in self.rules if r.matches(collection, slug)), None)
        if rule is None:
            return None
        call = self._claim(f"{collection}--{slug}")
        return call if rule.times is None or call <= rule.times else None

    def calls(self, collection: str, slug: str) -> int:
        """How many calls were counted for the bundle so far (tests read it)."""
        key = f"{collection}--{slug}"
        if self.state_dir is None:
            return self._memory[key]
        count = 0
        while (self.state_dir / f"{key}.{count + 1}").exists():
            count += 1
        return count

    def _claim(self, key: str) -> int:
        if self.state_dir is None:
            with self._lock:
                self._memory[key] += 1
                return self._memory[key]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        number = 1
        while True:
            try:
                path = self.state_dir / f"{key}.{number}"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                number += 1
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            return number
