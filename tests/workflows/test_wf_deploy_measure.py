"""What the deployment checks (CSF401-CSF404) claim Celery does, measured on real workers
and brokers on every Celery minor of the matrix. Each test waits for something it can
observe (a note, a broker key, a worker's reply), never for a fixed time.

- CSF401: on Redis, a message held past ``visibility_timeout`` (a countdown, or an
  ``acks_late`` task still running) is restored by the next consumer's sweep and runs twice.
- CSF402: under ``acks_late`` without ``reject_on_worker_lost``, a task whose pool process
  is SIGKILLed (as by the OOM killer) is acknowledged: gone from the broker, never retried.
- CSF403: a ``task_routes`` key that matches no task routes nothing (a typo, or the task's
  name without its module); the task lands on the default queue. Globs and compiled
  patterns match; Django's settings give ``CELERY_TASK_ROUTES`` (and the old
  ``CELERY_ROUTES``) under ``namespace="CELERY"``, through ``from .base import *``.
- CSF405: a message routed to a queue no worker consumes waits there (and
  ``check-app --inspect`` says so).
- CSF404: RabbitMQ delivers a queue without ``x-max-priority`` (``queue_arguments`` or
  ``Queue(max_priority=)``) in arrival order whatever the priority; Redis cannot tell apart
  priorities that fall on one ``priority_steps`` step, and sends a priority ``int()``
  cannot read (``"low_priority"``) as 0, silently; py-amqp refuses to send one (loud).
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from celery import Celery
from wf_deploy_app import CONFIG_ENV, NOTES, make_app, read_notes

from celery_safe.celery_internals import namespace_reads_old_names
from celery_safe.deployment.csf404 import _redis_reads
from celery_safe.deployment.view import AppView
from celery_safe.lint.interp.appconfig import _normalised
from celery_safe.testing.worker_process import WorkerProcess

pytestmark = [pytest.mark.worker]

HERE = Path(__file__).resolve().parent
DEADLINE = 90.0
REDIS_DB = 6
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], deadline: float = DEADLINE) -> T:
    """``probe()`` once it returns something truthy; fails naming ``what`` at the deadline."""
    end = time.monotonic() + deadline
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > end:
            pytest.fail(f"not observed within {deadline}s: {what}")
        time.sleep(0.1)


@pytest.fixture
def redis_conf(celery_safe_redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    import redis

    url = f"{celery_safe_redis_url}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield {
        "broker_url": url, "result_backend": url,
        "broker_connection_retry_on_startup": True, "worker_prefetch_multiplier": 1,
        "task_default_queue": f"deploy-{uuid.uuid4().hex[:8]}", NOTES: str(tmp_path / "notes"),
    }
    client.flushdb()


def worker(
    conf: dict[str, Any], concurrency: int = 2, queues: tuple[str, ...] = ()
) -> WorkerProcess:
    env = {CONFIG_ENV: json.dumps(conf)}
    return WorkerProcess("wf_deploy_app", pool="prefork", concurrency=concurrency, cwd=HERE,
                         env=env, queues=queues)


def unacked_older_than(app: Celery, task_id: str, seconds: float) -> bool:
    """The broker holds ``task_id`` as delivered-but-unacknowledged for over ``seconds``."""
    import redis

    client = redis.Redis.from_url(app.conf.broker_url)
    for tag, payload in client.hgetall("unacked").items():
        message = json.loads(payload)[0]
        if message["headers"].get("id") == task_id:
            score = client.zscore("unacked_index", tag)
            return score is not None and time.time() - score > seconds
    return False


def scheduled_copies(app: Celery, task_id: str) -> int:
    """How many copies of ``task_id`` the live workers hold for their countdown."""
    replies = app.control.inspect(timeout=1.0).scheduled() or {}
    return sum(entry["request"]["id"] == task_id for held in replies.values() for entry in held)


# -- CSF401 ----------------------------------------------------------------------------


@pytest.mark.redis
def test_countdown_beyond_visibility_timeout_is_delivered_twice(redis_conf: dict[str, Any]) -> None:
    conf = {**redis_conf, "broker_transport_options": {"visibility_timeout": 1}}
    app = make_app(conf)
    with worker(conf):
        task_id = app.tasks["deploy.note"].apply_async(countdown=600).id
        # the worker holds it, unacknowledged, for its countdown
        wait_for("the worker holding the countdown task", lambda: scheduled_copies(app, task_id))
        wait_for("the message older than visibility_timeout",
                 lambda: unacked_older_than(app, task_id, 1))
        # any consumer's sweep restores it: a second worker starting (a deploy, autoscaling)
        with worker(conf):
            copies = wait_for("a second copy held", lambda: scheduled_copies(app, task_id) >= 2)
    assert copies


@pytest.mark.redis
def test_acks_late_task_running_past_visibility_timeout_runs_twice(
    redis_conf: dict[str, Any],
) -> None:
    conf = {**redis_conf, "broker_transport_options": {"visibility_timeout": 1}}
    app = make_app(conf)
    notes = redis_conf[NOTES]
    with worker(conf):
        result = app.tasks["deploy.hold"].delay()
        wait_for("the task started", lambda: read_notes(notes))
        wait_for("the message older than visibility_timeout",
                 lambda: unacked_older_than(app, result.id, 1))
        with worker(conf):
            starts = wait_for(
                "a second run of the same task",
                lambda: [n for n in read_notes(notes) if n[:2] == ["start", result.id]][1:] or None,
            )
            # each copy returns how many starts it saw: 2, or more if a sweep restored the
            # second copy too while it ran
            assert result.get(timeout=DEADLINE) >= 2
    pids = {n[2] for n in read_notes(notes) if n[:2] == ["start", result.id]}
    assert starts and len(pids) >= 2  # two processes ran the one task at once


@pytest.mark.redis
def test_within_visibility_timeout_runs_once(redis_conf: dict[str, Any]) -> None:
    """The control: the same task, visibility_timeout left at its default, runs once."""
    app = make_app(redis_conf)
    with worker(redis_conf):
        task_id = app.tasks["deploy.note"].apply_async(countdown=1).id
        wait_for("the task ran", lambda: read_notes(redis_conf[NOTES]))
        with worker(redis_conf):
            assert app.AsyncResult(task_id).get(timeout=DEADLINE) == task_id
    assert [n[0] for n in read_notes(redis_conf[NOTES])] == ["ran"]


# -- CSF402 ----------------------------------------------------------------------------


def _queue_is_empty(app: Celery) -> bool:
    import redis

    client = redis.Redis.from_url(app.conf.broker_url)
    return client.hlen("unacked") == 0 and client.llen(app.conf.task_default_queue) == 0


@pytest.mark.redis
def test_acks_late_worker_killed_is_acknowledged_and_lost(redis_conf: dict[str, Any]) -> None:
    app = make_app(redis_conf)
    with worker(redis_conf, concurrency=1):
        result = app.tasks["deploy.die"].delay()
        wait_for("the task failed", lambda: result.state == "FAILURE")
        assert type(result.result).__name__ == "WorkerLostError"
        # acknowledged: the broker no longer has it anywhere, so nothing can run it again
        wait_for("the message gone from the broker", lambda: _queue_is_empty(app))
    assert [n[0] for n in read_notes(redis_conf[NOTES])] == ["attempt"]


@pytest.mark.redis
@pytest.mark.amqp
def test_acks_late_worker_killed_is_acknowledged_on_rabbitmq_too(
    redis_conf: dict[str, Any], celery_safe_amqp_url: str
) -> None:
    """The ack is the worker's decision (``Request.on_failure``), not the broker's."""
    conf = {**redis_conf, "broker_url": celery_safe_amqp_url}
    app = make_app(conf)
    with worker(conf, concurrency=1):
        result = app.tasks["deploy.die"].delay()
        wait_for("the task failed", lambda: result.state == "FAILURE")
    # the worker is gone: a message it had not acknowledged would be back on the queue
    with app.connection_for_read() as connection:
        queue = app.amqp.queues[conf["task_default_queue"]].bind(connection.default_channel)
        _, ready, _ = queue.queue_declare(passive=True)
        queue.delete()
    assert ready == 0 and [n[0] for n in read_notes(conf[NOTES])] == ["attempt"]


@pytest.mark.redis
def test_reject_on_worker_lost_runs_it_again(redis_conf: dict[str, Any]) -> None:
    conf = {**redis_conf, "task_reject_on_worker_lost": True}
    app = make_app(conf)
    with worker(conf, concurrency=1):
        result = app.tasks["deploy.die"].delay()
        assert result.get(timeout=DEADLINE) == "survived"
    assert [n[0] for n in read_notes(conf[NOTES])] == ["attempt", "attempt"]


# -- CSF403 ----------------------------------------------------------------------------


@pytest.mark.redis
def test_typo_route_key_sends_the_task_to_the_default_queue(redis_conf: dict[str, Any]) -> None:
    import redis

    client = redis.Redis.from_url(redis_conf["broker_url"])
    default = redis_conf["task_default_queue"]
    for key, lands_on in (("deploy.nte", default), ("deploy.note", "special"),
                          ("deploy.n*", "special"), ("deploy.x*", default),
                          ("note", default), (re.compile(r"deploy\.n.*"), "special"),
                          (re.compile(r"note"), default)):
        client.flushdb()
        app = make_app({**redis_conf, "task_routes": {key: {"queue": "special"}}})
        app.tasks["deploy.note"].delay()
        assert (client.llen(lands_on), client.llen("special" if lands_on == default else default)) \
            == (1, 0), key


DJANGO_SENDER = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "site_settings.prod"
from celery import Celery
app = Celery("site", set_as_current=False)
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="deploy.note", shared=False)
def note():
    pass


note.delay()
print(app.conf.task_default_queue)
"""


