"""The Celery side's configuration, beat schedule and periodic tasks, without a worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from celery.utils.time import rate
from registry import tasks
from registry.celery_app import (
    BEAT_SCHEDULE,
    QUEUE_ENV,
    SYNC_INTERVAL_ENV,
    app,
    beat_schedule,
    celery_config,
)
from registry.config import load_settings
from registry.db import session_scope
from registry.sources import CollectionSpec
from registry.store import record_collection_error, upsert_collection

from celery_safe.embedded import DEFAULT_VISIBILITY_TIMEOUT
from celery_safe.workflows import validate_schedule

CRASH_SAFETY = {"task_acks_late": True, "task_reject_on_worker_lost": True,
                "worker_prefetch_multiplier": 1}


def test_the_embedded_default_keeps_broker_and_results_under_home(tmp_path: Path) -> None:
    config = celery_config(load_settings(environ={}, home=str(tmp_path)))
    assert config["broker_url"] == f"sqlite:///{tmp_path.resolve() / 'celery' / 'broker.sqlite'}"
    assert config["database_url"].startswith(f"sqlite:///{tmp_path.resolve() / 'celery'}")
    assert CRASH_SAFETY.items() <= config.items()
    timeout = config["broker_transport_options"]["visibility_timeout"]
    assert timeout == DEFAULT_VISIBILITY_TIMEOUT == 60.0  # renewed while a worker lives


def test_the_embedded_broker_takes_the_visibility_timeout_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_VISIBILITY_TIMEOUT", "7")
    config = celery_config(load_settings(environ={}, home=str(tmp_path)))
    assert config["broker_transport_options"]["visibility_timeout"] == 7.0


def test_a_redis_broker_also_holds_results_and_requeues_a_dead_workers_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_VISIBILITY_TIMEOUT", "7")
    settings = load_settings(environ={"REGISTRY_BROKER_URL": "redis://queue:6379/3"},
                             home=str(tmp_path))
    config = celery_config(settings)
    assert config["broker_url"] == config["result_backend"] == "redis://queue:6379/3"
    assert config["broker_transport_options"]["visibility_timeout"] == 7.0
    assert CRASH_SAFETY.items() <= config.items()
    assert "database_url" not in config

    explicit = load_settings(
        environ={"REGISTRY_BROKER_URL": "redis://queue:6379/3",
                 "REGISTRY_RESULT_BACKEND": "db+postgresql://db/registry"},
        home=str(tmp_path),
    )
    assert celery_config(explicit)["result_backend"] == "db+postgresql://db/registry"


def test_a_queue_of_its_own_keeps_registries_on_one_broker_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(environ={}, home=str(tmp_path))
    assert "task_default_queue" not in celery_config(settings)  # Celery's "celery"
    monkeypatch.setenv(QUEUE_ENV, "registry-staging")
    assert celery_config(settings)["task_default_queue"] == "registry-staging"


def test_beat_runs_registered_tasks_every_6_hours_and_every_5_minutes() -> None:
    schedule = {entry["task"]: entry["schedule"] for entry in BEAT_SCHEDULE.values()}
    assert schedule == {"registry.scheduled_sync": timedelta(hours=6),
                        "registry.health_check": timedelta(minutes=5),
                        "registry.scheduled_task_growth": timedelta(days=1)}
    assert set(schedule) <= set(app.tasks)
    assert app.conf.beat_schedule == BEAT_SCHEDULE


def test_health_check_reports_a_broken_collection_as_degraded(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'registry.db'}"
    with session_scope(db_url) as session:
        assert tasks.health_check.logic(db=session)["status"] == "ok"
        upsert_collection(session, CollectionSpec(
            name="Broken", slug="broken", git_url="file:///nowhere", git_ref="main",
            owner="o", owner_email="o@example.com", description="",
        ))
        record_collection_error(session, "broken", "cannot clone")
    with session_scope(db_url) as session:
        health = tasks.health_check.logic(db=session)
    assert health["status"] == "degraded"
    assert health["collection_errors"] == [{"collection": "broken", "error": "cannot clone"}]


def test_scheduled_sync_without_a_collections_file_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_HOME", str(tmp_path))
    tasks.current_settings.cache_clear()
    try:
        assert tasks.scheduled_sync.logic() is None
    finally:
        tasks.current_settings.cache_clear()


def test_the_beat_schedule_is_valid_and_checked_when_beat_starts() -> None:
    from celery_safe.workflows import validate_schedule

    assert validate_schedule(app) == []


def test_the_deployment_is_checked_when_workers_and_beat_start(tmp_path: Path) -> None:
    """check_app on the registry's own configurations: clean on the embedded broker and on
    Redis; the crash tests' short visibility timeout is CSF401 (ignored at start on
    purpose: they make Redis redeliver a running task, and every task is idempotent)."""
    from celery import Celery

    from celery_safe.workflows import check_app

    assert check_app(app) == []
    redis = {"REGISTRY_BROKER_URL": "redis://queue:6379/3"}
    knob = {**redis, "REGISTRY_VISIBILITY_TIMEOUT": "3"}
    for environ, codes in ((redis, []), (knob, ["CSF401"])):
        other = Celery("registry", include=["registry.tasks", "registry.operations"],
                       set_as_current=False)
        other.conf.update(celery_config(load_settings(environ=environ, home=str(tmp_path))))
        if "REGISTRY_VISIBILITY_TIMEOUT" in environ:  # celery_config reads it from os.environ
            other.conf.broker_transport_options = {"visibility_timeout": 3.0}
        found = check_app(other)
        assert [p.code for p in found] == codes, found
    assert "'registry.enhance_bundle' may hold its message 75 s" in found[0].message


def test_the_sync_interval_can_be_shortened_and_beat_checks_it() -> None:
    assert beat_schedule({}) == BEAT_SCHEDULE
    shortened = beat_schedule({SYNC_INTERVAL_ENV: "2.5"})
    assert shortened["sync-collections-every-6h"] == {
        "task": "registry.scheduled_sync", "schedule": 2.5,
    }
    assert shortened["health-check-every-5min"] == BEAT_SCHEDULE["health-check-every-5min"]
    original = app.conf.beat_schedule
    app.conf.beat_schedule = beat_schedule({SYNC_INTERVAL_ENV: "0"})
    try:
        (problem,) = validate_schedule(app)
    finally:
        app.conf.beat_schedule = original
    assert (problem.code, problem.where) == ("CSF213", "beat_schedule.sync-collections-every-6h")


def test_enhance_bundle_carries_the_policys_retries_rate_and_time_limits() -> None:
    policy = tasks.ENHANCE_POLICY
    task = tasks.enhance_bundle
    assert (task.max_retries, task.rate_limit) == (policy.max_retries, policy.rate_limit)
    assert (task.soft_time_limit, task.time_limit) == (
        policy.soft_time_limit, policy.time_limit,
    )
    assert task.soft_time_limit < task.time_limit
    assert rate(task.rate_limit) > 0  # a rate Celery's worker understands
