"""CSF403: a ``task_routes`` key that matches no registered task.

Celery's dict router looks a task's name up exactly, or matches it against glob and
regular-expression keys; a key that matches nothing routes nothing, silently, and the
task goes to the default queue (measured by ``tests/workflows/test_wf_deploy_measure.py``).
A key is reported only when it is this app's: a registered name (or, for a glob, a
namespace) is close to it, or it sits in a namespace the app's tasks use. A key naming
a task another service registers (sent with ``send_task``) is not judged.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Collection, Iterator

from ..canvas.problems import Problem
from .examples import EXAMPLES
from .registry import rule
from .view import AppView


def _literal_prefix(key: str | re.Pattern[str]) -> str:
    """What a name must start with to match a glob or pattern key: ``shop.report.``."""
    if isinstance(key, str):
        return re.split(r"[*?\[]", key, maxsplit=1)[0]
    text, prefix, i = key.pattern.removeprefix("^"), [], 0
    while i < len(text):
        if text.startswith("\\.", i):
            prefix.append(".")
            i += 2
        elif text[i].isalnum() or text[i] in "_-":
            prefix.append(text[i])
            i += 1
        else:
            break
    return "".join(prefix)


def _near(key: str, names: list[str]) -> list[str]:
    """The registered name ``key`` is a typo of: close as a whole, and its last part close
    too (``shop.tasks.gone`` is not a typo of ``shop.tasks.send``)."""
    for candidate in difflib.get_close_matches(key, names, n=3, cutoff=0.8):
        tail, other = key.rpartition(".")[2], candidate.rpartition(".")[2]
        if difflib.SequenceMatcher(None, tail, other).ratio() >= 0.75:
            return [candidate]
    return []


def _without_module(key: str, tasks: Collection[str]) -> list[str]:
    """``shop.tasks.send_email`` for the key ``send_email``: the app's task, its module left
    out (a task's default name is its module's and its own; the key matches neither)."""
    if "." in key:
        return []
    return sorted(name for name in tasks if name.rpartition(".")[2] == key)[:1]


@rule("CSF403", invalid=EXAMPLES["CSF403"].invalid, valid=EXAMPLES["CSF403"].valid)
def route_matches_no_task(view: AppView) -> Iterator[Problem]:
    names = sorted(view.registered)
    namespaces = sorted({name.rpartition(".")[0] + "." for name in view.tasks if "." in name})
    for key, _route in view.map_routes():
        if isinstance(key, re.Pattern) or (isinstance(key, str) and "*" in key):
            pattern = key if isinstance(key, re.Pattern) else re.compile(fnmatch.translate(key))
            if any(pattern.match(name) for name in names):
                continue
            prefix = _literal_prefix(key)
            near = difflib.get_close_matches(prefix, namespaces, n=1, cutoff=0.8)
            close = [near[0] + "*"] if near and isinstance(key, str) else []
            ours = bool(near) or ("." in prefix and prefix.rpartition(".")[0] + "." in namespaces)
        elif isinstance(key, str):
            if key in view.registered:
                continue
            close = _near(key, names) or _without_module(key, view.tasks)
            ours = bool(close) or key.rpartition(".")[0] + "." in namespaces
        else:
            continue
        if not ours:
            continue  # why we bail: likely a task another service registers
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        label = key.pattern if isinstance(key, re.Pattern) else key
        yield Problem.make("CSF403", ("task_routes", label), None, {"key": label, "hint": hint})
