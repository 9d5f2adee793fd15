"""Task bodies shared by the worker apps of these tests (each registers them itself)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def mark_then_sleep(marker: str) -> str:
    """The first run writes its pid to ``marker`` and sleeps (to be killed); a rerun returns."""
    path = Path(marker)
    if path.exists():
        return "rerun"
    path.write_text(str(os.getpid()))
    time.sleep(120)
    return "first run"
