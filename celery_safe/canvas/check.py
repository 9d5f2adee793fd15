"""Every canvas check, written once, over the :mod:`~.model`.

The walk follows the canvas the way Celery runs it, carrying what each step will
receive: nothing (first step, immutable ``.si()``), the parent's result (chain step,
``link``), the list of a group's results (chord body, or the step after a group in a
chain), or what Celery passes to an error callback. Each task step is checked once:

* registered with the app (CSF206: at run time the app says; the linter only for a beat
  entry naming a task of the project that nothing registers, see lint/interp/registration.py);
* its arguments plus what it receives bind to the task's parameters (CSF201 parent
  result, CSF202 chord body, CSF205 its own arguments, CSF208 error callbacks);
* its arguments survive the serializer it will be sent with (CSF207, runtime only);
* it does not follow a chord whose body is a group, in a chain (CSF209);
* a chord has a result backend able to run it (CSF203, when the front-end knows the
  backend), and the tasks whose results the chord needs do not ignore them (CSF204);
* no chord header part replaces itself with a group (CSF212), where the backend loses
  that group's order.

What the backend does to chords (:class:`Backend`) is known to the runtime only; the
linter checks as if the backend were any of them.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, TypeVar

from ..celery_internals import (
    errback_counts_partial_arguments,
    errback_failure_stops_the_others,
    installed_celery,
)
from .encoding import is_plain, unencodable
from .model import Chain, Chord, Group, Mapped, Node, Step, TaskSpec
from .params import Params
from .problems import Path, Problem, render_path
from .text import short_call, short_name, short_value
from .types import MISSING, describe, fits, list_of, union_of

__all__ = [
    "OPEN",
    "UNKNOWN",
    "Backend",
    "Received",
    "check",
    "chord_with_group_body",
    "errback_arguments",
    "errback_received",
    "normalized_steps",
    "parent_result",
    "workflow_arguments",
]

#: ``received.code`` of the first steps of a canvas whose call arguments are unknown.
_OPEN = "open"
T = TypeVar("T")
_HEADER_ROLE = (
    "is in a chord header: its result is not stored, so a backend that polls for the"
    " header's results (database, cache) never runs the body"
)
_BODY_ROLE = "is a chord body: the chord's result is never stored"


@dataclass(frozen=True)
class Backend:
    """What an app's result backend does to chords (see :mod:`celery_safe.celery_internals`,
    where each is measured per Celery version)."""

    #: Why it cannot run a chord at all (CSF203), or None.
    problem: str | None = None
    #: It gathers the header's values itself, stored or not (Redis): a header part
    #: ignoring its result still reaches the body (no CSF204 for header parts).
    keeps_header_values: bool = False
    #: A header part replaced by a group gives the group's results in order (no CSF212).
    orders_replaced_groups: bool = False
    #: Seconds after a header part finishes that the gathered results expire unless
    #: another part finishes (Redis's ``result_expires``, CSF214); None: they do not.
    header_values_expire_after: float | None = None


#: What the linter assumes: any backend, so whatever fails on one is reported.
ANY_BACKEND = Backend()


@dataclass(frozen=True)
class Received:
    """Positional arguments a step gets from outside its own signature."""

    source: str | _Output
    placeholders: tuple[str, ...]
    code: str
    #: Checked even when the step is immutable: an immutable error callback Celery calls
    #: in-process gets its own arguments only, which must bind.
    forced: bool = False
    #: An error callback Celery calls in the worker's process (not sends): its error
    #: stops the other error callbacks before Celery 5.7.
    in_process: bool = False
    #: They are sent in a message to whoever receives them (Celery's request and
    #: exception, which a chain given as an error callback passes on: never encodable).
    in_message: bool = False

    @property
    def type(self) -> Any:
        """The type of what is received (``MISSING`` when not known)."""
        return self.source.type if isinstance(self.source, _Output) else MISSING

    @property
    def description(self) -> str:
        """What the step receives, in words (built only when a message needs it)."""
        return self.source if isinstance(self.source, str) else self.source.description


#: The canvas will be called with arguments nobody knows yet (a piece of a workflow):
#: its first steps may take one argument more than they bind, or not.
OPEN = Received("an argument", ("<argument>",), _OPEN)
#: Its first steps get arguments that cannot be counted here (a canvas in source, called
#: later with ``.delay(...)``): their own arguments are not checked.
UNKNOWN = Received("arguments not known here", (), "unknown")


def workflow_arguments(args: Sequence[Any]) -> Received | None:
    """What the first steps receive when the canvas is called with ``args``."""
    if not args:
        return None
    return Received("the workflow's arguments", tuple(short_value(a) for a in args), "CSF205")


def parent_result(source: str = "the parent's result") -> Received:
    """What a ``link`` callback receives."""
    return Received(source, ("<result>",), "CSF201")


#: What Celery 5.3-5.7 pass a chain given as an error callback: it is called in the
#: worker as ``chain(request, exc, traceback)``, which sends them to its first task
#: (measured: tests/workflows/test_wf_liveness.py::test_a_chain_as_error_callback...).
CHAIN_ERRBACK = Received(
    "(request, exc, traceback) in a message", ("<request>", "<exc>", "<traceback>"), "CSF208",
    in_message=True, in_process=True,
)
#: What Celery passes an immutable error callback it calls in-process: nothing
#: (``Signature.__call__`` merges no arguments into an immutable signature; measured:
#: ``test_error_callbacks_in_process_first_in_order_then_the_sent_ones``).
IMMUTABLE_IN_PROCESS = Received(
    "nothing (an immutable error callback called in-process gets its own arguments only)",
    (), "CSF208", forced=True, in_process=True,
)


def errback_received(
    callback: Node | None, celery: tuple[int, int, int] | None = None
) -> Received:
    """What Celery passes the error callback ``callback``: a task as its header decides
    (:func:`errback_arguments`), a chain ``(request, exc, traceback)`` for its first task
    to send on, a group or chord (bound built-in tasks) the failed task's id for each
    member or header part."""
    if isinstance(callback, Chain):
        return CHAIN_ERRBACK
    if isinstance(callback, Step):
        return errback_arguments(callback.spec, callback, celery)
    return errback_arguments(None)


def errback_arguments(
    spec: TaskSpec | None, step: Step | None = None, celery: tuple[int, int, int] | None = None
) -> Received:
    """What Celery ``celery`` (default: the installed one) passes an error callback of task
    ``spec`` (linked as ``step``: from 5.7 its own arguments count, see
    ``celery_internals``)."""
    new_style = spec is not None and spec.errback_style
    if (
        new_style and spec is not None and spec.params is not None and step is not None
        and not step.immutable and (step.args or step.kwargs)
        and errback_counts_partial_arguments(celery)
    ):
        new_style = _arity_after_partial(spec.params, step.args, step.kwargs)
    if new_style and step is not None and step.immutable:
        return IMMUTABLE_IN_PROCESS
    if new_style:
        return Received(
            "(request, exc, traceback)",
            ("<request>", "<exc>", "<traceback>"),
            "CSF208",
            in_process=True,
        )
    return Received("the failed task's id", ("<task_id>",), "CSF208")


def _arity_after_partial(
    params: Params, args: Sequence[Any] | None, kwargs: Collection[str] | None
) -> bool:
    """Celery 5.7's test, asked of Python: ``arity_greater(partial(header, *args,
    **kwargs), 1)`` (``*args``, or more than one positional parameter left once the
    partial arguments are bound), the header's own arity when the partial cannot bind."""
    header = _header(params)
    if args is None or kwargs is None:
        return _arity_greater_1(header)
    try:
        bound = functools.partial(header, *range(len(args)), **dict.fromkeys(kwargs))
        return _arity_greater_1(bound)
    except (TypeError, ValueError):
        return _arity_greater_1(header)