@pytest.mark.redis
@pytest.mark.parametrize("setting", ["CELERY_TASK_ROUTES", "CELERY_ROUTES", "TASK_ROUTES"])
def test_django_settings_route_under_the_celery_namespace(
    redis_conf: dict[str, Any], tmp_path: Path, setting: str
) -> None:
    """Django's settings, split as projects split them (``prod`` star-imports ``base``),
    read by ``config_from_object("django.conf:settings", namespace="CELERY")``: the
    namespaced name routes, the old one only where Celery reads old names under a namespace
    (5.7 on), a name outside the namespace never; the linter reads each as Celery does."""
    import redis

    package = tmp_path / "site_settings"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text(
        f"SECRET_KEY = 'x'\nCELERY_BROKER_URL = {redis_conf['broker_url']!r}\n"
        f"CELERY_TASK_DEFAULT_QUEUE = {redis_conf['task_default_queue']!r}\n"
        f"{setting} = {{'deploy.note': {{'queue': 'special'}}}}\n")
    (package / "prod.py").write_text("from .base import *\nDEBUG = False\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run([sys.executable, "-c", DJANGO_SENDER], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    client = redis.Redis.from_url(redis_conf["broker_url"])
    routed = setting == "CELERY_TASK_ROUTES" or (
        setting == "CELERY_ROUTES" and namespace_reads_old_names())
    assert (_normalised(setting, "CELERY") == "task_routes") == routed
    default = redis_conf["task_default_queue"]
    assert done.stdout.strip() == default
    assert (client.llen("special"), client.llen(default)) == ((1, 0) if routed else (0, 1))


# -- CSF405 ----------------------------------------------------------------------------


@pytest.mark.redis
def test_routed_queue_without_worker_waits_and_inspect_reports_it(
    redis_conf: dict[str, Any],
) -> None:
    import redis

    conf = {**redis_conf, "task_routes": {"deploy.note": {"queue": "special"}}}
    app = make_app(conf)
    with worker(conf, queues=(conf["task_default_queue"],)):
        routed = app.tasks["deploy.note"].delay()
        later = app.tasks["deploy.echo"].delay("later")
        assert later.get(timeout=DEADLINE) == "later"
        # the worker ran what was sent after it; the routed task waits on the broker
        assert redis.Redis.from_url(conf["broker_url"]).llen("special") == 1
        assert routed.state == "PENDING" and read_notes(conf[NOTES]) == []
        env = {**os.environ, CONFIG_ENV: json.dumps(conf)}
        done = subprocess.run(
            [sys.executable, "-m", "celery_safe.cli", "check-app", "wf_deploy_app:app",
             "--inspect", "--timeout", "5", "--format", "json"],
            cwd=HERE, env=env, capture_output=True, text=True, timeout=DEADLINE,
        )
    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)
    assert [(p["code"], p["where"]) for p in found if p["code"] == "CSF405"] == [
        ("CSF405", "queues.special")]
    assert {p["code"] for p in found} == {"CSF402", "CSF405"}  # hold and die: acks_late


