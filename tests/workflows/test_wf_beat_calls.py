"""What Celery really does with the calls the linter's CSF205/CSF201 model, on a real
worker process (Redis): beat entries, default task names, project decorators between
``@app.task`` and the function, and class-based tasks whose ``run`` forwards to another
method. Each fact the linter relies on is measured here, and the linter is run on the
very module the worker runs, so the two cannot drift."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from celery import chain
from celery.beat import ScheduleEntry, Scheduler, SchedulingError

from celery_safe.testing import WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.redis]  # every test's worker is on Redis

DECO = '''\
import functools


def keeps_name(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def loses_name(fn):
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def with_session(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn("session", *args, **kwargs)
    return wrapper
'''

TASKS = '''\
import os

from celery import Celery, Task

from .deco import keeps_name, loses_name, with_session

app = Celery("beatcalls", broker=os.environ["BEATCALLS_URL"],
             backend=os.environ["BEATCALLS_URL"])


@app.task
def collect(frequency="month"):
    return frequency


@app.task
def first():
    return "notice.xml"


@app.task(name="beatcalls.replace")
def replace_identified_by(field, verbose=0):
    return field


@app.task
@keeps_name
def tag(filename, tag, graceid):
    return [filename, tag, graceid]


@app.task
@loses_name
def untagged(filename):
    return filename


@app.task
@with_session
def store(session, item):
    return [session, item]


class ProjectTask(Task):
    def run(self, *args, **kwargs):
        return self.run_impl("db", *args, **kwargs)


class Processor(ProjectTask):
    name = "beatcalls.processor"

    def run_impl(self, db, previous, *, repo=None):
        return [db, previous, repo]


class Unnamed(app.Task):
    def run(self, value):
        return value


processor = app.register_task(Processor())
app.register_task(Unnamed())
'''

CONFIG = '''\
CELERY_BEAT_SCHEDULE = {
    "collect-monthly": {
        "task": "beatcalls.tasks.collect",
        "schedule": 60.0,
        "kwargs": {"types": ["loans"]},
    },
    "collect-yearly": {
        "task": "beatcalls.tasks.collect",
        "schedule": 60.0,
        "kwargs": {"frequency": "year"},
    },
    "replace": {"task": "beatcalls.replace", "schedule": 60.0},
    "replace-ok": {"task": "beatcalls.replace", "schedule": 60.0, "args": ("isbn",)},
}
'''

FLOWS = '''\
from celery import chain

from .tasks import first, processor, store, tag


def wrong_tag(graceid):
    return chain(first.s(), tag.s("notice.xml", "public", graceid))


def right_tag(graceid):
    return chain(first.s(), tag.s("public", graceid))


def wrong_store():
    return chain(first.s(), store.s("extra"))


def right_store():
    return chain(first.s(), store.s())


def wrong_processor():
    return chain(first.s(), processor.s("extra", repo=1))


def right_processor():
    return chain(first.s(), processor.s(repo=1))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("beatcalls")
    package = root / "beatcalls"
    package.mkdir()
    for name, text in {"__init__": "", "deco": DECO, "tasks": TASKS, "config": CONFIG,
                       "flows": FLOWS}.items():
        (package / f"{name}.py").write_text(text)
    yield root


@pytest.fixture(scope="module")
def tasks(project: Path, celery_safe_redis_url: str) -> Iterator[ModuleType]:
    url = f"{celery_safe_redis_url.rstrip('/')}/5"
    import os

    os.environ["BEATCALLS_URL"] = url
    sys.path.insert(0, str(project))
    worker = WorkerProcess("beatcalls.tasks", pool="threads", cwd=project,
                           env={"BEATCALLS_URL": url})
    worker.start()
    try:
        import beatcalls.tasks as module

        yield module
    finally:
        worker.stop()
        sys.path.remove(str(project))
        for name in [n for n in sys.modules if n.startswith("beatcalls")]:
            del sys.modules[name]
        os.environ.pop("BEATCALLS_URL", None)


def _findings(project: Path, module: str) -> list[tuple[int, str]]:
    """``celery-safe check`` (CSF201, CSF205) on one module of the project."""
    path = project / "beatcalls" / f"{module}.py"
    argv = [sys.executable, "-m", "celery_safe", "check", "--select", "CSF201,CSF205", str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    found = re.findall(r"^.*?\.py:(\d+):\d+: (CSF\d{3}) ", out, re.M)
    return [(int(line), code) for line, code in found]


def _failure(result: Any) -> str:
    with pytest.raises(TypeError) as raised:
        result.get(timeout=30)
    return str(raised.value)


def test_the_default_names_celery_gives(tasks: ModuleType) -> None:
    """``module.function``; a decorator without ``functools.wraps`` names the task after
    its wrapper; a Task class only once registered, as its ``name`` or module.Class."""
    registered = tasks.app.control.inspect(timeout=10).registered() or {}
    (names,) = registered.values()
    assert {"beatcalls.tasks.collect", "beatcalls.tasks.tag", "beatcalls.deco.wrapper",
            "beatcalls.processor", "beatcalls.tasks.Unnamed"} <= set(names)
    assert "beatcalls.tasks.untagged" not in names
    assert "beatcalls.tasks.ProjectTask" not in names  # a Task class is not auto-registered


def test_beat_sends_an_entry_as_written_and_it_fails_every_time(
    tasks: ModuleType, project: Path, only_this_tests_tasks: None
) -> None:
    entry = ScheduleEntry(name="collect-monthly", task="beatcalls.tasks.collect",
                          schedule=60.0, kwargs={"types": ["loans"]}, app=tasks.app)
    # the task registered in beat's process: Celery's argument check refuses to send it
    with pytest.raises(SchedulingError, match="types"):
        Scheduler(tasks.app, lazy=True).apply_async(entry)
    # not registered there (beat imports no task module; no shared task joins this app):
    # beat sends it, and the worker raises TypeError
    from celery import Celery

    bare = Celery("beat-only", broker=tasks.app.conf.broker_url,
                  backend=tasks.app.conf.result_backend, set_as_current=False)
    sent = Scheduler(bare, lazy=True).apply_async(
        ScheduleEntry(name="collect-monthly", task="beatcalls.tasks.collect",
                      schedule=60.0, kwargs={"types": ["loans"]}, app=bare))
    assert "unexpected keyword argument 'types'" in _failure(sent)
    good = Scheduler(bare, lazy=True).apply_async(
        ScheduleEntry(name="collect-yearly", task="beatcalls.tasks.collect",
                      schedule=60.0, kwargs={"frequency": "year"}, app=bare))
    assert good.get(timeout=30) == "year"
    missing = Scheduler(bare, lazy=True).apply_async(
        ScheduleEntry(name="replace", task="beatcalls.replace", schedule=60.0, app=bare))
    assert "missing 1 required positional argument: 'field'" in _failure(missing)
    # the linter reports the wrong entries at their names, and only them (an explicit
    # name= in a module the config module does not import is found too)
    assert _findings(project, "config") == [(2, "CSF205"), (12, "CSF205")]


def test_a_wrapper_hides_the_arity_from_celery_not_from_the_worker(
    tasks: ModuleType, project: Path
) -> None:
    """``@app.task`` over a ``wrapper(*args, **kwargs)``: Celery's typing check sees the
    wrapper and sends anything; the wrapped function raises in the worker."""
    tag = tasks.tag
    tag.s(1, 2, 3, 4)  # no TypeError: .s() never checks
    sent = chain(tasks.first.s(), tag.s("notice.xml", "public", "S1")).apply_async()
    assert "takes 3 positional arguments but 4 were given" in _failure(sent)
    assert chain(tasks.first.s(), tag.s("public", "S1")).apply_async().get(timeout=30) == [
        "notice.xml", "public", "S1"]
    stored = chain(tasks.first.s(), tasks.store.s("extra")).apply_async()
    assert "takes 2 positional arguments but 3 were given" in _failure(stored)
    assert chain(tasks.first.s(), tasks.store.s()).apply_async().get(timeout=30) == [
        "session", "notice.xml"]
    lines = _findings(project, "flows")
    assert (7, "CSF201") in lines and (15, "CSF201") in lines
    assert not any(line in (11, 19) for line, _ in lines)


def test_a_class_task_takes_what_run_forwards(tasks: ModuleType, project: Path) -> None:
    processor, first = tasks.processor, tasks.first
    sent = chain(first.s(), processor.s("extra", repo=1)).apply_async()
    assert "run_impl() takes 3 positional arguments but 4" in _failure(sent)
    right = chain(first.s(), processor.s(repo=1)).apply_async()
    assert right.get(timeout=30) == ["db", "notice.xml", 1]
    # sent with no arguments, a first step gets only its own: Celery's check cannot see
    # through run(*args, **kwargs), so the worker raises; a plain task raises at send
    alone = processor.s(repo=1).apply_async()
    assert "missing 1 required positional argument: 'previous'" in _failure(alone)
    with pytest.raises(TypeError, match="positional"):
        tasks.collect.s(1, 2).apply_async()
    # ``task.delay(...)``: every keyword is the task's (``eta`` too); Celery's check
    # raises at the call, or, behind a forwarding run, the worker does
    with pytest.raises(TypeError, match="unexpected keyword argument 'eta'"):
        tasks.collect.delay("month", eta=60)
    delayed = processor.delay(repo=1)
    assert "missing 1 required positional argument: 'previous'" in _failure(delayed)
    lines = _findings(project, "flows")
    assert (23, "CSF201") in lines
    assert not any(line == 27 for line, _ in lines)


MAIN_SCRIPT = '''\
import os

from celery import Celery

app = Celery("mainapp", broker=os.environ["MAIN_URL"], backend=os.environ["MAIN_URL"])


@app.task
def add(x, y):
    return x + y


app.conf.beat_schedule = {
    "sum": {"task": "mainapp.add", "schedule": 60.0, "args": (1,)},
    "sum-ok": {"task": "mainapp.add", "schedule": 60.0, "args": (1, 2)},
}

if __name__ == "__main__":
    app.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "--without-mingle",
                     "--without-gossip", "--without-heartbeat"])
'''


def test_a_script_run_as_main_names_its_tasks_after_its_app(
    tmp_path: Path, celery_safe_redis_url: str, only_this_tests_tasks: None
) -> None:
    """``gen_task_name``: a task of the ``__main__`` module is ``<app main>.<function>``."""
    from celery import Celery

    url = f"{celery_safe_redis_url.rstrip('/')}/6"
    script = tmp_path / "mainnamed.py"
    script.write_text(MAIN_SCRIPT)
    import os

    env = {**os.environ, "MAIN_URL": url}
    worker = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Celery("client", broker=url, backend=url, set_as_current=False)
    try:
        # the worker runs the message sent under that name (an unknown name is refused)
        assert client.send_task("mainapp.add", (1, 2)).get(timeout=60) == 3
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        client.close()
    argv = [sys.executable, "-m", "celery_safe", "check", "--select", "CSF205", str(script)]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    assert re.findall(r"\.py:(\d+):\d+: CSF205 beat_schedule\.sum ", out) == ["14"], out
