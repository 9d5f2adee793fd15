"""Shared test plumbing. Redis comes from the plugin's ``celery_safe_redis_url`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def only_this_tests_tasks() -> Iterator[None]:
    """Apps made in the test get no shared task of other test modules: a shared task
    (README examples, ``shared_task``) adds itself to every app made later, and
    ``check_app`` rightly judges it too (seen: the README's ``shop.store``, and every
    shared task of the suite under CSF402, in the whole suite only)."""
    from celery import _state

    saved = set(_state._on_app_finalizers)
    _state._on_app_finalizers.clear()
    try:
        yield
    finally:
        _state._on_app_finalizers.update(saved)
