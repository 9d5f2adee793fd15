"""Second pass, per function: follow Celery results through the function's body.

A forward walk in statement order with an environment ``name -> Value``. Branches
are analysed on copies and merged (a name *may* hold a result), loops run their body
once, comprehensions and lambdas get their own scope. Nested ``def``/``class`` bodies
are separate functions; calls to them (and functions handed out) are raised as
``on_helper`` events for the rules that follow calls. The walk keeps only what callers
of the function need (what it returns); everything else is an event (see ``events``).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ...canvas import (
    UNKNOWN,
    Chord,
    Received,
    Step,
    errback_received,
    parent_result,
    workflow_arguments,
)
from .appconfig import beat_entries
from .canvas import check_canvas
from .depth import MAX_DEPTH, TooDeep
from .evaluate import (
    RESULT_CLASSES,
    Env,
    Evaluator,
    concatenated,
    keyword_arg,
    listed_items,
    sent_arguments,
    signatures,
)
from .events import (
    NOBODY,
    AllowJoinEvent,
    CallEvent,
    HelperEvent,
    Join,
    LoopEvent,
    ReadEvent,
    StateEvent,
    Subscribers,
    Use,
)
from .facts import FunctionFacts
from .imports import dotted
from .index import FunctionInfo, ModuleIndex
from .states import BACKEND_WRITES, state_name, state_write
from .values import (
    HELD,
    JOINS,
    Canvas,
    Eager,
    Holding,
    Instance,
    JoinMethod,
    Param,
    Result,
    ResultClass,
    Results,
    TaskRef,
    TupleOf,
    Value,
    collection,
    element,
    holds_results,
    named,
)

__all__ = ["BUILTIN_NAMES", "CELERY_TAKES", "READS_ONLY", "FunctionFlow"]

#: What reads a Celery result's outcome without blocking: polling it, its value or state.
RESULT_READS = frozenset(
    {"ready", "successful", "failed", "state", "status", "result", "info", "traceback",
     "completed_count", "waiting", "date_done", "maybe_throw", "then"}
)
#: Its id: sent somewhere (a response, a database), it is a use only if restored and joined.
RESULT_IDS = frozenset({"id", "task_id"})
ALLOW_JOIN = frozenset({"celery.result.allow_join_result", "celery.allow_join_result"})
CONTAINER_ADD = frozenset({"append", "add", "insert", "extend", "update", "appendleft"})
#: Methods of a task or signature that keep their arguments as given.
CELERY_TAKES = frozenset({"s", "si", "signature", "subtask", "delay", "apply_async"})
#: Methods of a list, tuple or dict that read it, never change it.
READS_ONLY = frozenset({"get", "keys", "values", "items", "copy", "count", "index"})
#: Python's builtins: they read a list handed to them (``len(steps)``), never change it
BUILTIN_NAMES = frozenset(dir(builtins))


def _danger(value: Value | None) -> int:
    """How much a name holding ``value`` matters to the join rules (the merge keeps the most)."""
    match value:
        case Result():
            return 3
        case Results():
            return 2
        case Param():
            return 1
    return 0


def _added(held: Value | None, how: str, added: Canvas) -> Canvas:
    """The list of signatures ``held`` once ``added`` is put in it by ``list.<how>``.

    The order stays known only when ``held`` was a list known in order and the items go
    at its end (``append``; ``extend`` with a list known in order).
    """
    before = listed_items(held)
    more = listed_items(added) if how == "extend" else None
    items, exact = more if more is not None else ((added.canvas,), how == "append")
    if before is None:
        return signatures(items, exact=False)  # what it held before is not known
    return signatures([*before[0], *items], exact=exact and before[1])


def _container(node: ast.expr) -> str | None:
    """The name a container is tracked under: ``pending``, or ``self.pending``."""
    if isinstance(node, ast.Name):
        return node.id
    return dotted(node) if isinstance(node, ast.Attribute) else None


def _inexact(value: Value) -> Value:
    """``value``, if a list of signatures, with its order no longer known."""
    items = listed_items(value)
    if items is None or not items[1]:
        return value
    return replace(signatures(items[0], exact=False), via=value.via)


def _empty_list(value: Canvas) -> bool:
    """``return []``: no signature is returned."""
    items = listed_items(value)
    return items is not None and not items[0]


def _merge(a: Env, b: Env) -> Env:
    """May-analysis join: a name holds a result if it does on either path; a list of
    signatures that differs between the paths is no longer known in order; a value a
    serializer decides about (``HELD``) that the paths do not agree on is ``unsure``."""
    out = dict(a)
    for name, value in b.items():
        mine = out.get(name)
        if mine is None or _danger(value) > _danger(mine):
            out[name] = value
        elif mine != value and (ours := listed_items(mine)) is not None:
            theirs = listed_items(value)
            longer = value if theirs is not None and len(theirs[0]) > len(ours[0]) else mine
            out[name] = _inexact(longer)
    for name, held in out.items():
        if a.get(name) == b.get(name):
            continue
        if isinstance(held, HELD) and not held.unsure:
            out[name] = replace(held, unsure=True)
        elif isinstance(held, Canvas) and held.arguments is not None:
            out[name] = replace(held, arguments=None)
    return out


def _ends(body: Sequence[ast.stmt]) -> bool:
    """Every path through ``body`` ends in a ``return`` or a ``raise``."""
    last = body[-1] if body else None
    if isinstance(last, ast.If):
        return _ends(last.body) and _ends(last.orelse)
    return isinstance(last, (ast.Return, ast.Raise))


def _root(node: ast.expr) -> str | None:
    """The name a subscript or attribute chain starts from (``data["a"][0]``: ``data``)."""
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _made_at(value: Value | None) -> set[int]:
    """Where the containers in ``value`` were made (``Holding.origin``), nested ones too."""
    if isinstance(value, Canvas):
        return _made_at(value.arguments)  # a signature's own arguments (``t.s(order)``)
    if not isinstance(value, (Holding, TupleOf)):
        return set()
    items = value.items if isinstance(value, TupleOf) else [v for _, v in value.items]
    made = {id(value.origin)} if isinstance(value, Holding) and value.origin else set()
    for item in items:
        made |= _made_at(item)
    return made


class FunctionFlow(ast.NodeVisitor):
    """Walk one function body (or the module's top level), raising events.

    The walk owns the order (statements, branches, loops) and keeps what the function
    returns (:class:`FunctionFacts`); what an expression evaluates to is asked of an
    :class:`~.evaluate.Evaluator`, which reads the environment the walk keeps and
    records nothing.
    """

    def __init__(
        self,
        index: ModuleIndex,
        info: FunctionInfo | None,
        global_env: Env,
        summary: Callable[[FunctionInfo], FunctionFacts | None],
        follow_imports: bool = False,
        subscribers: Subscribers = NOBODY,
    ) -> None:
        self.values = Evaluator(index, info, global_env, summary, follow_imports)
        #: the enabled rules' handlers, called at each event (see ``events``)
        self.subscribers = subscribers
        self.value = self.values.value
        self.resolve_helper = self.values.resolve_helper
        self.summary = self.values.summary
        self.method_named = self.values.method_named
        self.index = index
        self.info = info
        self.imports = self.values.imports
        self.comprehension_values = self.values.comprehension_values
        self.facts = FunctionFacts(info)
        #: the ``allow_join_result()`` blocks we are in, innermost last
        self.allowing: list[ast.Call] = []
        #: how many nodes deep the walk is (bounded: see ``lint.depth``)
        self.depth = 0
        #: names called here (not handed out), and functions already handed out
        self.called: set[int] = set()
        self.handed: set[int] = set()
        #: a ``return`` was walked (see ``returned``)
        self.returns_seen = False

    @property
    def env(self) -> Env:
        """Names bound to what they hold, in the function at this point of the walk."""
        return self.values.env

    @env.setter
    def env(self, env: Env) -> None:
        self.values.env = env

    def visit(self, node: ast.AST) -> Any:
        """``NodeVisitor.visit``, counting depth (no frame added: the bound holds at
        Python's default recursion limit)."""
        if self.depth >= MAX_DEPTH:
            raise TooDeep
        self.depth += 1
        try:
            method = _VISITORS.get(node.__class__) or _visitor(node.__class__)
            return method(self, node)
        finally:
            self.depth -= 1

    def generic_visit(self, node: ast.AST) -> None:
        """``NodeVisitor.generic_visit`` without its generator of fields (the walk's
        hottest path: every node without a ``visit_`` method of its own). A leaf (``Load``,
        ``Add``...) has nothing to visit: only the depth its visit would count is checked."""
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, _LEAVES):
                        if self.depth >= MAX_DEPTH:
                            raise TooDeep
                    elif isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, _LEAVES):
                if self.depth >= MAX_DEPTH:
                    raise TooDeep
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_Constant(self, node: ast.Constant) -> None:
        """Nothing to visit (``NodeVisitor``'s own looks for ``visit_Num`` and friends)."""

    # -- entry points ---------------------------------------------------------
    def run_function(self) -> FunctionFacts:
        assert self.info is not None
        args = self.info.node.args
        defaults: list[ast.expr | None] = [None] * (len(args.posonlyargs) + len(args.args))
        defaults[len(defaults) - len(args.defaults) :] = args.defaults
        pairs = list(zip([*args.posonlyargs, *args.args], defaults, strict=True))
        pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
        extra = [a for a in (args.vararg, args.kwarg) if a is not None]
        for arg, default in [*pairs, *((a, None) for a in extra)]:
            if isinstance(default, ast.Attribute) and default.attr in RESULT_CLASSES:
                self.env[arg.arg] = ResultClass(callee=ast.unparse(default))
            else:
                self.env[arg.arg] = Param(name=arg.arg)
        if self.is_instance_method() and pairs:
            # ``self`` of a plain class's method: ``return self`` gives its object
            self.env[pairs[0][0].arg] = Instance(callee=self.info.class_name or "")
        self.statements(self.info.node.body)
        function = self.info.node
        if (
            isinstance(function, ast.AsyncFunctionDef)
            or not _ends(function.body)
            or any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(function))
        ):
            # a coroutine, a generator, or an end reached without a return (``None``)
            self.facts.returns_mixed, self.facts.returns_held = True, None
        if self.is_instance_method() and pairs:
            self.keep_stores(pairs[0][0].arg)
        return self.facts

    def keep_stores(self, me: str) -> None:
        """The object's attributes holding Celery results as the method ends: another
        method of the object may join them (see ``Evaluator.stored_results``)."""
        prefix = me + "."
        for name, held in self.env.items():
            attr = name[len(prefix):] if name.startswith(prefix) else ""
            if attr.isidentifier() and holds_results(held):
                self.facts.stores.setdefault(attr, held)

    def is_instance_method(self) -> bool:
        """A method of a project class (not a task, nor a Task subclass, nor static/class)."""
        info = self.info
        if info is None or info.class_name is None or info.task is not None:
            return False
        if info.class_name in self.index.task_classes or info.parent is not None:
            return False
        return not any(
            isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")
            for d in info.node.decorator_list
        )

    def run_module(self, body: Sequence[ast.stmt]) -> FunctionFacts:
        self.statements(body)
        if self.subscribers.on_canvas.handlers:
            self.beat_schedule(list(body))
        return self.facts

    def beat_schedule(self, body: list[ast.stmt]) -> None:
        """Each beat entry is a call of its task, sent as written every time it is due:
        checked as a canvas that receives nothing (reported at the entry's name)."""
        for entry in beat_entries(body, self.imports):
            step = self.values.scheduled(entry) or self.values.unregistered_entry(entry)
            if step is not None:
                path = ("beat_schedule", entry.name)
                self.check_canvas(Canvas(canvas=step), entry.key, None, path)

    def statements(self, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    def bind(self, target: ast.expr, value: Value | None, source: ast.expr | None = None) -> None:
        if isinstance(target, ast.Name):
            if value is None:
                self.env.pop(target.id, None)
            else:
                self.env[target.id] = named(value, target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(source, (ast.Tuple, ast.List)) and len(source.elts) == len(target.elts):
                for sub, item in zip(target.elts, source.elts, strict=True):
                    if not isinstance(sub, ast.Starred) and not isinstance(item, ast.Starred):
                        self.bind(sub, self.value(item), item)
                        continue
                    self.bind(sub, None)
                return
            items = value.items if isinstance(value, (Results, TupleOf)) else ()
            if (
                items
                and len(items) == len(target.elts)
                and not any(isinstance(sub, ast.Starred) for sub in target.elts)
            ):
                # ``result, run = run.submit()`` of a known ``tuple[AsyncResult, Run]``
                for sub, held in zip(target.elts, items, strict=True):
                    self.bind(sub, held)
                return
            each = element(value) if value is not None else None
            for sub in target.elts:
                if isinstance(sub, ast.Starred):
                    self.bind(sub.value, collection(each) if each is not None else None)
                else:
                    self.bind(sub, each)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value)
        elif (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and value is not None
            and holds_results(value)
        ):
            self.env[target.value.id] = named(collection(value), target.value.id)
        elif isinstance(target, ast.Subscript) and (root := _root(target)) is not None:
            self.changed(root)  # ``payload["user"] = user.pk``
        elif isinstance(target, ast.Attribute) and (name := dotted(target)) is not None:
            if (root := _root(target)) is not None:
                self.changed(root)  # ``sig.args = (order.pk,)``
            # ``self.pending = x.delay()``: tracked under "self.pending" in this function
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = named(value, name)

    # -- statements -----------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        if type(node.ctx) is not ast.Load:
            return
        name, env = node.id, self.values.env
        held = env.get(name)
        if held is None:
            held = self.values.globals.get(name)
        if held is not None or name in env or not self.subscribers.on_helper.handlers:
            return
        if id(node) not in self.called and id(node) not in self.handed:
            # a function of this module named but not called here is handed out
            # (stored, returned): whoever gets it runs it as part of this function
            self.handed_out(node, self.index.resolve_local(self.info, name))

    def hand_out(self, function: ast.expr, where: ast.expr) -> None:
        """``function`` (a name or ``self.method``), passed to the call ``where``."""
        if id(function) not in self.handed:
            self.handed_out(where, self.resolve_helper(function))
            self.handed.add(id(function))

    def handed_out(self, where: ast.expr, callee: FunctionInfo | None) -> None:
        if callee is not None and callee is not self.info:
            self.subscribers.on_helper.raise_(self, HelperEvent(where, callee, called=False))

    def read(self, value: Value | None, how: Use) -> None:
        """Raise ``on_read``: ``value`` (a Celery result, or a parameter that may hold
        one) is used ``how`` (see :class:`ReadEvent`)."""
        if isinstance(value, (Result, Results, Param)):
            self.subscribers.on_read.raise_(self, ReadEvent(value, how))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.generic_visit(node)
        attr = node.attr
        if (
            type(node.ctx) is not ast.Load
            or not (attr in RESULT_READS or attr in RESULT_IDS)
            or not self.subscribers.on_read.handlers
        ):
            return  # only these make evaluating the object worth it (joins: ``on_join``)
        base = self.value(node.value)
        if attr in RESULT_READS:
            self.read(base, "polled")
        elif isinstance(base, (Result, Results)):
            self.read(base, "id")  # sent somewhere (a response, a database)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value = self.value(node.value)
        if isinstance(node.value, ast.Name) and value is not None and listed_items(value):
            # ``alias = steps``: one list under two names; either may grow it unseen
            value = self.env[node.value.id] = _inexact(value)
        for target in node.targets:
            self.visit_target(target)
            self.bind(target, value, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.bind(node.target, self.value(node.value), node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        value = self.value(node.value)
        if (root := _root(node.target)) is not None:
            self.changed(root)  # ``payload |= {"user": user.pk}``, ``rows[0] += 1``
        if isinstance(node.target, ast.Name) and isinstance(node.op, ast.BitOr):
            # ``canvas |= group(...)`` is ``canvas = canvas | group(...)``
            piped = ast.BinOp(ast.Name(node.target.id, ast.Load()), ast.BitOr(), node.value)
            ast.copy_location(piped, node)
            piped.end_lineno, piped.end_col_offset = node.end_lineno, node.end_col_offset
            made = self.value(piped)
            if isinstance(made, Canvas):
                self.env[node.target.id] = made
                self.check_canvas(made, piped)
                return
        if isinstance(node.target, ast.Name) and value is not None and holds_results(value):
            self.env[node.target.id] = named(collection(value), node.target.id)
        elif isinstance(node.target, ast.Name) and isinstance(node.op, ast.Add):
            # ``steps += [t.s()]``: a list of signatures grows at its end
            self.bind(node.target, concatenated(self.env.get(node.target.id), value))

    def visit_target(self, target: ast.expr) -> None:
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            self.visit(target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node.target, self.value(node.value), node.value)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.env.pop(target.id, None)
            elif (root := _root(target)) is not None:
                self.changed(root)  # ``del payload["user"]``

    def changed(self, name: str) -> None:
        """The container ``name`` holds may have changed (an item set, deleted, a method
        called, handed to a call): what it and every container sharing it (an alias, one
        holding it) held is no longer known."""
        made = _made_at(self.env.get(name))
        if not made:
            return
        for other, held in list(self.env.items()):
            if not _made_at(held) & made:
                continue
            if isinstance(held, Canvas):  # a signature is still one: its arguments unknown
                self.env[other] = replace(held, arguments=None)
            else:  # a container still, whose items are no longer known
                self.env[other] = Holding(via=held.via, unsure=True)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is None:
            self.returned(None)
            return
        self.visit(node.value)
        value = self.value(node.value)
        if isinstance(value, (Result, Results)):
            self.read(value, "returned")
        self.returned(value)
        match value:
            case Result() | Results() if self.facts.returns is None:
                self.facts.returns = value
            case Canvas() if self.facts.returns_canvas is None and not _empty_list(value):
                self.facts.returns_canvas = value
            case Instance() | TupleOf() if self.facts.returns_object is None:
                self.facts.returns_object = value

    def returned(self, value: Value | None) -> None:
        """One more ``return``: do the function's returns agree on a ``HELD`` value?"""
        facts = self.facts
        given = replace(value, via=()) if isinstance(value, HELD) else None
        if facts.returns_mixed:
            return
        if facts.returns_held is None and not self.returns_seen:
            facts.returns_held = given
        elif given != facts.returns_held:
            facts.returns_mixed = True
            facts.returns_held = None
        self.returns_seen = True

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        before = dict(self.env)
        self.statements(node.body)
        after_body, self.env = self.env, before
        self.statements(node.orelse)
        self.env = _merge(after_body, self.env)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        iterated = self.value(node.iter)
        before = dict(self.env)
        self.bind(node.target, element(iterated) if iterated is not None else None)
        self.statements(node.body)
        self.env = _merge(before, self.env)
        self.looped(node)
        self.statements(node.orelse)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        before = dict(self.env)
        self.statements(node.body)
        self.env = _merge(before, self.env)
        self.looped(node)
        self.statements(node.orelse)

    def looped(self, node: ast.While | ast.For | ast.AsyncFor) -> None:
        """Raise ``on_loop``, with what the names may hold over the loop."""
        self.subscribers.on_loop.raise_(self, LoopEvent(node))

    def record(self, key: str, fact: Any) -> None:
        """A fact a rule module's handler found, kept for that rule (or its family)."""
        self.facts.found.setdefault(key, []).append(fact)

    def visit_Try(self, node: ast.Try) -> None:
        before = dict(self.env)
        self.statements(node.body)
        self.statements(node.orelse)
        after = _merge(before, self.env)
        merged = dict(after)
        for handler in node.handlers:
            self.env = dict(after)
            if handler.name:
                self.env.pop(handler.name, None)
            self.statements(handler.body)
            merged = _merge(merged, self.env)
        self.env = merged
        self.statements(node.finalbody)

    visit_TryStar = visit_Try  # same fields as ast.Try (Python 3.11+)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        opened = 0
        for item in node.items:
            self.visit(item.context_expr)
            expr = item.context_expr
            if isinstance(expr, ast.Call) and self.imports.qualify(expr.func) in ALLOW_JOIN:
                self.allowing.append(expr)
                opened += 1
                self.subscribers.on_allow_join.raise_(self, AllowJoinEvent(expr))
            if item.optional_vars is not None:
                self.bind(item.optional_vars, self.value(expr))
        self.statements(node.body)
        del self.allowing[len(self.allowing) - opened :]

    visit_AsyncWith = visit_With

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # The body is another function; only what runs here is visited.
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        self.env.pop(node.name, None)
        if self.info is not None:
            # a closure sees this function's names (a parameter of ours is not one of
            # its parameters: the join rules follow those through calls)
            held = {k: v for k, v in self.env.items() if not isinstance(v, Param)}
            self.index.closures[id(node)] = held

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        self.env.pop(node.name, None)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        saved = dict(self.env)
        for arg in ast.walk(node.args):
            if isinstance(arg, ast.arg):
                self.env.pop(arg.arg, None)
        self.visit(node.body)
        self.env = saved

    def comprehension(
        self,
        node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
        elements: Sequence[ast.expr],
    ) -> None:
        saved = dict(self.env)
        for generator in node.generators:
            self.visit(generator.iter)
            iterated = self.value(generator.iter)
            self.bind(generator.target, element(iterated) if iterated is not None else None)
            for condition in generator.ifs:
                self.visit(condition)
        for expr in elements:
            self.visit(expr)
        value = self.value(elements[-1])
        if isinstance(value, Canvas):
            # one signature per item: a list of signatures of unknown length
            self.comprehension_values[id(node)] = signatures([value.canvas], exact=False)
        elif value is not None and holds_results(value):
            self.comprehension_values[id(node)] = collection(value)
        self.env = saved

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self.comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp  # type: ignore[assignment]
    visit_GeneratorExp = visit_ListComp  # type: ignore[assignment]

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self.comprehension(node, [node.key, node.value])

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic_visit(node)
        if isinstance(node.op, ast.BitOr):
            self.check_canvas(self.value(node), node)

    # -- calls: where findings come from ---------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        self.called.add(id(func))
        follow = bool(self.subscribers.on_helper.handlers)  # why not: no rule follows calls
        for arg in [*node.args, *(k.value for k in node.keywords)] if follow else ():
            passed = arg.value if isinstance(arg, ast.Starred) else arg
            if isinstance(passed, (ast.Name, ast.Attribute)):
                self.hand_out(passed, node)  # ``pool.map(fn, xs)``: runs in this call
        self.generic_visit(node)
        if self.subscribers.on_call.handlers:
            receiver = self.value(func.value) if isinstance(func, ast.Attribute) else None
            method = func.attr if isinstance(func, ast.Attribute) else None
            self.subscribers.on_call.raise_(self, CallEvent(node, method, receiver))
        self.may_change(node)
        if isinstance(func, ast.Attribute):
            self.method_call(node, func)
        else:
            value = self.value(func)
            if isinstance(value, JoinMethod):
                self.join(node, value.join, value.base)
        callee = self.resolve_helper(func) if follow else None
        if callee is not None:
            self.helper_call(node, callee)
        if isinstance(func, ast.Call) and node.args:
            self.chord_called_with_body(node)
        if isinstance(func, (ast.Call, ast.BinOp)):
            self.sent_canvas(node, func, "call")
        made = self.value(node)
        # A lone mutable signature is a partial: its arguments are completed later.
        # An immutable one (``.si``) ignores what it is called with: decidable here.
        if isinstance(made, Canvas) and (
            not isinstance(made.canvas, Step)
            or made.canvas.immutable
            or made.canvas.links
            or made.canvas.errbacks  # ``Signature(..., options={"link_error": eb})``
        ):
            self.check_canvas(made, node)
        self.lists_escape(node)

    def may_change(self, node: ast.Call) -> None:
        """A container's method that may change it (``payload.update(...)``, ``.pop``),
        or a call it is handed to (``normalize(payload)``: a builtin only reads it)."""
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr not in READS_ONLY:
            root = _root(func.value)
            if root is not None:
                self.changed(root)
        if isinstance(func, ast.Name) and func.id in BUILTIN_NAMES:
            return
        if not any(isinstance(v, (Holding, Canvas)) for v in self.env.values()):
            return  # why: nothing a call could change is known (most functions)
        if isinstance(func, ast.Attribute) and func.attr in CELERY_TAKES and isinstance(
            self.value(func.value), (TaskRef, Canvas)
        ):
            return  # why: Celery's signature and send methods keep what they are given
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            passed = arg.value if isinstance(arg, ast.Starred) else arg
            root = _root(passed)
            if root is not None:
                self.changed(root)

    def lists_escape(self, node: ast.Call) -> None:
        """A list of signatures handed to a call may be changed there (``add_steps(steps)``):
        its order is not known after the call (a builtin only reads it)."""
        func = node.func
        if isinstance(func, ast.Name) and func.id in BUILTIN_NAMES:
            return
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            passed = arg.value if isinstance(arg, ast.Starred) else arg
            held = self.env.get(passed.id) if isinstance(passed, ast.Name) else None
            if held is not None and listed_items(held) is not None:
                assert isinstance(passed, ast.Name)
                self.env[passed.id] = _inexact(held)

    def sent_canvas(self, node: ast.Call, sent: ast.expr, how: str) -> None:
        """``group(...).apply_async()``, ``chain(...)()``, ``flow.delay()``: a canvas sent
        gets what it is sent with and no more, so its first steps can be checked too
        (rooted where it is built, in this module: this check knows more than the one
        made there, which it replaces)."""
        value = self.value(sent)
        if (
            not isinstance(value, Canvas)
            or value.listed
            or isinstance(value.canvas, Step)
            or value.canvas is None
            or not isinstance(value.canvas.origin, ast.AST)
            or (isinstance(value.canvas, Chord) and value.canvas.body is None)
        ):
            return
        args, kwargs = sent_arguments(node, how)
        if args is None or kwargs is None or kwargs:
            return  # keyword arguments merge into the first steps': not modelled here
        self.check_canvas(value, value.canvas.origin, workflow_arguments(args))

    def chord_called_with_body(self, node: ast.Call) -> None:
        """``chord(header)(body)``: the chord is complete only once called."""
        called = self.value(node.func)
        canvas = called.canvas if isinstance(called, Canvas) else None
        if isinstance(canvas, Chord) and canvas.body is None:
            body = self.value(node.args[0])
            if isinstance(body, Canvas):
                whole = Chord(origin=node, header=canvas.header, body=body.canvas)
                self.check_canvas(Canvas(canvas=whole), node)

    def method_call(self, node: ast.Call, func: ast.Attribute) -> None:
        attr = func.attr
        if attr in JOINS:
            base = self.value(func.value)
            if isinstance(base, Eager):
                return  # an eager result (or not Celery): it never waits for a worker
            if isinstance(base, Result) and base.ignored and attr in ("get", "wait"):
                return  # Celery returns None at once for an ignored result (no wait, no check)
            disabled = keyword_arg(node, "disable_sync_subtasks")
            if isinstance(base, (Result, Param)):
                self.join(node, attr, base)
            elif isinstance(disabled, ast.Constant) and disabled.value is False:
                self.join(node, attr, None)  # only Celery's joins take this keyword
        elif attr in CONTAINER_ADD and (name := _container(func.value)) and node.args:
            added = self.value(node.args[-1])
            if added is not None and holds_results(added):
                self.env[name] = named(collection(added), name)
            elif isinstance(added, Canvas) and isinstance(func.value, ast.Name):
                # ``steps.append(t.s(x))``: in order when ``steps`` was a list known in order
                self.env[name] = named(_added(self.env.get(name), attr, added), name)
        elif attr == "update_state" or attr in BACKEND_WRITES:
            self.update_state(node)
        elif attr in ("delay", "apply_async") and (sending := self.values.sent_step(node, func)):
            # what it is sent with is all it gets: its arguments are decidable here
            self.check_canvas(Canvas(canvas=sending[0]), sending[1], None)
            if sending[0].links or sending[0].errbacks:
                return  # a task's callbacks were checked as part of its message
        elif attr in ("delay", "apply_async"):
            self.sent_canvas(node, func.value, attr)
        elif attr == "send_task" and (sent := self.values.sent_task(node)) is not None:
            self.check_canvas(Canvas(canvas=sent), node, None)  # its arguments are all given
        elif attr == "add_periodic_task" and (sent := self.values.periodic(node)) is not None:
            # sent as it is when due, as the beat entry ``name=`` names (if literal)
            given = keyword_arg(node, "name")
            entry = given.value if isinstance(given, ast.Constant) else None
            path = ("beat_schedule", entry) if isinstance(entry, str) else ()
            self.check_canvas(Canvas(canvas=sent), node, None, path)
        elif attr in ("link", "link_error", "on_error") and node.args:
            self.callback(node.args[0], errback=attr != "link")
        if attr in ("apply_async", "apply", "send_task", "set"):
            for option in ("link", "link_error"):
                callback = keyword_arg(node, option)
                if callback is not None:
                    self.callback(callback, errback=option == "link_error")

    def callback(self, node: ast.expr, *, errback: bool) -> None:
        """``sig.link(cb)``, ``apply_async(link_error=eb)``: what Celery passes them."""
        callbacks = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
        for item in callbacks:
            linked = self.value(item)
            if not isinstance(linked, Canvas) or linked.canvas is None:
                continue
            if errback:
                received = errback_received(linked.canvas, self.index.celery)
                self.check_canvas(linked, item, received)
            else:
                self.check_canvas(linked, item, parent_result())

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        """``~sig``: Celery's ``Signature.__invert__`` is ``self.apply_async().get()``,
        for any signature or canvas (``celery/canvas.py``): a join."""
        self.generic_visit(node)
        if not isinstance(node.op, ast.Invert) or not self.subscribers.on_join.handlers:
            return
        value = self.value(node.operand)
        if isinstance(value, Canvas) and not value.listed:
            self.join(node, "~", None)

    def join(
        self, node: ast.Call | ast.UnaryOp, method: str, value: Result | Param | None
    ) -> None:
        if self.subscribers.on_join.handlers:
            self.subscribers.on_join.raise_(self, Join(node, method, value, self.allowed_by()))

    def allowed_by(self) -> ast.Call | None:
        return self.allowing[-1] if self.allowing else None

    def helper_call(self, node: ast.Call, callee: FunctionInfo) -> None:
        self.subscribers.on_helper.raise_(self, HelperEvent(node, callee, called=True))

    def update_state(self, node: ast.Call) -> None:
        """Raise ``on_state`` for ``update_state(task_id, state, meta)`` and the result
        backend's own writes (``backend.store_result``, ``backend.mark_as_failure``)."""
        if not self.subscribers.on_state.handlers:
            return
        write = state_write(node)
        if write is None:
            return
        name = state_name(write.state, self.imports, self.index, self.info)
        if write.state is None:
            name = write.default_state
        event = StateEvent(node, name, write.meta, write.state, write.call)
        self.subscribers.on_state.raise_(self, event)

    def check_canvas(
        self,
        value: Value | None,
        root: ast.AST,
        receives: Received | None = UNKNOWN,
        path: tuple[str | int, ...] = (),
    ) -> None:
        """Raise ``on_canvas``: the canvas built at ``root``, checked by the canvas model
        (only when a rule listens: the check is the cost)."""
        if not self.subscribers.on_canvas.handlers:
            return
        if isinstance(value, Canvas) and value.canvas is not None:
            backends = self.index.backends
            no_chords = backends.chord_problem()
            polls = backends.header_reads_stored_results()
            checked = check_canvas(
                root, value.canvas, receives, no_chords, polls, self.index.celery, path
            )
            self.subscribers.on_canvas.raise_(self, checked)


#: Nodes without children (contexts and operators): a visit would find nothing.
_LEAVES = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)

#: node class -> the ``FunctionFlow`` method visiting it (filled as classes are met)
_VISITORS: dict[type, Callable[[FunctionFlow, Any], Any]] = {}


def _visitor(cls: type) -> Callable[[FunctionFlow, Any], Any]:
    method: Callable[[FunctionFlow, Any], Any] = getattr(
        FunctionFlow, "visit_" + cls.__name__, FunctionFlow.generic_visit
    )
    _VISITORS[cls] = method
    return method
