"""One module per rule, named after its code; importing this package registers them all."""

from __future__ import annotations

from . import (
    csf101,
    csf102,
    csf103,
    csf104,
    csf105,
    csf106,
    csf201,
    csf202,
    csf203,
    csf204,
    csf205,
    csf208,
    csf209,
    csf210,
    csf212,
    csf301,
    csf901,
)

__all__ = [
    "csf101",
    "csf102",
    "csf103",
    "csf104",
    "csf105",
    "csf106",
    "csf201",
    "csf202",
    "csf203",
    "csf204",
    "csf205",
    "csf208",
    "csf209",
    "csf210",
    "csf212",
    "csf301",
    "csf901",
]
