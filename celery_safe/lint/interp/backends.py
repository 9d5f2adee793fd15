"""What a module's code says about its app's result backend (static CSF203).

The code decides the backend only when the module's one Celery app is made with a
literal ``backend=``/``result_backend=`` and nothing in the module configures it
further (``app.conf...``, ``app.config_from_object(...)``): then a backend that cannot
run chords (``rpc://``) is known before anything runs. Anything else is unknown, and
no chord is reported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

__all__ = ["AppBackends"]

#: Result backend schemes that cannot run chords (Celery raises NotImplementedError).
NO_CHORDS = frozenset({"rpc"})
#: Result backend schemes that gather a chord header's values themselves (Redis).
KEEPS_HEADER_VALUES = frozenset({"redis", "rediss", "sentinel"})
_KEYWORDS = ("backend", "result_backend")
#: What an app's first attribute starts with when the code configures it.
_CONFIGURES = ("conf", "config_from", "add_defaults")


@dataclass
class AppBackends:
    """The module's apps: the literal backend each was made with (None: not literal),
    and the apps configured after they were made."""

    made: dict[str, list[str | None]] = field(default_factory=dict)
    configured: set[str] = field(default_factory=set)
    #: variable -> the app's main name (``Celery("shop")``), as messages name apps
    mains: dict[str, str] = field(default_factory=dict)

    def app_made(self, name: str, call: ast.Call) -> None:
        backend: str | None = None
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            self.mains[name] = first.value
        for keyword in call.keywords:
            if keyword.arg is None or keyword.arg in ("config_source", "loader"):
                self.configured.add(name)  # ``**settings`` or a config: not known here
            elif keyword.arg in _KEYWORDS:
                value = keyword.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    backend = value.value
                else:
                    self.configured.add(name)  # computed: not known here
        self.made.setdefault(name, []).append(backend)

    def used(self, node: ast.expr) -> None:
        """Note ``app.conf...`` and ``app.config_from_*`` (read or written)."""
        first = None  # the attribute read on the root name: ``conf`` of ``app.conf.x``
        while isinstance(node, ast.Attribute):
            first, node = node.attr, node.value
        if first is not None and isinstance(node, ast.Name) and first.startswith(_CONFIGURES):
            self.configured.add(node.id)

    def known(self) -> tuple[str, str] | None:
        """The module's one app and the literal backend it is made with, when the code
        decides it (nothing configures the app further)."""
        if len(self.made) != 1:
            return None
        [(app, backends)] = self.made.items()
        if app in self.configured or len(backends) != 1 or backends[0] is None:
            return None
        return app, backends[0]

    def chord_problem(self) -> str | None:
        """Why the module's one app cannot run chords, when its code says so."""
        known = self.known()
        if known is None or _scheme(known[1]) not in NO_CHORDS:
            return None
        app, backend = known
        label = self.mains.get(app, app)
        return f"app {label!r} is made with backend {backend!r}, which cannot run chords"

    def header_reads_stored_results(self) -> bool:
        """Does the app's backend read a chord header's stored results (so a header
        part that ignores its result keeps the body from running)? Only a backend the
        code names says so: Redis gathers the values itself (measured on every Celery
        the matrix runs: ``celery_internals.header_ignoring_results_reaches_body``); the
        others poll what was stored (``celery.chord_unlock``) or cannot run chords."""
        known = self.known()
        if known is None:
            return False  # why: an unknown backend is not known to poll; stay silent
        scheme = _scheme(known[1])
        return scheme not in KEEPS_HEADER_VALUES and scheme not in NO_CHORDS


def _scheme(backend: str) -> str:
    """``redis`` of ``redis://...``; ``db`` of ``db+postgresql://...``."""
    return backend.partition("://")[0].partition("+")[0].lower()
