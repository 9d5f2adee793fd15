"""The join rules' shared detection (CSF101, CSF103, CSF104, CSF105, CSF901) and how
their findings describe themselves (the ``detail`` the codemods rely on).

The interpreter raises ``on_join`` for each blocking join and ``on_helper`` for each
function of the project that runs as part of another; it keeps neither. The join rules
subscribe :data:`JOIN_EVENTS` (or :data:`REACH_EVENTS`, for the rules that follow joins
through calls), whose handlers record them once per function however many of those
rules are enabled; :func:`helper_joins` follows the recorded calls to the joins they
reach, busy-waits included (:mod:`.waits`: a loop polling a result until it is done
blocks the worker exactly like ``.get()``). The reach also hears ``on_call``: the
methods a function calls on a parameter, so that a project object handed to it runs
those methods of its class.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import PurePath

from .findings import JoinDetail
from .interp.analysis import ModuleAnalysis
from .interp.decided import Constants, bound_constants, never_runs
from .interp.events import CallEvent, HelperEvent, Join, Scope, Subscribers
from .interp.facts import FunctionFacts
from .interp.index import FunctionInfo, ModuleIndex
from .interp.values import Instance, Param, Result, Results, Value, holds_results
from .registry import span_of
from .waits import WAIT_EVENTS, Wait, waits

__all__ = [
    "JOIN_EVENTS",
    "REACH_EVENTS",
    "Blocking",
    "HelperCall",
    "HelperJoin",
    "arguments",
    "call_text",
    "helper_joins",
    "helper_name",
    "join_detail",
    "own_joins",
    "passed",
]

#: keys of what the handlers below record in ``FunctionFacts.found``
JOINS = "joins"
CALLS = "calls"
PARAM_METHODS = "param_methods"
#: What a value passed to a helper must be for the helper's joins on it to matter.
TRACKED_ARGS = (Result, Results, Param)


@dataclass(frozen=True)
class HelperCall:
    """A call to a ``def``; ``args`` maps parameters to tracked values.

    ``node`` is the call, or where the function is handed out to be run later (passed
    to a call, stored, returned: ``pool.map(fn, xs)``, ``{"done": fn}``): a function a
    task hands out runs as part of the task unless proven otherwise.
    """

    node: ast.expr
    callee: FunctionInfo
    args: dict[str, Value]
    #: ``node`` is the call of ``callee`` itself (its arguments are the callee's), not a
    #: hand-out or a call that runs ``callee`` further in
    called: bool


#: What blocks a worker until another task is done: a join, or a loop polling a result.
Blocking = Join | Wait


@dataclass(frozen=True)
class HelperJoin:
    """A join (or busy-wait) reached from a task through calls: ``path`` ends in the
    function that blocks."""

    call: HelperCall  # the call in the task that leads there
    path: tuple[FunctionInfo, ...]
    join: Blocking


def record_join(scope: Scope, join: Join) -> None:
    scope.record(JOINS, join)


def passed(scope: Scope, event: HelperEvent) -> dict[str, Value]:
    """What a call to a helper passes it that the analysis follows (results, parameters
    of ours, project objects), by the helper's parameter; nothing if it is handed out."""
    args: dict[str, Value] = {}
    if not event.called or not isinstance(event.node, ast.Call):
        return args
    for name, arg in arguments(event.node, event.callee).items():
        value = scope.value(arg)
        if isinstance(value, (*TRACKED_ARGS, Instance)):
            args[name] = value
    return args


def arguments(node: ast.Call, callee: FunctionInfo) -> dict[str, ast.expr]:
    """The call's arguments by the callee's parameter (up to a ``*args``)."""
    names = callee.params().positional
    args: dict[str, ast.expr] = {}
    for i, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred) or i >= len(names):
            break
        args[names[i]] = arg
    for keyword in node.keywords:
        if keyword.arg is not None:
            args[keyword.arg] = keyword.value
    return args


def record_helper(scope: Scope, event: HelperEvent) -> None:
    """The call's arguments that may carry a result into the helper, by parameter; and
    the methods of project objects it is given that the helper calls (CSF104 reach)."""
    given = passed(scope, event) if event.called else _handed_results(scope, event)
    args: dict[str, Value] = {
        name: value for name, value in given.items() if isinstance(value, TRACKED_ARGS)
    }
    scope.record(CALLS, HelperCall(event.node, event.callee, args, event.called))
    objects = {name: value for name, value in given.items() if isinstance(value, Instance)}
    if objects or any(isinstance(value, Param) for value in args.values()):
        _objects_passed(scope, event, args, objects)


