"""Every private Celery/kombu name celery-safe uses exists in the installed versions,
and the guard refuses to start, naming the name, on a Celery that moved one.

The matrix (``make matrix``) runs this on every supported Celery minor."""

from __future__ import annotations

import pytest
from celery import result as celery_result

import celery_safe
from celery_safe import celery_internals, join_guard
from celery_safe.celery_internals import INTERNALS, Internal


@pytest.mark.parametrize("internal", INTERNALS, ids=lambda item: item.label)
def test_every_internal_exists_on_this_celery(internal: Internal) -> None:
    assert internal.present(), f"{internal.label} is gone ({internal.users}: {internal.why})"


def test_the_list_covers_every_join_the_guard_wraps() -> None:
    listed = {item.label for item in INTERNALS if item.users == "guard"}
    for cls, methods in join_guard.BLOCKING_METHODS.items():
        for method in methods:
            assert f"celery.result.{cls.__name__}.{method}()" in listed


def test_a_missing_method_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(celery_result.ResultSet, "join_native")
    lacking = celery_internals.missing("guard")
    assert [item.label for item in lacking] == ["celery.result.ResultSet.join_native()"]


def test_an_inherited_method_is_not_enough_for_one_the_guard_wraps() -> None:
    # EagerResult inherits collect() from AsyncResult: wrapping it there covers both.
    assert Internal("celery.result:EagerResult", "collect", "guard", "a test").present()
    assert not Internal("celery.result:EagerResult", "collect()", "guard", "a test").present()


def test_guard_fails_loudly_when_celery_moved_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from celery import Celery, _state

    monkeypatch.delattr(_state, "_task_stack")
    monkeypatch.setattr(join_guard, "_installed", False)
    app = Celery("moved", set_as_current=False)
    moved = r"celery\._state\._task_stack"
    with pytest.raises(celery_safe.CeleryInternalsError, match=moved) as caught:
        celery_safe.guard(app)
    assert "guard: the per-thread stack of running tasks" in str(caught.value)
    assert not celery_safe.is_guarded(app)


def test_a_moved_module_counts_as_missing() -> None:
    gone = Internal("celery.no_such_module", "anything", "guard", "a test")
    assert not gone.present()
    assert gone.label == "celery.no_such_module.anything"


def test_the_linters_default_target_is_the_installed_celery() -> None:
    """On every Celery of the matrix: the linter models the Celery installed beside it
    unless ``[tool.celery-safe] celery`` names another, and that one is supported."""
    import celery

    from celery_safe.celery_internals import SUPPORTED_CELERY, default_target
    from celery_safe.lint.config import Config

    installed = tuple(int(part) for part in celery.VERSION[:3])
    assert default_target() == Config().target == installed
    assert installed[:2] in SUPPORTED_CELERY
