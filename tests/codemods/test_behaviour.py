"""A legacy module, run eagerly: its joins inside tasks fail (Celery's own check, and the
guard) before the fix; after ``celery-safe fix`` the same calls run under the guard and
return what the hand-written fix returns, which is what the legacy code computes when
called directly (where nothing refuses its joins)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import celery_safe
from celery_safe.lint.codemods import fix_source
from celery_safe.lint.engine import check_source

from .conftest import FIXTURES

LEGACY = (FIXTURES / "legacy_shop.py").read_text(encoding="utf-8")
MANUAL = (FIXTURES / "shop_manual.py").read_text(encoding="utf-8")

ITEMS = [["apple", 2], ["pear", 1], ["kiwi", 1], ["plum", 3]]
CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("order_total", ([["apple", 2], ["pear", 1], ["plum", 3]],)),
    ("checkout", (ITEMS,)),
    ("cheapest", (["pear", "apple", "plum"],)),
]

Loader = Callable[[str, str], ModuleType]


def run(module: ModuleType, task: str, args: tuple[Any, ...]) -> Any:
    return getattr(module, task).delay(*args).get()


@pytest.mark.parametrize(("task", "args"), CALLS, ids=[c[0] for c in CALLS])
def test_legacy_joins_fail_in_eager_mode(
    load_module: Loader, task: str, args: tuple[Any, ...]
) -> None:
    legacy = load_module(LEGACY, "legacy")
    with pytest.raises(RuntimeError, match=r"Never call result\.get"):
        run(legacy, task, args)


@pytest.mark.parametrize(("task", "args"), CALLS, ids=[c[0] for c in CALLS])
def test_legacy_joins_fail_under_the_guard(
    load_module: Loader, task: str, args: tuple[Any, ...]
) -> None:
    legacy = load_module(LEGACY, "legacy")
    celery_safe.guard(legacy.app)
    with pytest.raises(celery_safe.JoinInTaskError):
        run(legacy, task, args)


@pytest.mark.parametrize(("task", "args"), CALLS, ids=[c[0] for c in CALLS])
def test_fixed_module_runs_guarded_and_returns_what_the_manual_fix_returns(
    load_module: Loader, task: str, args: tuple[Any, ...]
) -> None:
    fixed_source = fix_source(LEGACY, "legacy_shop.py").fixed
    fixed = load_module(fixed_source, "fixed")
    manual = load_module(MANUAL, "manual")
    legacy = load_module(LEGACY, "legacy")
    celery_safe.guard(fixed.app)
    celery_safe.guard(manual.app)

    expected = run(manual, task, args)
    assert run(fixed, task, args) == expected
    # ...and what the legacy task computes when called directly, outside Celery's check.
    assert getattr(legacy, task)(*args) == expected


def test_fixed_module_has_no_join_left_and_a_second_fix_is_a_no_op() -> None:
    first = fix_source(LEGACY, "legacy_shop.py")
    assert first.changed and not first.remaining
    assert not [f for f in check_source(first.fixed, "legacy_shop.py") if f.code.startswith("CSF1")]
    assert fix_source(first.fixed, "legacy_shop.py").fixed == first.fixed


def test_code_outside_tasks_keeps_its_join() -> None:
    fixed = fix_source(LEGACY, "legacy_shop.py").fixed
    tail = fixed[fixed.index("def helper_outside_tasks") :]
    assert 'return price.delay("apple").get()' in tail