# -- CSF404 ----------------------------------------------------------------------------


def _drain_order(app: Celery, queue: str, count: int) -> list[int]:
    """The priorities of the first ``count`` messages a consumer receives from ``queue``."""
    order: list[int] = []
    with app.connection_for_read() as connection:
        simple = connection.SimpleQueue(app.amqp.queues[queue], no_ack=True)
        try:
            while len(order) < count:
                message = simple.get(timeout=DEADLINE)
                order.append(message.properties.get("priority", 0))
        finally:
            simple.close()
    return order


@pytest.mark.amqp
def test_rabbitmq_queue_without_max_priority_ignores_priority(celery_safe_amqp_url: str) -> None:
    from kombu import Queue

    suffix = uuid.uuid4().hex[:8]
    plain, ranked, low = f"plain-{suffix}", f"ranked-{suffix}", f"low-{suffix}"
    app = make_app({
        "broker_url": celery_safe_amqp_url, "task_default_queue": plain,
        "task_queues": [Queue(plain, auto_delete=True),
                        Queue(ranked, auto_delete=True, queue_arguments={"x-max-priority": 9}),
                        Queue(low, auto_delete=True, queue_arguments={"x-max-priority": 5})],
        NOTES: "/dev/null",
    })
    note = app.tasks["deploy.note"]
    for queue, priorities in ((plain, (1, 5, 9)), (ranked, (1, 5, 9)), (low, (1, 7, 9))):
        with app.connection_for_write() as connection:
            app.amqp.queues[queue].bind(connection.default_channel).declare()
        for priority in priorities:  # lowest first
            note.apply_async(queue=queue, priority=priority)
    assert _drain_order(app, plain, 3) == [1, 5, 9]  # arrival order: priority ignored
    assert _drain_order(app, ranked, 3) == [9, 5, 1]
    assert _drain_order(app, low, 3) == [7, 9, 1]  # above the maximum: one level, in order


