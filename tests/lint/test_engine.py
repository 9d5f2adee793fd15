"""The engine API the codemods and the CLI rely on: findings' detail, config, failures."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from celery_safe.lint import (
    Config,
    ConfigError,
    InternalError,
    Span,
    check_source,
    check_tree,
    load_config,
)
from celery_safe.lint.front.cli import check_file
from celery_safe.lint.findings import AllowJoinDetail
from celery_safe.lint.noqa import suppressed_codes
from celery_safe.lint.registry import RULES, Rule

SOURCE = """\
from celery import shared_task

@shared_task
def fetch(i):
    return i

def fetch_all(ids):
    pending = [fetch.delay(i) for i in ids]
    return [p.get() for p in pending]

@shared_task
def refresh(ids):
    first = fetch.apply_async((1,))
    eager = fetch.apply(args=(2,))
    return first.get(), fetch_all(ids), eager.get()
"""


def by_code(source: str = SOURCE) -> dict[str, dict[str, object]]:
    return {f.code: dict(vars(f.detail), task=f.task, span=f.span) for f in check_source(source)}


def test_join_findings_carry_what_the_codemods_need() -> None:
    found = by_code()
    assert set(found) == {"CSF101", "CSF104", "CSF105"}
    join = found["CSF101"]
    assert join["join"] == "get" and join["origin_method"] == "apply_async"
    assert join["origin"] == Span(13, 12, 13, 35) and join["callee"] == "fetch"
    assert join["via"] == ("first",) and join["task"] == "refresh"
    assert join["span"] == Span(15, 11, 15, 22)
    helper = found["CSF104"]
    assert helper["call_path"] == ("refresh", "fetch_all")
    assert helper["origin"] == Span(8, 15, 8, 29) and helper["via"] == ("pending", "p")
    assert helper["span"] == Span(15, 24, 15, 38)
    eager = found["CSF105"]
    assert (eager["join"], eager["origin_method"], eager["callee"]) == ("get", "apply", "fetch")
    assert eager["via"] == ("eager",) and eager["join_span"] == Span(15, 40, 15, 51)


def test_check_tree_without_lines_gives_the_same_findings() -> None:
    assert check_tree(ast.parse(SOURCE), "<string>") == check_source(SOURCE)


def test_a_rule_failure_is_an_internal_error_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(report: object) -> object:
        raise KeyError("boom")

    monkeypatch.setitem(RULES, "CSF101", Rule("CSF101", broken, "test"))  # type: ignore[arg-type]
    with pytest.raises(InternalError, match=r"m\.py: internal error in celery-safe"):
        check_source(SOURCE, "m.py")
    target = tmp_path / "m.py"
    target.write_text(SOURCE)
    (finding,), _ = check_file(target, Config())
    assert finding.code == "CSF999" and "KeyError" in finding.message


@pytest.mark.parametrize(
    ("select", "ignore", "code", "enabled"),
    [
        ((), (), "CSF101", True),
        ((), (), "CSF901", False),
        (("CSF9",), (), "CSF901", True),
        ((), ("CSF1",), "CSF101", False),
        (("CSF101",), ("CSF1",), "CSF101", True),
        (("CSF1",), ("CSF101",), "CSF101", False),
    ],
)
def test_select_and_ignore_longest_prefix_wins(
    select: tuple[str, ...], ignore: tuple[str, ...], code: str, enabled: bool
) -> None:
    assert Config(select=select, ignore=ignore).enabled(code) is enabled


def test_config_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.celery-safe]\nselect = ["csf901"]\ntask-decorators = ["a.b"]\nexclude = ["x"]\n'
    )
    (tmp_path / "pkg").mkdir()
    config = load_config(tmp_path / "pkg")
    assert (config.select, config.task_decorators, config.exclude) == (
        ("CSF901",),
        ("a.b",),
        ("x",),
    )
    assert config.root == tmp_path
    (tmp_path / "pyproject.toml").write_text('[tool.celery-safe]\nignore = "CSF101"\n')
    with pytest.raises(ConfigError, match="ignore must be a list of strings"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="F401 is not a CSF code"):
        Config().merged(ignore=["F401"])


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        ("x = 1", None),
        ("x = 1  # noqa", {"*"}),
        ("x = 1  # NoQA:CSF101,CSF102", {"CSF101", "CSF102"}),
        ("x = 1  # noqa: CSF101 CSF104", {"CSF101", "CSF104"}),
        ("x = 1  # not a noqa", None),
    ],
)
def test_noqa_comments_parse_like_flake8(line: str, codes: set[str] | None) -> None:
    found = suppressed_codes(line)
    assert (set(found) if found is not None else None) == codes


def test_allow_join_result_block_lists_the_joins_it_covers() -> None:
    source = (
        "from celery import shared_task\n"
        "from celery.result import AsyncResult, allow_join_result\n\n"
        "@shared_task\ndef t(a, b):\n"
        "    with allow_join_result():\n        x = AsyncResult(a).get()\n"
        "    with allow_join_result():\n        pass\n"
        "    return x\n"
    )
    first, second = check_source(source)
    assert (first.code, second.code) == ("CSF103", "CSF103")
    assert first.detail == AllowJoinDetail((Span(7, 12, 7, 32),))
    assert second.detail == AllowJoinDetail(())


NESTED = """\
from celery import chain, shared_task


@shared_task
def add(x, y):
    return x + y


class Runner:
    def run(self, x):
        def inner(y):
            return add.delay(x, y).get()
        return inner


@shared_task
def total(ids):
    chain(add.s(1, 2), add.s(3)).delay()
    return Runner().run(1)(2)
"""


def test_a_checked_module_leaves_nothing_for_the_garbage_collector() -> None:
    """Reference counting frees a module's index, facts and tree as soon as its findings
    are made (the engine breaks their cycles): the collector has nothing to walk. (Not
    so for a module whose app the deployment rules build with Celery: Celery's own.)"""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        first = check_source(NESTED, "m.py")  # fills the engine's per-config caches
        gc.collect()
        assert check_source(NESTED, "m.py") == first
        assert gc.collect() == 0
        assert check_source("import os\n\ndef task(): pass\n", "n.py") == []
        assert gc.collect() == 0  # a module the engine stops at after its index, too
    finally:
        if enabled:
            gc.enable()


def test_a_run_paused_for_the_collector_collects_once_enough_has_grown() -> None:
    """``check`` pauses the garbage collector for its whole run and collects only once
    ``limit`` more objects are alive than at the last collection: what a run leaves in
    cycles is bounded, and found."""
    import gc
    import weakref

    from celery_safe.lint.engine import collect_when_grown, paused_gc

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    with paused_gc():
        gc.collect()
        first = Cycle()
        gone = weakref.ref(first)
        del first
        collect_when_grown(limit=10_000)  # one cycle: far below the limit, kept
        assert gone() is not None
        more = [[] for _ in range(20_000)]  # objects the collector counts
        collect_when_grown(limit=10_000)
        assert gone() is None and more
        assert not gc.isenabled()  # still paused: the collection was ours


def test_check_pauses_the_collector_for_its_run_only(tmp_path: Path) -> None:
    import gc

    from celery_safe.cli import main

    (tmp_path / "m.py").write_text(NESTED)
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            assert main(["check", "--no-cache", str(tmp_path)]) == 1
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