def _handed_results(scope: Scope, event: HelperEvent) -> dict[str, Value]:
    """A function handed to a call that also passes results (``pool.map(wait, pending)``,
    ``Thread(target=wait, args=(r,))``): what it is called with is not known here, so
    each of its parameters may be one of those results."""
    node = event.node
    if not isinstance(node, ast.Call):
        return {}
    beside: Value | None = None  # a result, else a parameter of ours (its callers' results)
    given = [a.value if isinstance(a, ast.Starred) else a for a in node.args]
    given += [k.value for k in node.keywords]
    # ``map(fn, [r])``, ``args=(r,)``: the items of a literal list or tuple
    given += [e for a in given if isinstance(a, (ast.List, ast.Tuple)) for e in a.elts]
    for arg in given:
        value = scope.value(arg)
        if holds_results(value) or (beside is None and isinstance(value, Param)):
            beside = value
            if holds_results(value):
                break
    if beside is None:
        return {}
    return dict.fromkeys(event.callee.params().positional, beside)


def record_param_method(scope: Scope, event: CallEvent) -> None:
    """``runner.run()`` on a parameter: a caller passing a project object runs that
    method of its class (``def helper(runner): runner.run()``)."""
    func = event.node.func
    if (
        event.method is not None
        and isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and isinstance(event.receiver, Param)
    ):
        scope.record(PARAM_METHODS, (event.receiver.name, event.method))


def param_methods(facts: FunctionFacts) -> dict[str, set[str]]:
    """The methods a function calls on each of its parameters (through helpers too)."""
    methods: dict[str, set[str]] = {}
    for param, method in facts.found.get(PARAM_METHODS, ()):
        methods.setdefault(param, set()).add(method)
    return methods


def _objects_passed(
    scope: Scope, event: HelperEvent, args: dict[str, Value], objects: dict[str, Instance]
) -> None:
    """``helper(Runner())`` where ``helper`` calls ``runner.run()``: this call runs
    ``Runner.run`` (a parameter of ours passed on: its methods are called too)."""
    summary = scope.summary(event.callee)
    methods = param_methods(summary) if summary is not None else {}
    if not methods:
        return
    for name, value in args.items():
        if isinstance(value, Param):
            for method in methods.get(name, ()):
                scope.record(PARAM_METHODS, (value.name, method))
    for name, instance in objects.items():
        for method in sorted(methods.get(name, ())):
            found = scope.method_named(instance, method)
            if found is not None and found is not scope.info:
                # the call runs ``found`` inside the helper: its arguments are not found's
                scope.record(CALLS, HelperCall(event.node, found, {}, called=False))


#: The joins of each function (CSF101, CSF103, CSF105, CSF901).
JOIN_EVENTS = Subscribers()
JOIN_EVENTS.on_join(record_join)
#: ... its busy-waits, and the helpers each function runs, to follow joins through
#: calls (CSF104, CSF901).
REACH_EVENTS = Subscribers.merged([JOIN_EVENTS, WAIT_EVENTS])
REACH_EVENTS.on_helper(record_helper)
REACH_EVENTS.on_call(record_param_method)


def own_joins(facts: FunctionFacts) -> list[Join]:
    """The joins ``facts``' function performs on Celery results, in source order.

    A join on a parameter is the caller's (see :func:`helper_joins`), unless Celery's
    own ``disable_sync_subtasks=False`` says the object is a Celery result.
    """
    joins: list[Join] = []
    for join in facts.found.get(JOINS, ()):
        if not isinstance(join.value, Param):
            joins.append(join)
        elif join.guard_off:
            joins.append(replace(join, value=None))  # what the caller passes is unknown
    return joins


def _param_joins(
    facts: FunctionFacts, info: FunctionInfo, constants: Constants
) -> dict[str, Blocking]:
    """The first join on each parameter, else the first loop waiting on it (in a
    branch ``constants`` leave open)."""
    joins: dict[str, Blocking] = {}
    for join in [*facts.found.get(JOINS, ()), *waits(facts.found)]:
        if never_runs(info, join.node, constants):
            continue
        if isinstance(join.value, Param):
            joins.setdefault(join.value.name, join)
    return joins