@pytest.mark.redis
def test_redis_priorities_on_one_step_are_not_told_apart(redis_conf: dict[str, Any]) -> None:
    queue = redis_conf["task_default_queue"]
    app = make_app(redis_conf)  # default priority_steps: [0, 3, 6, 9]
    note = app.tasks["deploy.note"]
    for priority in (2, 1, 4):
        note.apply_async(priority=priority)
    # 1 and 2 share step 0 (served in arrival order), 4 is step 3, served after step 0
    assert _drain_order(app, queue, 3) == [2, 1, 4]


@pytest.mark.redis
def test_redis_priority_not_a_number_is_sent_as_zero(redis_conf: dict[str, Any]) -> None:
    queue = redis_conf["task_default_queue"]
    app = make_app(redis_conf)
    note = app.tasks["deploy.note"]
    note.apply_async(priority=4)
    note.apply_async(priority="low_priority")  # kombu: int() fails, its default (0) instead
    note.apply_async(priority="5")  # int("5") reads: step 3, after the unread one
    # sent last, served first: the unread priority is on step 0, the first served
    assert _drain_order(app, queue, 3) == ["low_priority", 4, "5"]
    assert _redis_reads("low_priority") is None  # what CSF404 reports
    assert _redis_reads("5") == 5


@pytest.mark.amqp
def test_rabbitmq_priority_not_a_number_fails_the_send(celery_safe_amqp_url: str) -> None:
    from kombu import Queue

    queue = f"ranked-{uuid.uuid4().hex[:8]}"
    app = make_app({
        "broker_url": celery_safe_amqp_url, "task_default_queue": queue,
        "task_queues": [Queue(queue, auto_delete=True, max_priority=9)], NOTES: "/dev/null",
    })
    # py-amqp packs the priority as an octet: loud, at the send (CSF404 leaves it alone)
    with pytest.raises(struct.error):
        app.tasks["deploy.note"].apply_async(priority="low_priority")


