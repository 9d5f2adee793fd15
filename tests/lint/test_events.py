"""The interpreter raises typed events; rules subscribe; only enabled rules' handlers run."""

from __future__ import annotations

import ast
import dataclasses
from typing import Any

import pytest

from celery_safe.lint import Config, check_source
from celery_safe.lint.engine import subscribers
from celery_safe.lint.interp.analysis import ModuleAnalysis
from celery_safe.lint.interp.canvas import CanvasCheck
from celery_safe.lint.interp.events import (
    AllowJoinEvent,
    CallEvent,
    HelperEvent,
    Join,
    LoopEvent,
    ReadEvent,
    Scope,
    StateEvent,
    Subscribers,
)
from celery_safe.lint.interp.values import Canvas, Param, Result, TaskRef
from celery_safe.lint.joins import JOIN_EVENTS, REACH_EVENTS
from celery_safe.lint.registry import CANVAS_EVENTS, RULES

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

    @listen.on_allow_join
    def allow(scope: Scope, event: AllowJoinEvent) -> None:
        heard.append(("allow", event))

    @listen.on_helper
    def helper(scope: Scope, event: HelperEvent) -> None:
        heard.append(("helper", event))

    @listen.on_read
    def read(scope: Scope, event: ReadEvent) -> None:
        heard.append(("read", event))

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
    # ``add.delay(1, 2)`` (a message of the task, rooted where the task is written), the
    # chain where it is built, then where ``.delay()`` sends it with no arguments
    message, built, sent = [e for kind, e in heard if kind == "canvas"]
    assert ast.unparse(message.root) == "add" and message.receives is None
    assert built.root is sent.root and built.receives is not None and sent.receives is None


HELPERS = """\
from celery import Celery, chord
from celery.result import allow_join_result

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


def wait_for(result):
    return result.get()


def later():
    return 1


@app.task
def total(pool, ids):
    pool.submit(later)
    with allow_join_result():
        wait_for(add.delay(1, 2))
    return chord(add.s(i, i) for i in ids)(add.s())
"""


def test_joins_on_parameters_helpers_allow_blocks_and_reads_are_events() -> None:
    heard = _heard(HELPERS)
    [param_join] = [e for kind, e in heard if kind == "join"]
    assert isinstance(param_join.value, Param) and param_join.value.name == "result"
    [allow] = [e for kind, e in heard if kind == "allow"]
    assert ast.unparse(allow.node) == "allow_join_result()"
    helpers = {(e.callee.name, e.called) for kind, e in heard if kind == "helper"}
    # handed out, called (and ``add``, named in ``add.delay``: a task, whose joins are its own)
    assert helpers == {("later", False), ("wait_for", True), ("add", False)}
    [read] = [e for kind, e in heard if kind == "read"]  # the chord's result is returned
    assert any(ast.unparse(node).startswith("chord(") for node in read.value.runs)


def test_no_subscriber_no_event_work() -> None:
    analysis = ModuleAnalysis.of(ast.parse(HELPERS))
    facts = list(analysis.all_facts())
    assert facts and all(not f.found for f in facts)  # nobody listened: nothing recorded


def test_every_rule_owns_its_detection() -> None:
    """The walk records nothing for a rule by itself: each rule subscribes to events.

    The deployment rules are the exception by design: they judge an app's literal
    configuration (``lint.deploy`` reads it into ``deployment``'s model), not a function's
    walk, so they have no event to hear."""
    silent = [code for code, rule in RULES.items() if not rule.events]
    assert silent == ["CSF401", "CSF402", "CSF403", "CSF404"]
    for code in ("CSF101", "CSF103", "CSF105"):
        assert set(JOIN_EVENTS.on_join.handlers) <= set(RULES[code].events.on_join.handlers)
    for code in ("CSF104", "CSF901"):
        assert RULES[code].events.on_helper.handlers == REACH_EVENTS.on_helper.handlers
    # CSF207 reads the arguments of sends (its own ``on_call``), not the canvas model
    assert RULES["CSF207"].events.on_call.handlers
    canvas_rules = [code for code in RULES if code.startswith("CSF2") and code != "CSF207"]
    assert len(canvas_rules) >= 9
    for code in canvas_rules:
        assert RULES[code].events.on_canvas.handlers == CANVAS_EVENTS.on_canvas.handlers


def test_engine_subscribes_only_the_enabled_rules() -> None:
    handlers = {
        code: [h for channel in rule.events.channels for h in channel.handlers]
        for code, rule in RULES.items()
    }
    only_joins = subscribers(Config(select=("CSF101",)))
    assert only_joins.on_join.handlers == JOIN_EVENTS.on_join.handlers
    assert not any(c.handlers for c in only_joins.channels if c is not only_joins.on_join)
    every = subscribers(Config())
    running = [h for channel in every.channels for h in channel.handlers]
    assert len(running) == len(set(running))  # a recorder rules share runs once
    for code, entry in RULES.items():
        enabled = Config().enabled(code)
        assert set(handlers[code]) <= set(running) or not enabled, code