def _own_blocking(facts: FunctionFacts) -> list[Blocking]:
    """The joins, then the busy-waits, ``facts``' function performs on its own results."""
    own: list[Blocking] = [*own_joins(facts)]
    return own + [wait for wait in waits(facts.found) if not isinstance(wait.value, Param)]


def helper_joins(analysis: ModuleAnalysis, facts: FunctionFacts) -> Iterator[HelperJoin]:
    """For a task: each of its calls that reaches a join in a helper.

    Followed as Python runs it: along each call path a helper's parameters hold the
    call's constant arguments (or their defaults), and a branch those decide is never
    taken there (:mod:`.interp.decided`). A task's own parameters are never constants.
    """
    for call in facts.found.get(CALLS, ()):
        if never_runs(facts.info, call.node, {}):
            continue
        for path, join in _call_leads(analysis, call, None, frozenset({id(facts.info)}), {}):
            yield HelperJoin(call, path, join)
            break


def _reached_join(
    analysis: ModuleAnalysis,
    info: FunctionInfo,
    param: str | None,
    seen: frozenset[int],
    constants: Constants,
) -> tuple[tuple[FunctionInfo, ...], Blocking] | None:
    """A join ``info`` performs (on its parameter ``param``, or on its own results)
    in a branch its ``constants`` (its parameters' values on this path) leave open."""
    if id(info) in seen or info.task is not None:
        return None  # recursion, or a task: its own joins are reported on it
    facts = analysis.summary(info)
    if facts is None:
        return None
    seen = seen | {id(info)}
    if param is None:
        for join in _own_blocking(facts):
            if never_runs(info, join.node, constants):
                continue
            # a helper's allow_join_result() block hides the join from Celery's own
            # check, not the deadlock: a task reaching it still waits on a worker
            return (info,), join
    else:
        found = _param_joins(facts, info, constants).get(param)
        if found is not None:
            return (info,), found
    for call in facts.found.get(CALLS, ()):
        if never_runs(info, call.node, constants):
            continue
        for leads in _call_leads(analysis, call, param, seen, constants):
            return (info, *leads[0]), leads[1]
    return None


def _call_leads(
    analysis: ModuleAnalysis,
    call: HelperCall,
    param: str | None,
    seen: frozenset[int],
    constants: Constants,
) -> Iterator[tuple[tuple[FunctionInfo, ...], Blocking]]:
    """Joins ``call`` leads to: the callee's own, or on a value we pass it
    (``constants``: the caller's parameters known on this path)."""
    given = bound_constants(call.node, call.callee, constants) if call.called else {}
    if param is None:
        found = _reached_join(analysis, call.callee, None, seen, given)
        if found is not None:
            yield found
    for name, value in call.args.items():
        wanted = value.name if isinstance(value, Param) else None
        if (param is None and holds_results(value)) or (param is not None and wanted == param):
            found = _reached_join(analysis, call.callee, name, seen, given)
            if found is not None and not _ignored_get(value, found[1]):
                yield found


def _ignored_get(value: Value, join: Blocking) -> bool:
    """A result sent with its result ignored, whose ``get``/``wait`` Celery answers with
    ``None`` at once (no wait, no check): not a join."""
    return (
        isinstance(value, Result)
        and value.ignored
        and isinstance(join, Join)
        and join.method in ("get", "wait")
    )


def helper_name(function: FunctionInfo, here: ModuleIndex) -> str:
    """How a message seen from the module ``here`` names a helper: ``helper``, or
    ``utils.helper`` for one of another module."""
    owner = function.module
    if owner is None or owner is here or not owner.path:
        return function.label
    return f"{PurePath(owner.path).stem}.{function.label}"


def call_text(node: ast.AST, limit: int = 60) -> str:
    """Short source text of ``node`` for a message."""
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def join_detail(join: Blocking) -> JoinDetail:
    """What the codemods need of a join: where it is, and where its result came from."""
    value = join.value
    detail = JoinDetail(join=join.method, join_span=span_of(join.node))
    if isinstance(value, Param):
        return replace(detail, via=value.via)
    if isinstance(value, (Result, Results)):
        return replace(
            detail,
            origin=span_of(value.origin) if value.origin is not None else None,
            origin_method=value.method,
            callee=value.callee,
            via=value.via,
            origin_path=value.origin_path,  # ``origin`` is a span in that file, when set
        )
    return detail
