"""One registry of deployment rules: a rule is a function over an :class:`AppView` that
yields :class:`Problem`\\ s, registered with its code and its VALID/INVALID examples.

The examples are app configurations (Python source defining ``app``); a test runs each
through :func:`celery_safe.deployment.check_app`, and the first of each kind fills the
Example / Use instead sections of the code's page (``celery-safe explain CSF401``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..canvas.problems import Problem
    from .view import AppView

__all__ = ["RULES", "DeployRule", "rule"]

Check = Callable[["AppView"], Iterable["Problem"]]


@dataclass(frozen=True)
class DeployRule:
    """A deployment check: its code, the function deciding it, its tested examples."""

    code: str
    check: Check
    invalid: tuple[str, ...]
    valid: tuple[str, ...]
    module: str


#: code -> rule, filled as the rule modules are imported (``deployment/__init__``).
RULES: dict[str, DeployRule] = {}


def rule(code: str, *, invalid: Iterable[str], valid: Iterable[str]) -> Callable[[Check], Check]:
    """Register the decorated function as the check of ``code``."""

    def register(check: Check) -> Check:
        if code in RULES:
            first = RULES[code].module
            raise ValueError(f"{code} is registered twice ({first}, {check.__module__})")
        found = DeployRule(code, check, tuple(invalid), tuple(valid), check.__module__)
        if not found.invalid or not found.valid:
            raise ValueError(f"{code}: a rule needs at least one invalid and one valid example")
        RULES[code] = found
        return check

    return register