def test_a_disabled_rules_handler_never_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spy subscribed as CSF106's handler runs when CSF106 is enabled, never otherwise."""
    calls: list[LoopEvent] = []

    def spy(scope: Scope, event: LoopEvent) -> None:
        calls.append(event)

    events = Subscribers.merged([RULES["CSF106"].events])
    events.on_loop(spy)
    monkeypatch.setitem(RULES, "CSF106", dataclasses.replace(RULES["CSF106"], events=events))
    subscribers.cache_clear()  # the merged handlers are cached per config
    try:
        check_source(SOURCE, config=Config(ignore=("CSF106",)))
        assert calls == []
        check_source(SOURCE, config=Config(select=("CSF101", "CSF2")))
        assert calls == []
        found = check_source(SOURCE, config=Config(select=("CSF106",)))
        assert [f.code for f in found] == ["CSF106"] and len(calls) == 1
    finally:
        subscribers.cache_clear()


def test_a_disabled_rule_records_nothing() -> None:
    found = {f.code for f in check_source(SOURCE, config=Config(select=("CSF101",)))}
    assert found == {"CSF101"}
    everything = {f.code for f in check_source(SOURCE)}
    assert {"CSF101", "CSF106", "CSF301"} <= everything


def test_rules_own_their_fixability() -> None:
    """The codemods ask the rules: which findings are joins to rewrite, and why not."""
    from celery_safe.lint.codemods.report import JOIN_CODES, reason_without_fix
    from celery_safe.lint.findings import Finding, Span

    assert JOIN_CODES == {"CSF101", "CSF102", "CSF104", "CSF105"}
    for code, entry in RULES.items():
        finding = Finding(code, "m.py", Span(1, 0, 1, 1), f"{code} ...")
        reason = reason_without_fix(finding)
        assert reason == (entry.no_fix or f"{code} has no automatic fix")


USES = """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task(ignore_result=True)
def merge(sizes):
    print(sum(sizes))


def poll(result):
    return result.state


@app.task
def start(ids):
    job = chord(add.s(i, i) for i in ids)(merge.s())
    poll(job)
    return {"task_id": job.id}
"""


def test_a_read_says_how_the_result_is_used() -> None:
    """Polled (here a parameter), its id read, returned: CSF204's handlers tell them apart."""
    reads = {(e.how, type(e.value).__name__) for kind, e in _heard(USES) if kind == "read"}
    assert reads == {("polled", "Param"), ("id", "Result")}
    # a helper polling the chord's result is a use of it: the body's result is needed
    found = check_source(USES, config=Config(select=("CSF204",)))
    assert [f.code for f in found] == ["CSF204"]
    unpolled = USES.replace("    poll(job)\n", "")
    assert check_source(unpolled, config=Config(select=("CSF204",))) == []


NOT_A_TASK = """\
from celery import Celery

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


def report(ids):
    return add.delay(1, 2).get()
"""


def test_rules_that_read_only_tasks_are_not_raised_outside_them() -> None:
    """A join outside any task is nobody's finding but CSF901's (opt-in): the walks of
    functions no task runs raise only the handlers of rules that read every function."""
    tasks_only = [code for code, rule in RULES.items() if rule.tasks_only]
    assert tasks_only == ["CSF101", "CSF102", "CSF103", "CSF104", "CSF105", "CSF106"]
    heard: list[str] = []

    def everywhere(scope: Scope, event: Join) -> None:
        heard.append(f"module {scope.info.name if scope.info else '<module>'}")

    def in_tasks(scope: Scope, event: Join) -> None:
        heard.append(f"task {scope.info.name if scope.info else '<module>'}")

    wide, full = Subscribers(), Subscribers()
    wide.on_join(everywhere)
    full.on_join(everywhere)
    full.on_join(in_tasks)
    analysis = ModuleAnalysis.of(
        ast.parse(NOT_A_TASK.replace("    return x + y", "    return add.delay(x, y).get()")),
        subscribers=full,
        module_subscribers=wide,
    )
    list(analysis.all_facts())
    assert heard == ["module add", "task add", "module report"]
    # and the findings are the same whichever walks the opt-in rule hears
    opt_in = Config(extend_select=("CSF901",))
    assert [f.code for f in check_source(NOT_A_TASK, config=opt_in)] == ["CSF901"]
    assert check_source(NOT_A_TASK) == []
