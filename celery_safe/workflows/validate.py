"""``validate(canvas)``: every problem a worker would hit, found before anything is sent.

The validator walks the canvas the way Celery runs it, carrying what each step will
receive: nothing (first step, immutable ``.si()``), the parent's result (chain step,
``link``), the list of a group's results (chord body, or the step after a group in a
chain), or what Celery passes to an error callback. Each task step is checked once:

* registered with the app (CSF206);
* its arguments plus what it receives bind to the task's parameters (CSF201 parent
  result, CSF202 chord body, CSF205 its own arguments, CSF208 error callbacks);
* its arguments survive the serializer it will be sent with (CSF207);
* it does not follow a chord whose body is a group, in a chain (CSF209);
* a chord has a result backend able to run it (CSF203), and the tasks whose results
  the chord needs do not ignore them (CSF204).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.backends.base import DisabledBackend
from celery.canvas import Signature

from ..celery_internals import group_group_mislinks
from .encoding import is_plain as _is_plain
from .encoding import unencodable
from .params import Params, errback_style, params_of
from .problems import Path, Problem, render_path
from .shapes import (
    app_of,
    chain_steps,
    chord_header,
    group_members,
    is_chain,
    is_chord,
    is_group,
    link_errbacks,
    links,
    short_call,
    short_name,
    short_value,
)

__all__ = ["validate"]

#: Celery's built-in tasks (``celery.map``, ``celery.chord_unlock``...) take internal arguments.
_BUILTIN = "celery."
#: What the first steps of a canvas of unknown arguments receive: one argument, or none.
_OPEN = "open"
_HEADER_ROLE = (
    "is in a chord header: its result is not stored, so a backend that polls for the"
    " header's results (database, cache) never runs the body"
)
_BODY_ROLE = "is a chord body: the chord's result is never stored"


@dataclass(frozen=True)
class Received:
    """Positional arguments a step gets from outside its own signature."""

    source: str | _Output
    placeholders: tuple[str, ...]
    code: str
    #: Error callbacks called in-process get their arguments even when immutable.
    forced: bool = False

    @property
    def description(self) -> str:
        """What the step receives, in words (built only when a message needs it)."""
        return self.source if isinstance(self.source, str) else self.source.description


class _Output:
    """What a step produces: how to name its result (built only for a message), and the
    tasks producing it that ignore their result (CSF204 when a chord needs it)."""

    __slots__ = ("ignoring", "kind", "name", "path")

    def __init__(
        self, kind: str, path: Path, name: str = "", ignoring: list[tuple[Path, str]] | None = None
    ) -> None:
        self.kind = kind
        self.path = path
        self.name = name
        self.ignoring: list[tuple[Path, str]] = ignoring if ignoring is not None else []

    @property
    def description(self) -> str:
        where = render_path(self.path)
        if self.kind == "task":
            return f"the result of {' '.join(filter(None, (where, short_name(self.name))))}"
        what = "list of results" if self.kind == "group" else "result"
        return f"the {what} of {where or 'the'} {self.kind}"


def validate(
    canvas: Signature,
    *,
    app: Celery | None = None,
    args: tuple[Any, ...] | None = None,
    ignore: Collection[str] = (),
) -> list[Problem]:
    """Every problem in ``canvas`` (a signature, chain, group or chord), in workflow order.

        problems = validate(chain(fetch.s(url), parse.s()), args=())
        assert problems == [], "\\n".join(map(str, problems))

    ``args`` are the arguments the canvas will be called with (``canvas.delay(*args)``).
    Left as None, they are unknown — the canvas may be a piece composed into a larger
    workflow later — so its first steps may take one argument more or not.
    ``app`` defaults to the canvas's own app; ``ignore`` skips codes (e.g. ``{"CSF206"}``
    for a workflow that sends tasks registered only in another service).
    """
    if not isinstance(canvas, Signature):
        raise TypeError(f"validate() expects a Celery signature or canvas, got {canvas!r}")
    walker = _Walker(app_of(canvas, app), frozenset(code.upper() for code in ignore))
    if args is None:
        received: Received | None = Received("an argument", ("<argument>",), _OPEN)
    elif args:
        shown = tuple(short_value(arg) for arg in args)
        received = Received("the workflow's arguments", shown, "CSF205")
    else:
        received = None
    walker.visit(canvas, (), received)
    return walker.problems


class _Walker:
    def __init__(self, app: Celery, ignore: frozenset[str]) -> None:
        self.app = app
        self.ignore = ignore
        self.problems: list[Problem] = []
        self._backend_checked = False
        self._backend_reason: str | None = None

    def report(self, code: str, path: Path, task: str | None, **facts: object) -> None:
        if code not in self.ignore:
            self.problems.append(Problem.make(code, path, task, facts))

    # -- dispatch -------------------------------------------------------------

    def visit(self, sig: Signature, path: Path, received: Received | None) -> _Output:
        if is_chord(sig):
            output = self.visit_chord(sig, path, received)
        elif is_chain(sig):
            output = self.visit_chain(sig, path, received)
        elif is_group(sig):
            output = self.visit_group(sig, path, received)
        else:
            output = self.visit_task(sig, path, received)
        options = sig["options"]
        if "link" in options or "link_error" in options:
            self.visit_callbacks(sig, path, output)
        return output

    def visit_callbacks(self, sig: Signature, path: Path, output: _Output) -> None:
        for index, callback in enumerate(links(sig)):
            self.visit(callback, (*path, "link", index), _parent_result(output))
        for index, errback in enumerate(link_errbacks(sig)):
            self.visit_errback(errback, (*path, "link_error", index))

    def visit_errback(self, errback: Signature, path: Path) -> None:
        task = None if is_chain(errback) or is_group(errback) else self._task(errback)
        if task is not None and errback_style(task):
            received = Received(
                "(request, exc, traceback)", ("<request>", "<exc>", "<traceback>"), "CSF208",
                forced=True,
            )
        else:
            received = Received("the failed task's id", ("<task_id>",), "CSF208")
        self.visit(errback, path, received)

    # -- composites -----------------------------------------------------------

    def visit_chain(self, sig: Signature, path: Path, received: Received | None) -> _Output:
        steps = chain_steps(sig, self.app)
        incoming = None if sig.immutable else received
        output = _Output("chain", path)
        after_group = False
        for position, (index, step) in enumerate(steps):
            step_path = (*path, "chain", index)
            if position > 0 and group_group_mislinks() and _chord_with_group_body(
                steps[position - 1][1], self.app
            ):
                self.report("CSF209", step_path, None)
            is_header = is_group(step) and position < len(steps) - 1
            output = self.visit(step, step_path, incoming)
            if after_group:
                # The step after a group is the body of the chord Celery makes of them.
                self.check_results_stored(output, _BODY_ROLE)
            after_group = is_header
            if is_header:
                self.check_chord_backend(step_path, "group (a chord header)")
                self.check_results_stored(output, _HEADER_ROLE)
                incoming = Received(
                    f"{render_path(step_path)} group", ("<list of results>",), "CSF202"
                )
            else:
                incoming = _parent_result(output)
        return output

    def visit_group(self, sig: Signature, path: Path, received: Received | None) -> _Output:
        ignoring: list[tuple[Path, str]] = []
        for index, member in enumerate(group_members(sig, self.app)):
            ignoring += self.visit(member, (*path, "group", index), received).ignoring
        return _Output("group", path, ignoring=ignoring)

    def visit_chord(self, sig: Signature, path: Path, received: Received | None) -> _Output:
        incoming = None if sig.immutable else received
        ignoring: list[tuple[Path, str]] = []
        for index, member in enumerate(chord_header(sig, self.app)):
            ignoring += self.visit(member, (*path, "chord", "header", index), incoming).ignoring
        self.check_chord_backend(path, "chord")
        self.check_results_stored(_Output("chord", path, ignoring=ignoring), _HEADER_ROLE)
        body = sig.body
        if body is None:
            return _Output("chord", path)
        source = f"{render_path((*path, 'chord', 'header'))}"
        body_output = self.visit(
            body, (*path, "chord", "body"), Received(source, ("<list of results>",), "CSF202")
        )
        self.check_results_stored(body_output, _BODY_ROLE)
        return body_output

    def check_results_stored(self, output: _Output, role: str) -> None:
        """CSF204 for each task whose result a chord needs but which ignores it."""
        for task_path, name in output.ignoring:
            self.report("CSF204", task_path, name, role=role)

    def check_chord_backend(self, path: Path, what: str) -> None:
        reason = self._chord_backend_problem()
        if reason is not None and "CSF203" not in self.ignore:
            self.problems.append(Problem.make("CSF203", path, None, {"reason": reason}, what=what))

    def _chord_backend_problem(self) -> str | None:
        if not self._backend_checked:
            self._backend_reason = _backend_problem(self.app)
            self._backend_checked = True
        return self._backend_reason

    # -- tasks ----------------------------------------------------------------

    def _task(self, sig: Signature) -> Any:
        task = sig._type
        if task is None:
            app = sig._app or self.app
            task = app.tasks.get(sig["task"])
        return task

    def visit_task(self, sig: Signature, path: Path, received: Received | None) -> _Output:
        # Signatures are dicts: item access skips Celery's property descriptors (hot path).
        name: str = sig["task"]
        args, kwargs, options = sig["args"], sig["kwargs"], sig["options"]
        task = self._task(sig)
        if task is None:
            self.report_unregistered(sig, path, name)
        elif not name.startswith(_BUILTIN):
            if received is not None and not received.forced and sig["immutable"]:
                received = None
            self.check_arguments(task, args, kwargs, path, name, received)
        if (args or kwargs) and not (_is_plain(args) and _is_plain(kwargs)):
            self.check_encoding(task, sig, path, name)
        ignores = options.get("ignore_result")
        if ignores is None:
            ignores = getattr(task, "ignore_result", False)
        return _Output("task", path, name, [(path, name)] if ignores else None)

    def check_encoding(self, task: Any, sig: Signature, path: Path, name: str) -> None:
        serializer = (
            sig["options"].get("serializer")
            or getattr(task, "serializer", None)
            or (sig._app or self.app).conf.task_serializer
        )
        bad = unencodable(tuple(sig["args"]), sig["kwargs"], serializer)
        if bad is not None:
            label, value, reason = bad
            self.report(
                "CSF207", path, name, argument=label, type=type(value).__name__,
                serializer=serializer, reason=reason,
            )

    def check_arguments(
        self,
        task: Any,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        path: Path,
        name: str,
        received: Received | None,
    ) -> None:
        params = params_of(task)
        if params is None:
            return
        nargs = len(args)
        if received is None:
            why = params.mismatch(nargs, kwargs)
            if why is not None:
                self._report_call("CSF205", path, name, args, kwargs, (), params, why)
            return
        leading = received.placeholders
        why = params.mismatch(len(leading) + nargs, kwargs)
        if why is None:
            return
        alone = params.mismatch(nargs, kwargs)
        if received.code == _OPEN:
            # Unknown arguments: wrong only when wrong both with and without one more.
            if alone is not None:
                self._report_call("CSF205", path, name, args, kwargs, (), params, alone)
        elif received.code in ("CSF205", "CSF208") or alone is not None:
            # Wrong even without what it receives: its own arguments are the problem.
            code = "CSF208" if received.code == "CSF208" else "CSF205"
            self._report_call(code, path, name, args, kwargs, leading, params, why)
        else:
            call = short_call(name, args, kwargs, leading)
            takes = f"{short_name(name)}{params.text}"
            reason = f"it would be called as {call} but takes {takes} ({why})"
            if received.code == "CSF202":
                self.report("CSF202", path, name, source=received.description, reason=reason)
            else:
                self.report("CSF201", path, name, received=received.description, reason=reason)

    def _report_call(
        self,
        code: str,
        path: Path,
        name: str,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        leading: tuple[str, ...],
        params: Params,
        why: str,
    ) -> None:
        call = short_call(name, args, kwargs, leading)
        signature = f"{short_name(name)}{params.text}"
        self.report(code, path, name, call=call, params=signature, reason=why)

    def report_unregistered(self, sig: Signature, path: Path, name: str) -> None:
        app = sig._app or self.app
        if "CSF206" in self.ignore:
            return
        close = difflib.get_close_matches(name, list(app.tasks.keys()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.report("CSF206", path, name, app=str(app.main), hint=hint)


def _chord_with_group_body(step: Signature, app: Celery) -> bool:
    """A chord whose body is a group of several tasks: no chain step may follow it (CSF209)."""
    body = step.body if is_chord(step) else None
    return body is not None and is_group(body) and len(group_members(body, app)) > 1


def _parent_result(output: _Output) -> Received:
    return Received(output, ("<result>",), "CSF201")


def _backend_problem(app: Celery) -> str | None:
    """Why ``app`` cannot run a chord, or None when it can."""
    if app.conf.task_always_eager:
        return None  # eager chords run in-process, without a backend
    backend = app.backend
    if isinstance(backend, DisabledBackend):
        return f"app {app.main!r} has no result backend (result_backend is not set)"
    try:
        backend.ensure_chords_allowed()
    except NotImplementedError as exc:
        kind = type(backend).__name__
        return f"app {app.main!r} uses {kind}, which cannot: {str(exc).splitlines()[0]}"
    return None