def _arity_greater_1(function: Callable[..., Any]) -> bool:
    spec = inspect.getfullargspec(function)
    return bool(spec.varargs) or len(spec.args) > 1


def _header(params: Params) -> Callable[..., Any]:
    """A callable with the signature Celery gives a task's ``__header__``
    (``head_from_fun``: built from ``getfullargspec``, so no positional-only marker)."""

    def header(*args: Any, **kwargs: Any) -> None:
        """Stands for the task's function."""

    kinds = inspect.Parameter
    positional = [
        inspect.Parameter(
            name, kinds.POSITIONAL_OR_KEYWORD,
            default=inspect.Parameter.empty if index < params.required_positional else None,
        )
        for index, name in enumerate(params.positional)
    ]
    rest = [inspect.Parameter("args", kinds.VAR_POSITIONAL)] if params.varargs else []
    rest += [
        inspect.Parameter(
            name, kinds.KEYWORD_ONLY,
            default=inspect.Parameter.empty if name in params.required_keyword_only else None,
        )
        for name in sorted(params.keyword_only)
    ]
    if params.varkw:
        rest.append(inspect.Parameter("kwargs", kinds.VAR_KEYWORD))
    header.__signature__ = inspect.Signature([*positional, *rest])  # type: ignore[attr-defined]
    return header


