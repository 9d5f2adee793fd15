"""The celery-safe linter: one engine behind flake8, ``celery-safe check`` and the codemods.

from celery_safe.lint import check_source
for finding in check_source(open("tasks.py").read(), "tasks.py"):
    print(finding.path, finding.line, finding.message)
"""

from __future__ import annotations

from .config import Config, ConfigError, load_config
from .engine import InternalError, check_source, check_tree
from .findings import Finding, Span

__all__ = [
    "Config",
    "ConfigError",
    "Finding",
    "InternalError",
    "Span",
    "check_source",
    "check_tree",
    "load_config",
]
