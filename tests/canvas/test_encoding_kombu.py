"""What kombu's JSON serializer carries and refuses: the premise of CSF207, measured.

In-process against the installed kombu (a kombu that starts carrying a kind the static
rule reports, or stops carrying one it lets pass, fails here), in a subprocess with
Django set up (model instances, ``AnonymousUser``, ``request.user``'s lazy object), and
on a real prefork worker (what the task receives, and where sending fails).
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import pytest
from kombu.exceptions import EncodeError
from kombu.serialization import dumps, loads

from celery_safe.canvas.encoding import JSON_REFUSES, unencodable
from celery_safe.testing.worker_process import WorkerProcess


def _round_trip(value: Any) -> Any:
    """``value`` as a task sent it with kombu's JSON receives it (Celery's message body)."""
    content_type, encoding, data = dumps(((value,), {}, {}), serializer="json")  # type: ignore[no-untyped-call]
    return loads(data, content_type, encoding)[0][0]  # type: ignore[no-untyped-call]


def _generator() -> Iterator[int]:
    yield 1


#: Each kind the static rule reports, with an object of it (Django's in the subprocess).
DJANGO_KINDS = {"model", "user", "queryset"}
REFUSED: dict[str, Callable[[], Any]] = {
    "set": lambda: {1, 2},
    "frozenset": lambda: frozenset({1}),
    "generator": _generator,
    "function": lambda: _generator,
    "file": lambda: open(os.devnull),  # noqa: SIM115 (closed by the test)
    "lock": threading.Lock,
    "socket": socket.socket,
    "timedelta": lambda: datetime.timedelta(days=1),
    "path": lambda: PurePosixPath("/tmp"),
}

#: What kombu's JSON carries: the value, and what the task receives.
CARRIED: list[tuple[Any, Any]] = [
    (datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime(2024, 1, 2, 3, 4, 5)),
    (
        datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
        datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
    ),
    (datetime.date(2024, 1, 2), datetime.date(2024, 1, 2)),
    (datetime.time(3, 4), datetime.time(3, 4)),
    (decimal.Decimal("1.10"), decimal.Decimal("1.10")),
    (uuid.UUID(int=7), uuid.UUID(int=7)),
    (b"ab", b"ab"),
    (b"\xff", b"\xff"),  # not UTF-8: sent as base64, received as bytes
    ((1, 2), [1, 2]),  # a tuple arrives as a list
    ({1: "a"}, {"1": "a"}),  # int keys arrive as strings
]


def test_every_kind_the_rule_reports_is_measured() -> None:
    assert set(REFUSED) | DJANGO_KINDS == set(JSON_REFUSES)


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_kombu_json_refuses_each_kind(kind: str) -> None:
    value = REFUSED[kind]()
    try:
        with pytest.raises(EncodeError):
            dumps(value, serializer="json")  # type: ignore[no-untyped-call]
        # the runtime CSF207 asks the same kombu, and agrees
        assert unencodable((value,), {}, "json") is not None
        assert unencodable((value,), {}, "pickle") is None or kind in (
            "generator", "file", "lock", "socket",  # pickle refuses those too
        )
    finally:
        close = getattr(value, "close", None)
        if callable(close):
            close()


@pytest.mark.parametrize(("value", "received"), CARRIED, ids=lambda v: type(v).__name__)
def test_kombu_json_carries(value: Any, received: Any) -> None:
    got = _round_trip(value)
    assert got == received and type(got) is type(received)
    assert unencodable((value,), {}, "json") is None


def test_an_object_with_json_method_is_carried() -> None:
    class Row:
        def __json__(self) -> dict[str, int]:
            return {"pk": 1}

    assert _round_trip(Row()) == {"pk": 1}


_DJANGO = """
import json, django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()
from django.core.management import call_command
call_command("migrate", run_syncdb=True, verbosity=0)
from django.contrib.auth.models import AnonymousUser, Group, User
from django.utils.functional import SimpleLazyObject
from kombu.exceptions import EncodeError
from kombu.serialization import dumps

staff = Group.objects.create(name="staff")
values = {
    "User": lambda: User(pk=1, username="a"),
    "Group": lambda: Group(pk=1, name="staff"),
    "AnonymousUser": AnonymousUser,
    "lazy User": lambda: SimpleLazyObject(lambda: User(pk=1)),  # what request.user is
    # QuerySets, of rows or not, found or not: the static "queryset" kind
    "all()": lambda: Group.objects.all(),
    "filter()": lambda: Group.objects.filter(name="staff"),
    "exclude().order_by()": lambda: Group.objects.exclude(pk=0).order_by("name"),
    "none()": lambda: Group.objects.none(),
    "values()": lambda: Group.objects.values("pk"),
    "values_list()": lambda: Group.objects.values_list("pk", "name"),
    "values_list(flat=True)": lambda: Group.objects.values_list("pk", flat=True),
    # ... what they become once listed: rows of plain data are carried, objects are not
    "list(values_list(flat=True))": lambda: list(Group.objects.values_list("pk", flat=True)),
    "list(values())": lambda: list(Group.objects.values("pk", "name")),
    "list(all())": lambda: list(Group.objects.all()),
    "list(none())": lambda: list(Group.objects.none()),
    # a model object inside containers, however deep: the container is refused
    "[obj]": lambda: [staff],
    "{'k': obj}": lambda: {"group": staff},
    "dict(k=obj)": lambda: dict(group=staff),
    "[[{'k': (obj,)}]]": lambda: [[{"k": (staff,)}]],
    "{'k': [pk]}": lambda: {"k": [staff.pk]},
}
verdicts = {}
for name, make in values.items():
    try:
        dumps(((make(),), {}, {}), serializer="json")
        verdicts[name] = "carried"
    except EncodeError:
        verdicts[name] = "EncodeError"
