"""One module's analysis: the index, each function's facts, and who reaches which join.

Functions are analysed on demand and once (a task's helper is analysed when the task
calls it), so a module whose tasks call nothing costs one walk of its tasks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .events import Subscribers
from .facts import FunctionFacts, HelperCall, Join
from .flow import FunctionFlow
from .index import FunctionInfo, ModuleIndex, build_index
from .values import Param, Value, holds_results

__all__ = ["TASK_ONLY_METHODS", "HelperJoin", "ModuleAnalysis"]

#: Methods only a Celery task has: evidence that an imported name is a task.
TASK_ONLY_METHODS = frozenset(
    {"delay", "apply_async", "s", "si", "signature", "subtask", "map", "starmap", "chunks", "logic"}
)


@dataclass(frozen=True)
class HelperJoin:
    """A join reached from a task through calls: ``path`` ends in the joining function."""

    call: HelperCall  # the call in the task that leads there
    path: tuple[FunctionInfo, ...]
    join: Join


@dataclass(eq=False)
class ModuleAnalysis:
    tree: ast.Module
    index: ModuleIndex
    module: FunctionFacts
    globals: dict[str, Value] = field(default_factory=dict)
    facts: dict[tuple[int, bool], FunctionFacts] = field(default_factory=dict)
    _running: set[tuple[int, bool]] = field(default_factory=set)
    #: the canvases the module builds, outermost only (filled by the canvas rules)
    canvases: list[Any] | None = None
    #: the enabled rules' handlers, raised by every function's walk
    subscribers: Subscribers = field(default_factory=Subscribers)

    @classmethod
    def of(
        cls,
        tree: ast.Module,
        index: ModuleIndex | None = None,
        extra_decorators: Sequence[str] = (),
        subscribers: Subscribers | None = None,
    ) -> ModuleAnalysis:
        """Analyse ``tree``'s top level; ``subscribers`` hear every function's events."""
        index = index or build_index(tree, extra_decorators)
        subscribers = subscribers or Subscribers()
        analysis = cls(tree, index, FunctionFacts(None), subscribers=subscribers)
        index.analysis = analysis
        flow = FunctionFlow(
            index, None, {}, analysis.summary_without_imports, subscribers=subscribers
        )
        analysis.module = flow.run_module(tree.body)
        analysis.globals = flow.env
        analysis.infer_globals()
        return analysis

    def infer_globals(self) -> None:
        """What module globals hold once functions assign them (``global X; X = C()``
        in a ``worker_process_init`` handler): a name the top level leaves unknown
        takes the value a function of the module gives it."""
        for info in self.index.functions:
            names = info.declared_global
            if not names or not names - self.globals.keys():
                continue
            flow = FunctionFlow(self.index, info, self.globals, self.summary_without_imports)
            flow.run_function()
            for name in names:
                value = flow.env.get(name)
                if value is not None and name not in self.globals:
                    self.globals[name] = value

    def summary(self, info: FunctionInfo, follow_imports: bool = True) -> FunctionFacts | None:
        """``info``'s facts, computed once; ``None`` while it is being computed (recursion).

        ``follow_imports`` lets the flow analyse helpers of other modules (only
        ``celery-safe check`` can); it is asked for tasks and what they reach, not
        for the rest of a module, whose canvases are all that matters there.
        """
        module = info.module
        if module is not None and module is not self.index:
            owner = module.analysis
            if owner is None and module.tree is not None:
                owner = ModuleAnalysis.of(module.tree, module, subscribers=self.subscribers)
            if isinstance(owner, ModuleAnalysis):
                return owner.summary(info, follow_imports)  # a helper of another module
            return None
        key = (id(info), follow_imports)
        if key in self.facts:
            return self.facts[key]
        if not follow_imports and (id(info), True) in self.facts:
            return self.facts[(id(info), True)]
        if key in self._running:
            return None
        self._running.add(key)
        try:
            follow = self.summary if follow_imports else self.summary_without_imports
            flow = FunctionFlow(
                self.index, info, self.globals, follow, follow_imports, self.subscribers
            )
            facts = flow.run_function()
        finally:
            self._running.discard(key)
        self.facts[key] = facts
        return facts

    def summary_without_imports(self, info: FunctionInfo) -> FunctionFacts | None:
        return self.summary(info, follow_imports=False)

    @cached_property
    def task_like_names(self) -> frozenset[str]:
        """Names this module also uses as Celery tasks (``x.delay``, ``x.s``...)."""
        return frozenset(
            node.value.id
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Attribute)
            and node.attr in TASK_ONLY_METHODS
            and isinstance(node.value, ast.Name)
        )

    def all_facts(self) -> Iterator[FunctionFacts]:
        """The top level, then every function in source order."""
        yield self.module
        for info in self.index.functions:
            facts = self.summary(info, follow_imports=info.task is not None)
            if facts is not None:
                yield facts

    def task_facts(self) -> Iterator[FunctionFacts]:
        for info in self.index.tasks:
            facts = self.summary(info)
            if facts is not None:
                yield facts

    # -- inter-procedural -------------------------------------------------------
    def reached_join(
        self, info: FunctionInfo, param: str | None, seen: frozenset[int] = frozenset()
    ) -> tuple[tuple[FunctionInfo, ...], Join] | None:
        """A join ``info`` performs (on its parameter ``param``, or on its own results)."""
        if id(info) in seen or info.task is not None:
            return None  # recursion, or a task: its own joins are reported on it
        facts = self.summary(info)
        if facts is None:
            return None
        seen = seen | {id(info)}
        if param is None:
            for join in facts.joins:
                # a helper's allow_join_result() block hides the join from Celery's own
                # check, not the deadlock: a task reaching it still waits on a worker
                return (info,), join
        elif param in facts.param_joins:
            return (info,), facts.param_joins[param]
        for call in facts.calls:
            for leads in self.call_leads(call, param, seen):
                return (info, *leads[0]), leads[1]
        return None

    def call_leads(
        self, call: HelperCall, param: str | None, seen: frozenset[int] = frozenset()
    ) -> Iterator[tuple[tuple[FunctionInfo, ...], Join]]:
        """Joins ``call`` leads to: the callee's own, or on a value we pass it."""
        if param is None:
            found = self.reached_join(call.callee, None, seen)
            if found is not None:
                yield found
        for name, value in call.args.items():
            wanted = value.name if isinstance(value, Param) else None
            if (param is None and holds_results(value)) or (param is not None and wanted == param):
                found = self.reached_join(call.callee, name, seen)
                if found is not None:
                    yield found

    def helper_joins(self, facts: FunctionFacts) -> Iterator[HelperJoin]:
        """For a task: each of its calls that reaches a join in a helper."""
        for call in facts.calls:
            for path, join in self.call_leads(call, None, frozenset({id(facts.info)})):
                yield HelperJoin(call, path, join)
                break