class _Output:
    """What a step produces: how to name its result (built only for a message), and the
    tasks producing it that ignore their result (CSF204 when a chord needs it)."""

    __slots__ = ("ignoring", "kind", "name", "path", "type")

    def __init__(
        self,
        kind: str,
        path: Path,
        name: str = "",
        ignoring: list[tuple[Path, str, Any]] | None = None,
        produces: Any = MISSING,
    ) -> None:
        self.kind = kind
        self.path = path
        self.name = name
        self.ignoring: list[tuple[Path, str, Any]] = ignoring if ignoring is not None else []
        #: the type of what it produces, for CSF210
        self.type = produces

    @property
    def description(self) -> str:
        where = render_path(self.path)
        if self.kind == "task":
            return f"the result of {' '.join(filter(None, (where, short_name(self.name))))}"
        if self.kind == "unknown":
            return f"the result of {where or 'the previous step'}"
        what = "list of results" if self.kind == "group" else "result"
        return f"the {what} of {where or 'the'} {self.kind}"


def check(
    canvas: Node,
    *,
    receives: Received | None = OPEN,
    backend: Callable[[], Backend] | None = None,
    ignore: Collection[str] = (),
    path: Path = (),
    celery: tuple[int, int, int] | None = None,
) -> list[Problem]:
    """Every problem in ``canvas``, in workflow order.

    ``receives`` is what its first steps get (:data:`OPEN` when unknown);
    ``backend`` tells what the app's result backend does to chords, when the front-end
    knows the app (called once, and only if the canvas has a chord); ``ignore`` skips
    codes; ``celery`` is the Celery version whose behaviour is checked (default: the
    installed one).
    """
    walker = _Walker(backend, frozenset(code.upper() for code in ignore), celery)
    walker.visit(canvas, path, receives)
    return walker.problems


def chord_with_group_body(step: Node | None) -> bool:
    """A chord whose body is a group of several tasks: no chain step may follow it (CSF209).

    A group of a number of tasks the source does not tell (``group(t.s(x) for x in xs)``)
    counts: Celery mislinks whatever the members, and such a group is written for many.
    """
    if not isinstance(step, Chord):
        return False
    body = step.body
    return isinstance(body, Group) and (len(body.members) > 1 or not body.exact)


def normalized_steps(
    steps: Sequence[T], members: Callable[[T], Sequence[T] | None]
) -> list[tuple[int, T]]:
    """The steps of a chain, with their index, as a worker runs them (Celery's
    ``prepare_steps``): a group of one task is that task, and an empty group before
    another step is skipped. ``members`` gives a group's members (None for anything
    else, or a group whose size is not known). Nested chains stay as they are: the
    caller descends into them, keeping the positions the user wrote.
    """
    normalized: list[tuple[int, T]] = []
    for index, step in enumerate(steps):
        inner = members(step)
        if inner is not None:
            if len(inner) == 1:
                step = inner[0]
            elif not inner and (normalized or index < len(steps) - 1):
                continue
        normalized.append((index, step))
    return normalized


def _exact_members(node: Node | None) -> Sequence[Node | None] | None:
    return node.members if isinstance(node, Group) and node.exact else None