print(json.dumps(verdicts))
"""


def test_kombu_json_refuses_django_models_querysets_and_request_user() -> None:
    """A real model and QuerySets on an in-memory SQLite database."""
    pytest.importorskip("django")
    done = subprocess.run(
        [sys.executable, "-c", _DJANGO], capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    refused = "EncodeError"
    assert json.loads(done.stdout) == {
        "User": refused, "Group": refused, "AnonymousUser": refused, "lazy User": refused,
        "all()": refused, "filter()": refused, "exclude().order_by()": refused,
        "none()": refused, "values()": refused, "values_list()": refused,
        "values_list(flat=True)": refused,
        "list(values_list(flat=True))": "carried", "list(values())": "carried",
        "list(all())": refused, "list(none())": "carried",
        "[obj]": refused, "{'k': obj}": refused, "dict(k=obj)": refused,
        "[[{'k': (obj,)}]]": refused, "{'k': [pk]}": "carried",
    }


# -- on a real worker -------------------------------------------------------------------

APP_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "encoding"
TIMEOUT = 60.0
REDIS_DB = 9


@pytest.fixture(scope="module")
def worker(request: pytest.FixtureRequest) -> Iterator[tuple[ModuleType, str]]:
    import redis

    url = f"{request.getfixturevalue('celery_safe_redis_url')}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    queue = f"enc-{uuid.uuid4().hex[:8]}"
    env = {"ENCODING_URL": url, "ENCODING_QUEUE": queue}
    os.environ.update(env)
    # Celery refuses to run a worker accepting pickle as root (CI containers are)
    env["C_FORCE_ROOT"] = "1"
    sys.path.insert(0, str(APP_DIR))
    try:
        import encoding_app

        with WorkerProcess("encoding_app", pool="prefork", concurrency=1, cwd=APP_DIR, env=env):
            yield encoding_app, url
        encoding_app.app.close()
    finally:
        sys.path.remove(str(APP_DIR))
        sys.modules.pop("encoding_app", None)


@pytest.mark.worker
@pytest.mark.redis
def test_the_worker_receives_what_kombu_json_carries(worker: tuple[ModuleType, str]) -> None:
    app, _ = worker
    for value, received in CARRIED:
        name, text = app.received.delay(value).get(timeout=TIMEOUT)
        assert (name, text) == (type(received).__name__, repr(received)), value


@pytest.mark.worker
@pytest.mark.redis
def test_sending_what_json_refuses_fails_in_the_caller_and_sends_nothing(
    worker: tuple[ModuleType, str],
) -> None:
    import redis

    app, url = worker
    queue = app.app.conf.task_default_queue
    client = redis.Redis.from_url(url)
    for send in (
        lambda: app.received.delay({1, 2}),
        lambda: app.received.apply_async(args=(datetime.timedelta(1),)),
        lambda: app.received.s({1}).delay(),
    ):
        with pytest.raises(EncodeError):
            send()
    assert client.llen(queue) == 0  # nothing reached the broker
    # the worker is alive and gets what comes next
    assert app.received.delay(1).get(timeout=TIMEOUT) == ["int", "1"]


@pytest.mark.worker
@pytest.mark.redis
def test_another_serializer_carries_a_set(worker: tuple[ModuleType, str]) -> None:
    """The serializer is the sender's: a call's ``serializer=``, the task's, the app's
    ``task_serializer`` (the worker must accept it: ``accept_content``)."""
    app, _ = worker
    sent = app.received.apply_async(({1, 2},), serializer="pickle")
    assert sent.get(timeout=TIMEOUT) == ["set", "{1, 2}"]
    assert app.received_pickled.delay({3}).get(timeout=TIMEOUT) == ["set", "{3}"]
    # a task takes the app's task_serializer when it is bound: changing the setting
    # afterwards does not change how the task already made is sent
    app.app.conf.task_serializer = "pickle"
    try:
        with pytest.raises(EncodeError):
            app.received.delay(frozenset({4}))
    finally:
        app.app.conf.task_serializer = "json"


def test_a_task_takes_the_apps_task_serializer() -> None:
    from celery import Celery

    app = Celery("pickled", set_as_current=False)
    app.conf.task_serializer = "pickle"

    @app.task
    def anything(value: Any) -> Any:
        return value

    @app.task(serializer="json")
    def own(value: Any) -> Any:
        return value

    assert (anything.serializer, own.serializer) == ("pickle", "json")


def test_eager_tasks_are_encoded_too() -> None:
    """``task_always_eager`` round-trips the arguments through the serializer (5.7):
    a project that never runs a worker fails the same way."""
    from celery import Celery

    app = Celery("eager", set_as_current=False)
    app.conf.task_always_eager = True

    @app.task
    def anything(value: Any) -> str:
        return type(value).__name__

    assert anything.delay((1,)).get() == "list"
    with pytest.raises(EncodeError):
        anything.delay({1})


def test_celerys_default_task_serializer_is_json() -> None:
    from celery import Celery

    app = Celery("defaults", set_as_current=False)
    assert app.conf.task_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]
