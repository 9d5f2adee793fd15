"""Shapes real projects spread over several modules: ``celery-safe check`` follows imports
into the project, and the flake8 plugin, given one file at a time, reports the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_safe.cli import main

from .parity import assert_same_findings, python_files

DECORATORS = '''\
from functools import partial

from celery import shared_task

proj_task = shared_task
queued_task = partial(shared_task, queue="slow")


def factory_task(*args, **kwargs):
    kwargs.setdefault("acks_late", True)
    return shared_task(*args, **kwargs)


def not_a_task_maker(fn):
    return fn
'''

POLL = '''\
class Poller:
    def wait(self, result):
        return result.get(disable_sync_subtasks=False)

    def peek(self, result):
        return result.id
'''

TASKS = '''\
from celery import shared_task

from proj.deco import factory_task, not_a_task_maker, proj_task, queued_task
from proj.poll import Poller


@shared_task
def add(x):
    return x


@proj_task
def via_alias(x):
    return add.delay(x).get()


@queued_task
def via_partial(x):
    return add.delay(x).get()


@factory_task(bind=True)
def via_factory(self, x):
    return add.delay(x).get()


@not_a_task_maker
def not_a_task(x):
    return add.delay(x).get()


@shared_task
def waits_in_a_method(x):
    return Poller().wait(add.delay(x))


@shared_task
def peeks_only(x):
    poller = Poller()
    return poller.peek(add.delay(x))
'''


def test_project_decorators_and_methods_across_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in {"deco": DECORATORS, "poll": POLL, "tasks": TASKS}.items():
        (package / f"{name}.py").write_text(source)
    assert main(["check", str(package)]) == 1
    found = {
        (line.split(":")[1], line.split(": ")[1].split()[0])
        for line in capsys.readouterr().out.splitlines()
        if ": CSF" in line
    }
    assert found == {
        ("14", "CSF101"),  # an alias of shared_task, in another module
        ("19", "CSF101"),  # a partial of shared_task
        ("24", "CSF101"),  # a factory returning shared_task(...)
        ("34", "CSF104"),  # Poller.wait, a method of a class in another module
    }
    assert assert_same_findings(python_files(package)) > 0


def test_namespace_packages_resolve_like_sys_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pkg/sub`` has no ``__init__.py`` (PEP 420): ``from pkg.helpers import`` resolves."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "helpers.py").write_text("def helper(result):\n    return result.get()\n")
    (tmp_path / "pkg" / "sub" / "tasks.py").write_text(
        "from celery import shared_task\n\nfrom pkg.helpers import helper\n\n\n"
        "@shared_task\ndef add(x):\n    return x\n\n\n"
        "@shared_task\ndef total(x):\n    return helper(add.delay(x))\n"
    )
    assert main(["check", str(tmp_path / "pkg")]) == 1
    out = capsys.readouterr().out
    assert "tasks.py:13:12: CSF104 task total blocks on a Celery result through total" in out
    assert assert_same_findings(python_files(tmp_path / "pkg")) > 0


OBJECT_MODULES = {
    "models/__init__.py": "from .runs import *\nfrom .analysis import Analysis\n",
    "models/base.py": '''\
class BaseRun:
    def wait_for(self, result):
        return get_safely(result)


def get_safely(result, **kwargs):
    return result.get(disable_sync_subtasks=False, **kwargs)
''',
    "models/runs.py": '''\
from __future__ import annotations

import typing
from multiprocessing.pool import ThreadPool

from .base import BaseRun

if typing.TYPE_CHECKING:
    import celery.result


class SavedRun(BaseRun):
    def submit(self) -> tuple[celery.result.AsyncResult, SavedRun]:
        with ThreadPool(1) as pool:
            return pool.apply(submit_elsewhere)

    def describe(self) -> tuple[dict, SavedRun]:
        return {}, self

    def peek(self, result):
        return result.id


def submit_elsewhere():
    raise NotImplementedError
''',
    "models/analysis.py": '''\
from __future__ import annotations

import typing

if typing.TYPE_CHECKING:
    from .runs import SavedRun


class Analysis:
    objects = None

    def active_run(self) -> SavedRun:
        raise NotImplementedError

    def wait_for(self, result):
        return result.id
''',
    "tasks.py": '''\
from celery import shared_task

from proj.models import Analysis, SavedRun


@shared_task
def analyse(anal_id):
    anal = Analysis.objects.get(id=anal_id)
    run = anal.active_run()
    result, sr = run.submit()
    sr.wait_for(result)


@shared_task
def look_alikes(anal_id):
    anal = Analysis.objects.get(id=anal_id)
    result, sr = anal.active_run().submit()
    anal.wait_for(result)
    sr.peek(result)
    meta, again = SavedRun().describe()
    meta.get("id")
    return again
''',
}


def test_objects_returned_by_methods_across_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The object a method returns (annotated, in a tuple, re-exported by a package with a
    star import, a Django manager's ``get``) has its class's methods followed, inherited
    ones too; a method of the same name on another class, a dict's ``get`` are not joins."""
    for name, source in OBJECT_MODULES.items():
        path = tmp_path / "proj" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (tmp_path / "proj" / "__init__.py").write_text("")
    assert main(["check", str(tmp_path / "proj")]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if ": CSF" in line]
    assert len(lines) == 1, lines
    assert "tasks.py:11:5: CSF104 task analyse blocks on a Celery result through" in lines[0]
    assert "BaseRun.wait_for -> base.get_safely" in lines[0]
    assert assert_same_findings(python_files(tmp_path / "proj")) > 0