@pytest.mark.amqp
def test_rabbitmq_queue_max_priority_keyword_declares_x_max_priority(
    celery_safe_amqp_url: str,
) -> None:
    from kombu import Queue

    queue = f"ranked-{uuid.uuid4().hex[:8]}"
    app = make_app({
        "broker_url": celery_safe_amqp_url, "task_default_queue": queue,
        "task_queues": [Queue(queue, auto_delete=True, max_priority=9)], NOTES: "/dev/null",
    })
    note = app.tasks["deploy.note"]
    with app.connection_for_write() as connection:
        app.amqp.queues[queue].bind(connection.default_channel).declare()
    for priority in (1, 5, 9):
        note.apply_async(priority=priority)
    assert _drain_order(app, queue, 3) == [9, 5, 1]  # ordered: Queue(max_priority=) counts
    assert AppView(app).queue_arguments(queue) == {"x-max-priority": 9}  # as CSF404 reads it


# -- result_expires shorter than a chord header part's countdown (issue 25, item 3) ---


def idle(app: Celery) -> bool:
    """No worker holds anything (active, reserved, scheduled) and the queue is empty."""
    import redis

    inspect = app.control.inspect(timeout=1.0)
    replies = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    if any(reply is None for reply in replies):
        return False  # no answer yet: not known to be idle
    held = sum(len(tasks) for reply in replies for tasks in (reply or {}).values())
    queued = redis.Redis.from_url(app.conf.broker_url).llen(app.conf.task_default_queue)
    return held == 0 and queued == 0


@pytest.mark.redis
@pytest.mark.parametrize("expires", [None, 2])
def test_chord_header_part_due_after_result_expires_never_runs_the_body(
    redis_conf: dict[str, Any], expires: int | None
) -> None:
    """A chord (Redis backend) whose header part is due ``3 * result_expires`` after the
    other: the body never runs (CSF214). The control, the default expiry of a day: it
    runs once with both results. Observed once the late part ran and the worker is idle
    (nothing active, reserved, scheduled or queued), so no body can still be on its way."""
    conf = dict(redis_conf)
    if expires is not None:
        conf["result_expires"] = expires
    app = make_app(conf)
    notes = redis_conf[NOTES]
    from celery import chord

    late = app.tasks["deploy.note"].s().set(countdown=3 * (expires or 2))
    with worker(conf):
        result = chord([app.tasks["deploy.echo"].s("early"), late],
                       app.tasks["deploy.collect"].s())()
        ran = wait_for("the late header part ran",
                       lambda: [n for n in read_notes(notes) if n[0] == "ran"])
        wait_for("the worker idle", lambda: idle(app))
        collected = [n for n in read_notes(notes) if n[0] == "collected"]
        if expires is None:
            assert result.get(timeout=DEADLINE) == ["early", ran[0][1]]
            assert len(collected) == 1
        else:
            assert collected == []
            assert result.state == "PENDING"