class _Walker:
    def __init__(
        self,
        backend: Callable[[], Backend] | None,
        ignore: frozenset[str],
        celery: tuple[int, int, int] | None = None,
    ) -> None:
        self.backend = backend
        self.ignore = ignore
        self.celery = celery
        self.problems: list[Problem] = []
        self._backend: Backend | None = None

    @property
    def chord_backend(self) -> Backend | None:
        """What the backend does to chords (None: not known, as in the linter)."""
        if self._backend is None and self.backend is not None:
            self._backend = self.backend()
        return self._backend

    def report(self, code: str, path: Path, task: str | None, origin: Any, **facts: object) -> None:
        if code not in self.ignore:
            self.problems.append(Problem.make(code, path, task, facts, origin=origin))

    def report_about(
        self, about: str, code: str, path: Path, task: str | None, origin: Any, **facts: object
    ) -> None:
        """``report``, saying which part of a chord the problem is about."""
        if code not in self.ignore:
            problem = Problem.make(code, path, task, facts, origin=origin)
            self.problems.append(replace(problem, about=about))

    # -- dispatch -------------------------------------------------------------

    def visit(self, node: Node | None, path: Path, received: Received | None) -> _Output:
        if node is None:
            return _Output("unknown", path)
        if isinstance(node, Step):
            output = self.visit_task(node, path, received)
        elif isinstance(node, Chord):
            output = self.visit_chord(node, path, received)
        elif isinstance(node, Chain):
            output = self.visit_chain(node, path, received)
        elif isinstance(node, Group):
            output = self.visit_group(node, path, received)
        else:
            raise TypeError(f"not a canvas node: {node!r}")
        if node.links or node.errbacks:
            self.visit_callbacks(node, path, output)
        return output

    def visit_callbacks(self, node: Node, path: Path, output: _Output) -> None:
        for index, callback in enumerate(node.links):
            self.visit(callback, (*path, "link", index), _result_of(output))
        for index, errback in enumerate(node.errbacks):
            received = errback_received(errback, self.celery)
            self.visit(errback, (*path, "link_error", index), received)

    # -- composites -----------------------------------------------------------

    def visit_chain(self, chain: Chain, path: Path, received: Received | None) -> _Output:
        steps = normalized_steps(chain.steps, _exact_members)
        incoming = None if chain.immutable else received
        output = _Output("chain", path)
        after_group = False
        for position, (index, step) in enumerate(steps):
            step_path = (*path, "chain", index)
            if position > 0 and chord_with_group_body(steps[position - 1][1]):
                self.report("CSF209", step_path, None, _origin(step, chain))
            is_header = isinstance(step, Group) and position < len(steps) - 1
            output = self.visit(step, step_path, incoming)
            if after_group:
                # The step after a group is the body of the chord Celery makes of them.
                self.check_results_stored(output, _BODY_ROLE, "body")
            after_group = is_header
            if is_header and step is not None:
                self.check_chord_backend(step_path, "group (a chord header)", step)
                self.check_header(step, step_path, output)
                incoming = Received(output, ("<list of results>",), "CSF202")
            else:
                incoming = _result_of(output)
        return output

    def visit_group(self, group: Group, path: Path, received: Received | None) -> _Output:
        ignoring: list[tuple[Path, str, Any]] = []
        produced = []
        for index, member in enumerate(group.members):
            output = self.visit(member, (*path, "group", index), received)
            ignoring += output.ignoring
            produced.append(output.type)
        return _Output("group", path, ignoring=ignoring, produces=list_of(union_of(produced)))

    def visit_chord(self, chord: Chord, path: Path, received: Received | None) -> _Output:
        incoming = None if chord.immutable else received
        ignoring: list[tuple[Path, str, Any]] = []
        produced = []
        for index, member in enumerate(chord.header.members):
            output = self.visit(member, (*path, "chord", "header", index), incoming)
            ignoring += output.ignoring
            produced.append(output.type)
        self.check_chord_backend(path, "chord", chord)
        self.check_header(chord.header, (*path, "chord"), _Output("chord", path, ignoring=ignoring))
        if chord.body is None:
            return _Output("chord", path)
        header = _Output(
            "group", (*path, "chord", "header"), produces=list_of(union_of(produced))
        )
        body_output = self.visit(
            chord.body, (*path, "chord", "body"), Received(header, ("<list of results>",), "CSF202")
        )
        self.check_results_stored(body_output, _BODY_ROLE, "body")
        return body_output

    def check_results_stored(self, output: _Output, role: str, about: str) -> None:
        """CSF204 for each task whose result a chord needs but which ignores it."""
        for task_path, name, origin in output.ignoring:
            self.report_about(about, "CSF204", task_path, name, origin, role=role)

    def check_header(self, header: Node, path: Path, output: _Output) -> None:
        """What a chord header's parts must not do, on this backend (CSF204, CSF212).

        ``path`` is where the header's members are numbered (``chord`` then ``header``,
        or the group's own path in a chain).
        """
        backend = self.chord_backend or ANY_BACKEND
        if not backend.keeps_header_values:
            self.check_results_stored(output, _HEADER_ROLE, "header")
        self.check_header_expiry(header, path, backend.header_values_expire_after)
        if backend.orders_replaced_groups or "CSF212" in self.ignore:
            return
        if not isinstance(header, Group):
            return
        prefix = (*path, "header") if path[-1:] == ("chord",) else (*path, "group")
        for index, member in enumerate(header.members):
            if isinstance(member, Step) and member.spec and member.spec.replaces_with_group:
                self.report("CSF212", (*prefix, index), member.name, member.origin)

    def check_header_expiry(self, header: Node, path: Path, expires: float | None) -> None:
        """CSF214: a header part due longer after the one before it than the gathered
        results live (only a header of task signatures, each due at a known time)."""
        if expires is None or "CSF214" in self.ignore or not isinstance(header, Group):
            return
        members = header.members
        if not header.exact or not all(isinstance(m, Step) for m in members):
            return
        prefix = (*path, "header") if path[-1:] == ("chord",) else (*path, "group")
        due = sorted(
            ((m.countdown or 0.0, index, m) for index, m in enumerate(members)
             if isinstance(m, Step)),
            key=lambda item: (item[0], item[1]),
        )
        for (before, _, _), (when, index, member) in pairwise(due):
            if when - before > expires:
                facts = {"due": f"{when:g}", "previous": f"{before:g}", "expires": f"{expires:g}"}
                self.report("CSF214", (*prefix, index), member.name, member.origin, **facts)

    def check_chord_backend(self, path: Path, what: str, node: Node) -> None:
        if self.backend is None or "CSF203" in self.ignore:
            return
        reason = self.chord_backend.problem if self.chord_backend is not None else None
        if reason is not None:
            facts = {"reason": reason}
            self.problems.append(
                Problem.make("CSF203", path, None, facts, what=what, origin=node.origin)
            )

    # -- tasks ----------------------------------------------------------------

    def visit_task(self, step: Step, path: Path, received: Received | None) -> _Output:
        spec = step.spec
        if step.mapped is not None:
            self.check_mapped(step, step.mapped, path)
        if step.unregistered is not None:
            if "CSF206" not in self.ignore:
                missing = step.unregistered
                close = difflib.get_close_matches(step.name, list(missing.known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                hint = f": {missing.reason}" if missing.reason else hint
                self.report("CSF206", path, step.name, step.origin, app=missing.app, hint=hint)
        elif received is not None and received.in_message and not step.immutable:
            self.report_unsendable(step, path, received)
        elif spec is not None and not spec.builtin:
            if received is not None and not received.forced and step.immutable:
                received = None
            self.check_arguments(step, spec, path, received)
        if step.serializer is not None:
            self.check_encoding(step, path)
        ignores = step.ignore_result
        if ignores is None:
            ignores = spec is not None and spec.ignore_result
        produced = spec.returns if spec is not None else MISSING
        stored = [(path, step.name, step.origin)] if ignores else None
        return _Output("task", path, step.name, stored, produced)

    def check_mapped(self, step: Step, mapped: Mapped, path: Path) -> None:
        """CSF205: an item of a map/starmap/chunks that the mapped task cannot take (the
        first one fails the whole map with ``TypeError``)."""
        task = mapped.task
        spec = task.spec
        if mapped.items is None or spec is None or spec.params is None or spec.builtin:
            return
        params = spec.params
        for index, item in enumerate(mapped.items):
            why = None if item is None else params.mismatch(len(item), ())
            if why is None or item is None:
                continue
            how = "as its one argument" if mapped.kind == "map" else "splatted"
            reason = (
                f"{mapped.kind} calls {short_name(task.name)} with each item {how}, and item "
                f"{index} does not bind ({why}): the whole {mapped.kind} fails with TypeError"
            )
            call = short_call(task.name, item, {}, ())
            self.report(
                "CSF205", path, task.name, step.origin,
                call=call, params=f"{short_name(task.name)}{params.text}", reason=reason,
            )
            return

    def report_unsendable(self, step: Step, path: Path, received: Received) -> None:
        """CSF208: a step of an error-callback chain that would be sent Celery's request
        and exception: JSON cannot encode them, so nothing of the chain runs."""
        spec = step.spec
        params = spec.params if spec is not None else None
        name = short_name(step.name)
        why = (
            "Celery calls a chain given as an error callback with (request, exc, traceback) "
            "and sends them on to its first task, and the request and the exception cannot "
            "be encoded (JSON): the chain is never sent and nothing in it runs; make that "
            f"step immutable, {name}.si(...), or give link_error a task that takes "
            "(request, exc, traceback)" + self.errback_outcome(step, received)
        )
        self.report(
            "CSF208", path, step.name, step.origin,
            call=short_call(step.name, step.args or (), step.kwargs, received.placeholders),
            params=f"{name}{params.text}" if params is not None else f"{name}(...)",
            reason=why,
        )

    def check_encoding(self, step: Step, path: Path) -> None:
        args, kwargs = step.args, step.kwargs
        if (not args and not kwargs) or args is None or kwargs is None:
            return
        if is_plain(args) and is_plain(kwargs):
            return
        assert step.serializer is not None
        bad = unencodable(tuple(args), kwargs, step.serializer)
        if bad is not None:
            label, value, reason = bad
            self.report(
                "CSF207",
                path,
                step.name,
                step.origin,
                argument=label,
                type=type(value).__name__,
                serializer=step.serializer,
                reason=reason,
            )

    def check_arguments(
        self, step: Step, spec: TaskSpec, path: Path, received: Received | None
    ) -> None:
        params = spec.params
        args = step.args
        if params is None or args is None or received is UNKNOWN:
            return  # not known: nothing to count
        kwargs = step.kwargs
        keywords = None if kwargs is None else kwargs.keys()
        nargs = len(args)
        if received is None:
            why = params.mismatch(nargs, keywords)
            if why is not None:
                self._report_call("CSF205", step, path, (), params, why)
            return
        leading = received.placeholders
        why = params.mismatch(len(leading) + nargs, keywords)
        if why is None:
            if received.code in ("CSF201", "CSF202") and not step.immutable:
                self.check_types(step, params, path, received)
            elif received.code == "CSF208" and not step.immutable:
                self.check_errback_partials(step, params, path, leading)
            return
        alone = params.mismatch(nargs, keywords)
        if received.code == _OPEN:
            # Unknown arguments: wrong only when wrong both with and without one more.
            if alone is not None:
                self._report_call("CSF205", step, path, (), params, alone)
        elif received.code in ("CSF205", "CSF208") or alone is not None:
            # Wrong even without what it receives: its own arguments are the problem.
            if received is IMMUTABLE_IN_PROCESS:
                why = (f"Celery calls an immutable error callback in-process with its own "
                       f"arguments only ({why}): link {short_name(step.name)}.s(...) to get "
                       "(request, exc, traceback)")
            if received.code == "CSF208":
                why += self.errback_outcome(step, received)
            code = "CSF208" if received.code == "CSF208" else "CSF205"
            self._report_call(code, step, path, leading, params, why)
        else:
            call = short_call(step.name, args, kwargs, leading)
            takes = f"{short_name(step.name)}{params.text}"
            reason = f"it would be called as {call} but takes {takes} ({why})"
            if received.code == "CSF202":
                facts = {"source": _place(received), "reason": reason}
            else:
                facts = {"received": received.description, "reason": reason}
            self.report(received.code, path, step.name, step.origin, **facts)

    def check_errback_partials(
        self, step: Step, params: Params, path: Path, leading: tuple[str, ...]
    ) -> None:
        """CSF208: an error callback's own arguments bind, but only inside ``*args``.

        Celery puts what it passes (``request, exc, traceback``, or the failed task's
        id) first and the signature's own arguments after it: with ``def restore(*args)``
        and ``restore.s(backup)``, ``backup`` is never ``args[0]``, and with ``def
        restore(backup, *args)`` the ``backup`` parameter gets the request.
        """
        args = step.args or ()
        named = len(params.positional)
        lost = [arg for index, arg in enumerate(args) if len(leading) + index >= named]
        if not params.varargs or not lost:
            return
        celery = ", ".join(p.strip("<>") for p in leading)
        own = ", ".join(short_value(arg) for arg in lost)
        name = short_name(step.name)
        why = (
            f"{own} lands in *args after the {celery} Celery passes first, never in a "
            f"parameter of its own: take Celery's arguments first, {name}({celery}, ...), "
            f"or link {name}.si(...) to get only your own"
        )
        self._report_call("CSF208", step, path, leading, params, why)

    @property
    def target(self) -> tuple[int, int, int]:
        """The Celery version checked against (the installed one unless told)."""
        return self.celery if self.celery is not None else installed_celery()

    def errback_outcome(self, step: Step, received: Received) -> str:
        """What a wrong error callback does on the target Celery and on the other side
        of 5.7: how the other calls it, when differently, and whether its error stops the
        failed task's other error callbacks (``celery_internals``)."""
        recent = not errback_failure_stops_the_others(self.target)
        other_version = (5, 6, 0) if recent else (5, 7, 0)
        other_label = "before 5.7" if recent else "from 5.7"
        said = ""
        if received is not CHAIN_ERRBACK and step.args is not None:
            other = errback_arguments(step.spec, step, other_version)
            if other.placeholders != received.placeholders:
                call = short_call(step.name, step.args, step.kwargs, other.placeholders)
                how = "sends it as" if "<task_id>" in other.placeholders else "calls it as"
                said = f"; Celery {other_label} {how} {call}"
        if not received.in_process:
            return said
        if recent:
            return (f"{said}; Celery 5.7 logs its error and runs the other error callbacks "
                    "(before 5.7 the error stops them, those sent with the id included)")
        return (f"{said}; on Celery before 5.7 its error also stops the failed task's other "
                "error callbacks (those sent with the id included): they never run")

    def check_types(self, step: Step, params: Params, path: Path, received: Received) -> None:
        """CSF210: what the step receives cannot be what its first parameter expects."""
        if not params.positional:
            return  # taken by *args: no annotation to compare with
        produced, expected = received.type, params.hint(0)
        if fits(produced, expected) is False:
            self.report(
                "CSF210",
                path,
                step.name,
                step.origin,
                source=(
                    f"the list of results of {_place(received)}"
                    if received.code == "CSF202"
                    else received.description
                ),
                produced=describe(produced),
                param=params.positional[0],
                expected=describe(expected),
            )

    def _report_call(
        self,
        code: str,
        step: Step,
        path: Path,
        leading: tuple[str, ...],
        params: Params,
        why: str,
    ) -> None:
        assert step.args is not None
        call = short_call(step.name, step.args, step.kwargs, leading)
        signature = f"{short_name(step.name)}{params.text}"
        self.report(code, path, step.name, step.origin, call=call, params=signature, reason=why)


def _place(received: Received) -> str:
    """Where a list of results comes from: ``chord.header``, ``chain[0] group``."""
    source = received.source
    if isinstance(source, str):
        return source
    where = render_path(source.path)
    return where if source.path[-1:] == ("header",) else f"{where} {source.kind}"


def _result_of(output: _Output) -> Received:
    return Received(output, ("<result>",), "CSF201")


def _origin(step: Node | None, container: Node) -> Any:
    return step.origin if step is not None else container.origin