NAMED_TASKS = '''\
from celery import shared_task


@shared_task
def produce():
    return 1


@shared_task
def finish():
    return True


@shared_task(name="billing.resize")
def resize(path, width):
    return path
'''

BY_NAME = '''\
from celery import Signature, chain, current_app, signature

from shop.tasks import produce


def pipeline():
    return chain(produce.s(), Signature("shop.tasks.finish"))


def by_app():
    return chain(produce.s(), current_app.tasks["shop.tasks.finish"].s())


def by_dict():
    return chain(produce.s(), signature({"task": "shop.tasks.finish", "args": []}))


def sent():
    return current_app.send_task("billing.resize", ("a.png",))


def fine():
    current_app.send_task("billing.resize", ("a.png", 100))
    return chain(produce.s(), Signature("shop.tasks.finish", immutable=True))
'''


def test_tasks_named_by_their_registered_names_across_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A signature or message naming a task by the name Celery registers (the default
    ``module.function`` or an explicit ``name=``) is that task's, in whatever module."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(NAMED_TASKS)
    (package / "flows.py").write_text(BY_NAME)
    assert main(["check", str(package)]) == 1
    found = {
        (line.split(":")[1], line.split(": ")[1].split()[0])
        for line in capsys.readouterr().out.splitlines()
        if ": CSF" in line
    }
    assert found == {("7", "CSF201"), ("11", "CSF201"), ("15", "CSF201"), ("19", "CSF205")}
    assert assert_same_findings(python_files(package)) > 0


CLASS_BASE = '''\
from celery import Task


class ProjectTask(Task):
    def run(self, *args, **kwargs):
        return self.run_impl("session", *args, **kwargs)

    def run_impl(self, session, *args, **kwargs):
        raise NotImplementedError
'''

CLASS_TASKS = '''\
from celery import Celery

from svc.base import ProjectTask

app = Celery("svc")


class Processor(ProjectTask):
    name = "svc.processor"

    def run_impl(self, session, previous, *, repo):
        return previous


processor = app.register_task(Processor())


@app.task
def collect(frequency="month"):
    return frequency
'''

CLASS_USES = '''\
from celery import chain

from svc.tasks import processor


def first_steps(repo):
    return chain(processor.s(repo=repo), processor.s(repo=repo)).apply_async()


def fine(repo):
    return chain(processor.s({}, repo=repo), processor.s(repo=repo)).apply_async()
'''

SETTINGS = '''\
CELERY_BEAT_SCHEDULE = {
    "process": {"task": "svc.processor", "schedule": 60, "kwargs": {"repo": 1}},
    "process-ok": {"task": "svc.processor", "schedule": 60, "args": ({},), "kwargs": {"repo": 1}},
    "collect": {"task": "svc.tasks.collect", "schedule": 60, "kwargs": {"types": 1}},
}
'''


def test_class_tasks_and_beat_entries_across_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A task class whose ``run`` is a base's in another module, forwarding to the
    subclass's ``run_impl``; a settings module's beat entries naming tasks by their
    registered names (neither imported there)."""
    package = tmp_path / "svc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    sources = {"base": CLASS_BASE, "tasks": CLASS_TASKS, "uses": CLASS_USES,
               "settings": SETTINGS}
    for name, source in sources.items():
        (package / f"{name}.py").write_text(source)
    assert main(["check", "--select", "CSF201,CSF205", str(package)]) == 1
    found = {
        (line.split(":")[0].rpartition("/")[2], line.split(":")[1])
        for line in capsys.readouterr().out.splitlines()
        if ": CSF205" in line
    }
    assert found == {("uses.py", "7"), ("settings.py", "2"), ("settings.py", "4")}
    assert assert_same_findings(python_files(package)) > 0


def test_a_beat_schedule_on_a_config_modules_first_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``beat_schedule = {...}`` as the first line of a config module (nothing imported,
    nothing before it) is read: the text test woke only on a schedule after a newline."""
    (tmp_path / "tasks.py").write_text(
        "from celery import Celery\napp = Celery('p')\n\n@app.task\ndef add(x, y):\n"
        "    return x + y\n"
    )
    (tmp_path / "celeryconfig.py").write_text(
        'beat_schedule = {"e": {"task": "tasks.add", "schedule": 10.0, "args": [1]}}\n'
    )
    assert main(["check", "--no-cache", "--select", "CSF205", str(tmp_path)]) == 1
    assert "celeryconfig.py:1:18: CSF205 beat_schedule.e add is called as add(1)" in (
        capsys.readouterr().out
    )
    assert assert_same_findings(python_files(tmp_path)) > 0
