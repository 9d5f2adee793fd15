"""pytest plugin (entry point ``pytest11``): fixtures that catch joins inside tasks."""

from __future__ import annotations
