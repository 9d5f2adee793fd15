"""Second pass, per function: follow Celery results through the function's body.

A forward walk in statement order with an environment ``name -> Value``. Branches
are analysed on copies and merged (a name *may* hold a result), loops run their body
once, comprehensions and lambdas get their own scope. Nested ``def``/``class`` bodies
are separate functions; calls to them are recorded for the inter-procedural step.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from .canvas import Chain, Chord, Group, Sig, problems
from .facts import Apply, FunctionFacts, HelperCall, Join, UpdateState
from .imports import FOREIGN_ROOTS
from .index import FunctionInfo, ModuleIndex
from .values import JOINS, Value

__all__ = ["FunctionFlow"]

Env = dict[str, Value]

RESULT_FACTORIES = frozenset(
    {
        "celery.result.AsyncResult",
        "celery.result.GroupResult",
        "celery.result.ResultSet",
        "celery.result.EagerResult",
        "celery.result.result_from_tuple",
        "celery.AsyncResult",
        "celery.GroupResult",
        "celery.ResultSet",
    }
)
RESULT_CLASSES = frozenset({"AsyncResult", "GroupResult", "ResultSet"})
CANVAS_FACTORIES = {
    f"{module}.{name}": name
    for module in ("celery", "celery.canvas")
    for name in ("chain", "group", "chord", "signature", "subtask", "chunks", "xmap", "xstarmap")
}
ALLOW_JOIN = frozenset({"celery.result.allow_join_result", "celery.allow_join_result"})
#: States whose meta the result backend decodes as an exception.
EXCEPTION_STATES = frozenset(f"celery.states.{s}" for s in ("FAILURE", "RETRY", "REVOKED"))
SIGNATURE_METHODS = frozenset({"s", "si", "signature", "subtask"})
CANVAS_METHODS = frozenset({"set", "clone", "on_error", "link", "link_error", "set_immutable"})
CONTAINER_ELEMENT = frozenset({"get", "pop", "setdefault", "popitem"})
CONTAINER_SAME = frozenset({"values", "items", "copy"})
CONTAINER_ADD = frozenset({"append", "add", "insert", "extend", "update", "appendleft"})
CONTAINERS = frozenset(
    {"list", "tuple", "set", "sorted", "reversed", "enumerate", "zip", "iter", "frozenset"}
)
TRACKED_ARGS = frozenset({"result", "results", "param"})
DANGER = {"result": 3, "results": 2, "param": 1}


def _merge(a: Env, b: Env) -> Env:
    """May-analysis join: a name holds a result if it does on either path."""
    out = dict(a)
    for name, value in b.items():
        mine = out.get(name)
        if mine is None or DANGER.get(value.kind, 0) > DANGER.get(mine.kind, 0):
            out[name] = value
    return out


def _count_args(args: Sequence[ast.expr]) -> int | None:
    return None if any(isinstance(a, ast.Starred) for a in args) else len(args)


def _keyword_names(
    keywords: Sequence[ast.keyword], skip: Iterable[str] = ()
) -> frozenset[str] | None:
    if any(k.arg is None for k in keywords):
        return None
    return frozenset(k.arg for k in keywords if k.arg is not None and k.arg not in skip)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


class FunctionFlow(ast.NodeVisitor):
    """Analyse one function body (or the module's top level) into :class:`FunctionFacts`."""

    def __init__(
        self,
        index: ModuleIndex,
        info: FunctionInfo | None,
        global_env: Env,
        summary: Callable[[FunctionInfo], FunctionFacts | None],
    ) -> None:
        self.index = index
        self.imports = index.imports_for(info)
        self.info = info
        self.globals = global_env
        self.summary = summary
        self.facts = FunctionFacts(info)
        self.env: Env = {}
        self.allow_depth = 0
        self.comprehension_values: dict[int, Value | None] = {}

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
                self.env[arg.arg] = Value("result_class", callee=ast.unparse(default))
            else:
                self.env[arg.arg] = Value("param", param=arg.arg)
        self.statements(self.info.node.body)
        return self.facts

    def run_module(self, body: Sequence[ast.stmt]) -> FunctionFacts:
        self.statements(body)
        return self.facts

    def statements(self, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    # -- name binding -------------------------------------------------------------
    def lookup(self, name: str) -> Value | None:
        value = self.env.get(name)
        if value is not None or name in self.env:
            return value
        if name in self.index.task_names:
            return Value("task", callee=name, task=self.index.task_names[name])
        value = self.globals.get(name)
        if value is not None:
            return value
        qualified = self.imports.names.get(name)
        if qualified is not None and name not in self.imports.modules:
            if self.imports.is_foreign(ast.Name(name)):
                return Value("foreign")
            return Value("task", callee=name, task=self.index.imported_task(qualified))
        return None

    def bind(self, target: ast.expr, value: Value | None, source: ast.expr | None = None) -> None:
        if isinstance(target, ast.Name):
            if value is None:
                self.env.pop(target.id, None)
            else:
                self.env[target.id] = value.named(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(source, (ast.Tuple, ast.List)) and len(source.elts) == len(target.elts):
                for sub, item in zip(target.elts, source.elts, strict=True):
                    if not isinstance(sub, ast.Starred) and not isinstance(item, ast.Starred):
                        self.bind(sub, self.value(item), item)
                        continue
                    self.bind(sub, None)
                return
            element = value.element() if value is not None else None
            for sub in target.elts:
                if isinstance(sub, ast.Starred):
                    self.bind(sub.value, element.collection() if element else None)
                else:
                    self.bind(sub, element)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value)
        elif (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and value is not None
            and value.kind in ("result", "results")
        ):
            self.env[target.value.id] = value.collection().named(target.value.id)

    # -- statements -----------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value = self.value(node.value)
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
        tracked = value is not None and value.kind in ("result", "results")
        if isinstance(node.target, ast.Name) and value is not None and tracked:
            self.env[node.target.id] = value.collection().named(node.target.id)

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

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is None:
            return
        self.visit(node.value)
        value = self.value(node.value)
        if value is not None and value.kind in ("result", "results") and self.facts.returns is None:
            self.facts.returns = value

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        before = dict(self.env)
        self.statements(node.body)
        after_body, self.env = self.env, before
        self.statements(node.orelse)
        self.env = _merge(after_body, self.env)

    def loop(self, body: list[ast.stmt], orelse: list[ast.stmt]) -> None:
        before = dict(self.env)
        self.statements(body)
        self.env = _merge(before, self.env)
        self.statements(orelse)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        iterated = self.value(node.iter)
        before = dict(self.env)
        self.bind(node.target, iterated.element() if iterated else None)
        self.statements(node.body)
        self.env = _merge(before, self.env)
        self.statements(node.orelse)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self.loop(node.body, node.orelse)

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
        allowing = 0
        for item in node.items:
            self.visit(item.context_expr)
            expr = item.context_expr
            if isinstance(expr, ast.Call) and self.imports.qualify(expr.func) in ALLOW_JOIN:
                self.facts.allow_joins.append(expr)
                allowing = 1
            if item.optional_vars is not None:
                self.bind(item.optional_vars, self.value(expr))
        self.allow_depth += allowing
        self.statements(node.body)
        self.allow_depth -= allowing

    visit_AsyncWith = visit_With

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # The body is another function; only what runs here is visited.
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        self.env.pop(node.name, None)

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
            self.bind(generator.target, iterated.element() if iterated else None)
            for condition in generator.ifs:
                self.visit(condition)
        for element in elements:
            self.visit(element)
        value = self.value(elements[-1])
        if value is not None and value.kind == "canvas":
            self.comprehension_values[id(node)] = value
        elif value is not None and value.kind in ("result", "results"):
            self.comprehension_values[id(node)] = value.collection()
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
            self.check_canvas(self.value(node))

    # -- calls: where findings come from ---------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute):
            self.method_call(node, func)
        else:
            value = self.value(func)
            if value is not None and value.kind == "join_method":
                self.join(node, value.join, value.base)
        callee = self.resolve_helper(func)
        if callee is not None:
            self.helper_call(node, callee)
        made = self.value(node)
        if made is not None and made.kind == "canvas" and not isinstance(made.canvas, Sig):
            self.check_canvas(made)

    def method_call(self, node: ast.Call, func: ast.Attribute) -> None:
        attr = func.attr
        if attr in JOINS:
            base = self.value(func.value)
            disabled = _keyword(node, "disable_sync_subtasks")
            if isinstance(disabled, ast.Constant) and disabled.value is False:
                keyword = next(k for k in node.keywords if k.arg == "disable_sync_subtasks")
                self.facts.disable_sync.append((node, keyword))
                if base is None or base.kind != "result":
                    self.join(node, attr, None)
            if base is not None and base.kind == "result":
                self.join(node, attr, base)
            elif base is not None and base.kind == "param":
                self.facts.param_joins.setdefault(
                    base.param, Join(node, attr, base, self.allow_depth > 0)
                )
        elif attr == "apply":
            base = self.value(func.value)
            if base is not None and base.kind == "task":
                self.facts.applies.append(
                    Apply(node, base.callee or ast.unparse(func.value), base.task)
                )
        elif attr in CONTAINER_ADD and isinstance(func.value, ast.Name) and node.args:
            added = self.value(node.args[-1])
            if added is not None and added.kind in ("result", "results"):
                name = func.value.id
                self.env[name] = added.collection().named(name)
        elif attr == "update_state":
            self.update_state(node)
        elif attr in ("link", "link_error") and node.args:
            linked = self.value(node.args[0])
            if attr == "link" and linked is not None and linked.kind == "canvas":
                self.check_canvas(linked, prepended=1)
        if attr in ("apply_async", "delay", "apply"):
            link = _keyword(node, "link")
            linked = self.value(link) if link is not None else None
            if linked is not None and linked.kind == "canvas":
                self.check_canvas(linked, prepended=1)

    def join(self, node: ast.Call, method: str, value: Value | None) -> None:
        self.facts.joins.append(Join(node, method, value, self.allow_depth > 0))

    def resolve_helper(self, func: ast.expr) -> FunctionInfo | None:
        if isinstance(func, ast.Name):
            if func.id in self.env:
                return None
            return self.index.resolve_local(self.info, func.id)
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")
            and self.info is not None
            and self.info.class_name is not None
        ):
            return self.index.methods.get(self.info.class_name, {}).get(func.attr)
        return None

    def helper_call(self, node: ast.Call, callee: FunctionInfo) -> None:
        params = callee.params()
        names = [name for name, _ in params.positional]
        args: dict[str, Value] = {}
        for i, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred) or i >= len(names):
                break
            value = self.value(arg)
            if value is not None and value.kind in TRACKED_ARGS:
                args[names[i]] = value
        for keyword in node.keywords:
            value = self.value(keyword.value) if keyword.arg else None
            if keyword.arg and value is not None and value.kind in TRACKED_ARGS:
                args[keyword.arg] = value
        self.facts.calls.append(HelperCall(node, callee, args))

    def update_state(self, node: ast.Call) -> None:
        state = _keyword(node, "state") or (node.args[1] if len(node.args) > 1 else None)
        meta = _keyword(node, "meta") or (node.args[2] if len(node.args) > 2 else None)
        if state is None or meta is None:
            return
        if isinstance(state, ast.Constant) and isinstance(state.value, str):
            name = state.value
        else:
            name = (self.imports.qualify(state) or "").rpartition(".")[2]
            name = name if self.imports.qualify(state) in EXCEPTION_STATES else ""
        if name not in ("FAILURE", "RETRY", "REVOKED"):
            return
        keys: list[str] = []
        if isinstance(meta, ast.Dict):
            for key in meta.keys:
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    return  # ** spread or computed key: cannot tell
                keys.append(key.value)
        elif (
            isinstance(meta, ast.Call)
            and isinstance(meta.func, ast.Name)
            and meta.func.id == "dict"
        ):
            names = _keyword_names(meta.keywords)
            if names is None or meta.args:
                return
            keys = sorted(names)
        else:
            return
        if "exc_type" not in keys:
            self.facts.update_states.append(UpdateState(node, name, tuple(keys)))

    def check_canvas(self, value: Value | None, prepended: int = 0) -> None:
        if value is not None and value.kind == "canvas" and value.canvas is not None:
            self.facts.canvas.extend(problems(value.canvas, prepended))

    # -- values -----------------------------------------------------------------------
    def value(self, node: ast.expr | None) -> Value | None:
        """What ``node`` evaluates to, as far as Celery results are concerned."""
        if isinstance(node, ast.Name):
            found = self.lookup(node.id)
            if found is not None and isinstance(found.canvas, Sig):
                # report a signature where it is used, not where it was built
                return replace(found, canvas=replace(found.canvas, node=node))
            return found
        if isinstance(node, ast.Call):
            return self.call_value(node)
        if isinstance(node, ast.Attribute):
            return self.attribute_value(node)
        if isinstance(node, ast.Subscript):
            base = self.value(node.value)
            return base.element() if base is not None else None
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return self.container([self.value(e) for e in node.elts])
        if isinstance(node, ast.Dict):
            return self.container([self.value(v) for v in node.values])
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension_values.get(id(node))
        if isinstance(node, ast.IfExp):
            return self.value(node.body) or self.value(node.orelse)
        if isinstance(node, ast.BoolOp):
            for operand in node.values:
                found = self.value(operand)
                if found is not None:
                    return found
            return None
        if isinstance(node, ast.NamedExpr):
            return self.value(node.value)
        if isinstance(node, ast.Starred):
            return self.value(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.pipe(node)
        if isinstance(node, ast.Await):
            return None
        return None

    def container(self, items: list[Value | None]) -> Value | None:
        for item in items:
            if item is not None and item.kind in ("result", "results"):
                return item.collection()
        return None

    def attribute_value(self, node: ast.Attribute) -> Value | None:
        qualified = self.imports.qualify(node)
        on_module = self.imports.is_module(node.value) or (
            isinstance(node.value, ast.Attribute) and self.imports.qualify(node.value) is not None
        )
        if qualified is not None and (on_module or isinstance(node.value, ast.Name)):
            # ``tasks.add`` where ``tasks`` is a module (``import``, or ``from . import``)
            if qualified.partition(".")[0] in ("celery", "kombu"):
                return None
            if self.imports.is_foreign(node):
                return Value("foreign")
            task = self.index.imported_task(qualified)
            if on_module or task is not None:
                return Value("task", callee=ast.unparse(node), task=task)
        base = self.value(node.value)
        if base is None:
            return None
        attr = node.attr
        if base.kind == "result":
            if attr == "parent":
                return base
            if attr in ("children", "results"):
                return base.collection()
            if attr in JOINS:
                return Value("join_method", join=attr, base=base)
        elif base.kind == "param" and attr in ("parent", "children", "results"):
            return base
        return None

    def call_value(self, node: ast.Call) -> Value | None:
        func = node.func
        if isinstance(func, ast.Attribute):
            return self.method_value(node, func)
        qualified = self.imports.qualify(func)
        if qualified is not None:
            return self.factory_value(node, qualified)
        if isinstance(func, ast.Name):
            if func.id in CONTAINERS and node.args and func.id not in self.env:
                inner = self.value(node.args[0])
                return inner.collection() if inner and inner.kind in ("result", "results") else None
            if func.id == "next" and node.args:
                inner = self.value(node.args[0])
                return inner.element() if inner else None
        called = self.value(func)
        if called is not None:
            return self.apply_value(node, called)
        callee = self.resolve_helper(func)
        if callee is not None and callee.task is None:
            summary = self.summary(callee)
            if summary is not None:
                return summary.returns
        return None

    def apply_value(self, node: ast.Call, called: Value) -> Value | None:
        if called.kind == "result_class":
            return Value("result", node, called.callee, called.callee)
        if called.kind == "canvas":
            canvas = called.canvas
            if isinstance(canvas, Chord) and canvas.body is None and node.args:
                body = self.value(node.args[0])
                if body is not None and body.kind == "canvas":
                    self.check_canvas(replace(called, canvas=Chord(canvas.header, body.canvas)))
            return Value("result", node, "__call__", ast.unparse(node.func))
        return None

    def factory_value(self, node: ast.Call, qualified: str) -> Value | None:
        if qualified in RESULT_FACTORIES:
            return Value("result", node, qualified.rpartition(".")[2], ast.unparse(node.func))
        kind = CANVAS_FACTORIES.get(qualified)
        if kind is not None:
            return Value("canvas", canvas=self.build_canvas(kind, node))
        if qualified.partition(".")[0] in FOREIGN_ROOTS:
            return Value("foreign")
        return None

    def method_value(self, node: ast.Call, func: ast.Attribute) -> Value | None:
        attr = func.attr
        receiver = func.value
        qualified = self.imports.qualify(func)
        if qualified is not None and (self.imports.is_module(receiver) or "." in qualified):
            found = self.factory_value(node, qualified)
            if found is not None or self.imports.is_module(receiver):
                return found
        base = self.value(receiver)
        if base is not None and base.kind == "foreign":
            return None
        kind = base.kind if base is not None else None
        if attr in ("delay", "apply_async"):
            if kind in (None, "task", "canvas", "param"):
                return Value("result", node, attr, ast.unparse(receiver))
            return None
        if attr == "apply":
            if kind in ("task", "canvas"):
                return Value("result", node, attr, ast.unparse(receiver))
            return None
        if attr == "send_task" and kind in (None, "task"):
            label = node.args[0] if node.args else None
            callee = repr(label.value) if isinstance(label, ast.Constant) else "send_task"
            return Value("result", node, attr, callee)
        if attr in RESULT_CLASSES and kind in (None, "task"):
            return Value("result", node, attr, ast.unparse(func))
        if attr == "restore" and (
            kind == "result_class"
            or (
                isinstance(receiver, (ast.Name, ast.Attribute))
                and ast.unparse(receiver).endswith("GroupResult")
            )
        ):
            return Value("result", node, "restore", ast.unparse(func))
        if attr in SIGNATURE_METHODS and kind in (None, "task"):
            return Value("canvas", canvas=self.signature(node, func, base))
        if kind == "canvas" and base is not None:
            if attr in CANVAS_METHODS:
                if (
                    attr == "set"
                    and _is_true(_keyword(node, "immutable"))
                    and isinstance(base.canvas, Sig)
                ):
                    return replace(base, canvas=replace(base.canvas, immutable=True))
                return base
            return None
        if kind == "results" and base is not None:
            if attr in CONTAINER_ELEMENT:
                return base.element()
            if attr in CONTAINER_SAME:
                return base
        return None

    # -- canvas shapes ------------------------------------------------------------
    def signature(self, node: ast.Call, func: ast.Attribute, base: Value | None) -> Sig:
        task = base.task if base is not None else None
        label = ast.unparse(node)
        if func.attr in ("signature", "subtask"):
            args_node = node.args[0] if node.args else _keyword(node, "args")
            kwargs_node = node.args[1] if len(node.args) > 1 else _keyword(node, "kwargs")
            nargs = (
                _count_args(args_node.elts)
                if isinstance(args_node, (ast.Tuple, ast.List))
                else (0 if args_node is None else None)
            )
            if kwargs_node is None:
                kwargs: frozenset[str] | None = frozenset()
            elif isinstance(kwargs_node, ast.Dict) and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in kwargs_node.keys
            ):
                kwargs = frozenset(
                    str(k.value) for k in kwargs_node.keys if isinstance(k, ast.Constant)
                )
            else:
                kwargs = None
            immutable = _is_true(_keyword(node, "immutable"))
            return Sig(node, label, task, nargs, kwargs, immutable)
        return Sig(
            node,
            label,
            task,
            _count_args(node.args),
            _keyword_names(node.keywords),
            func.attr == "si",
        )

    def members(self, args: Sequence[ast.expr]) -> tuple[Value | None, ...]:
        if len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
            return tuple(self.value(e) for e in args[0].elts)
        if len(args) == 1 and isinstance(args[0], (ast.ListComp, ast.GeneratorExp)):
            return (self.value(args[0]),)
        return tuple(self.value(a) for a in args)

    def build_canvas(self, kind: str, node: ast.Call) -> Chain | Group | Chord | Sig | None:
        def shape(value: Value | None) -> Chain | Group | Chord | Sig | None:
            return value.canvas if value is not None and value.kind == "canvas" else None

        if kind == "chain":
            if any(isinstance(a, ast.Starred) for a in node.args):
                return None
            return Chain(tuple(shape(v) for v in self.members(node.args)))
        if kind == "group":
            if any(isinstance(a, ast.Starred) for a in node.args):
                return None
            return Group(tuple(shape(v) for v in self.members(node.args)))
        if kind == "chord":
            header_node = node.args[0] if node.args else _keyword(node, "header")
            body_node = node.args[1] if len(node.args) > 1 else _keyword(node, "body")
            if header_node is None or isinstance(header_node, ast.Starred):
                return None
            header_value = self.value(header_node)
            if isinstance(header_node, (ast.List, ast.Tuple, ast.ListComp, ast.GeneratorExp)):
                header = Group(tuple(shape(v) for v in self.members([header_node])))
            elif header_value is not None and isinstance(header_value.canvas, Group):
                header = header_value.canvas
            else:
                return None
            body = shape(self.value(body_node)) if body_node is not None else None
            return Chord(header, body)
        return None

    def pipe(self, node: ast.BinOp) -> Value | None:
        left, right = self.value(node.left), self.value(node.right)
        if left is None or right is None or left.kind != "canvas" or right.kind != "canvas":
            return None
        head = left.canvas.steps if isinstance(left.canvas, Chain) else (left.canvas,)
        tail = right.canvas.steps if isinstance(right.canvas, Chain) else (right.canvas,)
        return Value("canvas", canvas=Chain((*head, *tail)))
