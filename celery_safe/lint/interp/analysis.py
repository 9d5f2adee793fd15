"""One module's analysis: the index and each function's facts, walked with the enabled
rules' handlers listening.

Functions are analysed on demand and once (a task's helper is analysed when the task
calls it), so a module whose tasks call nothing costs one walk of its tasks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from .events import NOBODY, Subscribers
from .facts import FunctionFacts
from .flow import FunctionFlow
from .index import FunctionInfo, ModuleIndex, build_index
from .values import Value

__all__ = ["TASK_ONLY_METHODS", "ModuleAnalysis", "let_go"]

#: Methods only a Celery task has: evidence that an imported name is a task.
TASK_ONLY_METHODS = frozenset(
    {"delay", "apply_async", "s", "si", "signature", "subtask", "map", "starmap", "chunks", "logic"}
)


@dataclass(eq=False)
class ModuleAnalysis:
    tree: ast.Module
    index: ModuleIndex
    module: FunctionFacts
    globals: dict[str, Value] = field(default_factory=dict)
    facts: dict[tuple[int, bool], FunctionFacts] = field(default_factory=dict)
    _running: set[tuple[int, bool]] = field(default_factory=set)
    #: the enabled rules' handlers, raised by the walks made for a task (its own, and
    #: those of the functions it runs: ``follow_imports``)
    subscribers: Subscribers = field(default_factory=lambda: NOBODY)
    #: the handlers raised by the other walks (the top level, functions walked for the
    #: rules that read every function); ``None``: the same as ``subscribers``
    module_subscribers: Subscribers | None = None

    @classmethod
    def of(
        cls,
        tree: ast.Module,
        index: ModuleIndex | None = None,
        extra_decorators: Sequence[str] = (),
        subscribers: Subscribers | None = None,
        module_subscribers: Subscribers | None = None,
    ) -> ModuleAnalysis:
        """Analyse ``tree``'s top level; ``subscribers`` hear every function's events
        (``module_subscribers``, when given, instead of them outside what tasks run)."""
        index = index or build_index(tree, extra_decorators)
        subscribers = NOBODY if subscribers is None else subscribers
        analysis = cls(
            tree, index, FunctionFacts(None), subscribers=subscribers,
            module_subscribers=module_subscribers,
        )  # fmt: skip
        index.analysis = analysis
        flow = FunctionFlow(
            index, None, {}, analysis.summary_without_imports,
            subscribers=analysis.listening(follow_imports=False),
        )  # fmt: skip
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
            listening = (
                isinstance(owner, ModuleAnalysis)
                and owner.subscribers is self.subscribers
                and owner.module_subscribers is self.module_subscribers
            )
            module.celery = self.index.celery  # the run's target Celery, whoever asks
            if not listening and module.tree is not None:
                # why again: its facts were recorded for other rules (another config)
                owner = ModuleAnalysis.of(
                    module.tree, module, subscribers=self.subscribers,
                    module_subscribers=self.module_subscribers,
                )  # fmt: skip
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
                self.index, info, self.globals, follow, follow_imports,
                self.listening(follow_imports),
            )  # fmt: skip
            facts = flow.run_function()
        finally:
            self._running.discard(key)
        self.facts[key] = facts
        return facts

    def listening(self, follow_imports: bool) -> Subscribers:
        """Who hears a walk: every enabled rule on a task's behalf (``follow_imports``),
        else the rules that read every function."""
        if follow_imports or self.module_subscribers is None:
            return self.subscribers
        return self.module_subscribers

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


def let_go(index: ModuleIndex) -> None:
    """Break the reference cycles of a module's index and analysis (a function and its
    module, a nested def and its parent, the index and its analysis), so that reference
    counting frees the module's objects as soon as nobody uses them.

    Why: objects in cycles wait for the garbage collector, whose next collection walks
    every one of them (a module's tree and facts: tens of thousands); freed at once they
    cost it nothing. Only for an index nothing will use again: its functions lose their
    nested defs, the index its functions, names and analysis.
    """
    analysis = index.analysis
    for info in index.functions:
        info.local_defs.clear()
    for container in (
        index.functions, index.top_level, index.methods, index.task_names, index.registered,
        index.closures, index.stand_ins,
    ):
        container.clear()
    index.analysis = None
    if isinstance(analysis, ModuleAnalysis):
        analysis.facts.clear()
        analysis.globals.clear()
