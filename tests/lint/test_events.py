"""The interpreter raises typed events; rules subscribe; only enabled rules' handlers run."""

from __future__ import annotations

import ast
from typing import Any

from celery_safe.lint import Config, check_source
from celery_safe.lint.engine import subscribers
from celery_safe.lint.interp.analysis import ModuleAnalysis
from celery_safe.lint.interp.canvas import CanvasCheck
from celery_safe.lint.interp.events import (
    CallEvent,
    LoopEvent,
    Scope,
    StateEvent,
    Subscribers,
)
from celery_safe.lint.interp.facts import Join
from celery_safe.lint.interp.values import Canvas, Result, TaskRef
from celery_safe.lint.registry import RULES

SOURCE = """\
import time
from celery import Celery, chain, states

app = Celery("shop", backend="redis://")


@app.task
def add(x, y):
    return x + y


@app.task(bind=True)
def total(self, items):
    pending = add.delay(1, 2)
    while not pending.ready():
        time.sleep(1)
    self.update_state(state=states.FAILURE, meta={"reason": "no"})
    chain(add.s(1, 2), add.s(3)).delay()
    return pending.get()
"""


def _heard(source: str) -> list[tuple[str, Any]]:
    heard: list[tuple[str, Any]] = []
    listen = Subscribers()

    @listen.on_call
    def call(scope: Scope, event: CallEvent) -> None:
        heard.append(("call", event))

    @listen.on_join
    def join(scope: Scope, event: Join) -> None:
        heard.append(("join", event))

    @listen.on_loop
    def loop(scope: Scope, event: LoopEvent) -> None:
        heard.append(("loop", event))

    @listen.on_state
    def state(scope: Scope, event: StateEvent) -> None:
        heard.append(("state", event))

    @listen.on_canvas
    def canvas(scope: Scope, event: CanvasCheck) -> None:
        heard.append(("canvas", event))

    analysis = ModuleAnalysis.of(ast.parse(source), subscribers=listen)
    list(analysis.task_facts())
    return heard


def test_each_event_carries_what_the_interpreter_knows() -> None:
    heard = _heard(SOURCE)
    calls = [e for kind, e in heard if kind == "call"]
    delay = next(e for e in calls if ast.unparse(e.node.func) == "add.delay")
    assert isinstance(delay.receiver, TaskRef) and delay.receiver.callee == "add"
    ready = next(e for e in calls if e.method == "ready")
    assert isinstance(ready.receiver, Result) and ready.receiver.method == "delay"
    chained = next(e for e in calls if e.method == "delay" and isinstance(e.receiver, Canvas))
    assert ast.unparse(chained.node).startswith("chain(")

    [join] = [e for kind, e in heard if kind == "join"]
    assert join.method == "get" and isinstance(join.value, Result)
    assert join.value.via == ("pending",)
    [loop] = [e for kind, e in heard if kind == "loop"]
    assert isinstance(loop.node, ast.While)
    [state] = [e for kind, e in heard if kind == "state"]
    assert state.state == "FAILURE" and isinstance(state.meta, ast.Dict)
    assert [kind for kind, _ in heard].count("canvas") == 1


def test_no_subscriber_no_event_work() -> None:
    analysis = ModuleAnalysis.of(ast.parse(SOURCE))
    facts = list(analysis.task_facts())
    assert all(not f.found for f in facts)  # nobody listened: nothing recorded
    assert sum(len(f.joins) for f in facts) == 1  # the interpreter's own facts remain


def test_engine_subscribes_only_the_enabled_rules() -> None:
    handlers = {
        code: [h for channel in rule.events.channels for h in channel.handlers]
        for code, rule in RULES.items()
    }
    subscribing = {code for code, found in handlers.items() if found}
    assert {"CSF102", "CSF105", "CSF106", "CSF301"} <= subscribing

    only_joins = subscribers(Config(select=("CSF101",)))
    assert not only_joins  # CSF101 reads the interpreter's joins; no handler runs
    every = subscribers(Config())
    running = {h for channel in every.channels for h in channel.handlers}
    for code in subscribing - {"CSF901"}:
        assert set(handlers[code]) <= running, code


def test_a_disabled_rule_records_nothing() -> None:
    found = {f.code for f in check_source(SOURCE, config=Config(select=("CSF101",)))}
    assert found == {"CSF101"}
    everything = {f.code for f in check_source(SOURCE)}
    assert {"CSF101", "CSF106", "CSF301"} <= everything


def test_rules_own_their_fixability() -> None:
    """The codemods ask the rules: which findings are joins to rewrite, and why not."""
    from celery_safe.lint.codemods.report import JOIN_CODES, reason_without_fix
    from celery_safe.lint.findings import Finding, Span

    assert JOIN_CODES == {"CSF101", "CSF104", "CSF105"}
    for code, entry in RULES.items():
        finding = Finding(code, "m.py", Span(1, 0, 1, 1), f"{code} ...")
        reason = reason_without_fix(finding)
        assert reason == (entry.no_fix or f"{code} has no automatic fix")
