"""Which of a project's task modules a real worker imports (and so registers), measured
on a prefork worker's ``[tasks]`` banner: what static CSF206 models
(``celery_safe/lint/interp/workerimports.py``).

Measured on Celery 5.7: ``include=``/``imports`` and what they import; the ``-A``
module and its package; ``autodiscover_tasks([...])`` imports ``<pkg>`` and
``<pkg>.tasks`` only (or ``<pkg>.<related_name>``), so ``<pkg>/jobs.py`` and a submodule
of a ``tasks`` package that its ``__init__`` does not import are never registered; with
Django (``autodiscover_tasks()`` over ``INSTALLED_APPS``), ``django.setup()`` imports each
app's package, ``apps.py`` (and what ``ready()`` imports), ``models``, ``admin`` (the
admin app's autodiscovery) and the system checks import ``ROOT_URLCONF``. A task sent by
another process that imported its module is dropped by the worker ("Received
unregistered task"). The linter is run on the same project: it reports exactly the tasks
the worker does not register, where its model decides.

A package that re-exports a task (``from .jobs import purge`` or ``from .jobs import *`` in
``tasks/__init__.py``) does not rename it: Celery names a task after the module defining
it (the function's ``__module__``), so a beat entry naming ``<pkg>.tasks.purge`` is
dropped while the worker registers ``<pkg>.tasks.jobs.purge``; an explicit ``name=``
registers that name wherever it is defined."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from celery_safe.cli import main
from celery_safe.testing.worker_process import WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.redis]
TIMEOUT = 30.0
REDIS_DB = 9

SHARED = "from celery import shared_task\n\n\n@shared_task\ndef {name}():\n    return 1\n"

#: a plain project: every file, and the tasks the worker registers / does not
PLAIN = {
    "plainp/__init__.py": "from .celery import app as celery_app\n",
    "plainp/celery.py": (
        "import os\n\nfrom celery import Celery\n\n"
        "app = Celery('plainp', broker=os.environ['WI_BROKER'], include=['plainp.inc'])\n"
        "app.conf.imports = ['plainp.imp']\n"
        "app.autodiscover_tasks(['plainp.a', 'plainp.b'])\n"
        "app.autodiscover_tasks(['plainp.c'], related_name='jobs')\n"
    ),
    "plainp/inc.py": SHARED.format(name="inc_t"),
    "plainp/imp.py": "from plainp import trans\n\n" + SHARED.format(name="imp_t"),
    "plainp/trans.py": SHARED.format(name="trans_t"),
    "plainp/a/__init__.py": "from . import helpers\n",
    "plainp/a/helpers.py": SHARED.format(name="helpers_t"),
    "plainp/a/tasks.py": SHARED.format(name="a_t"),
    "plainp/a/jobs.py": SHARED.format(name="a_jobs_t"),
    "plainp/b/__init__.py": "",
    "plainp/b/tasks/__init__.py": "from . import one\n",
    "plainp/b/tasks/one.py": SHARED.format(name="one_t"),
    "plainp/b/tasks/two.py": SHARED.format(name="two_t"),
    "plainp/c/__init__.py": "",
    "plainp/c/jobs.py": SHARED.format(name="c_jobs_t"),
    "plainp/c/tasks.py": SHARED.format(name="c_tasks_t"),
    "plainp/orphan.py": SHARED.format(name="orphan_t"),
    "plainp/sender.py": (
        "from plainp.orphan import orphan_t\nfrom plainp.a.jobs import a_jobs_t\n\n\n"
        "def send():\n    orphan_t.delay()\n    a_jobs_t.delay()\n"
    ),
}
PLAIN_REGISTERED = {
    "plainp.inc.inc_t", "plainp.imp.imp_t", "plainp.trans.trans_t", "plainp.a.helpers.helpers_t",
    "plainp.a.tasks.a_t", "plainp.b.tasks.one.one_t", "plainp.c.jobs.c_jobs_t",
}
PLAIN_DROPPED = {
    "plainp.a.jobs.a_jobs_t", "plainp.b.tasks.two.two_t", "plainp.c.tasks.c_tasks_t",
    "plainp.orphan.orphan_t",
}

DJANGO = {
    "djp/__init__.py": "from .celery import app as celery_app\n",
    "djp/celery.py": (
        "import os\n\nfrom celery import Celery\n\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'djp.settings')\n"
        "app = Celery('djp')\n"
        "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
        "app.autodiscover_tasks()\n"
    ),
    "djp/settings.py": (
        "import os\n\nSECRET_KEY = 'x'\nUSE_TZ = True\n"
        "INSTALLED_APPS = ['django.contrib.contenttypes', 'django.contrib.auth',\n"
        "    'django.contrib.admin', 'django.contrib.sessions', 'django.contrib.messages',\n"
        "    'shop', 'blog.apps.BlogConfig']\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}\n"
        "ROOT_URLCONF = 'djp.urls'\n"
        "CELERY_IMPORTS = ['djp.extra']\n"
        "CELERY_BROKER_URL = os.environ['WI_BROKER']\n"
        "CELERY_BEAT_SCHEDULE = {\n"
        "    'jobs': {'task': 'shop.jobs.jobs_t', 'schedule': 60},\n"
        "    'periodic': {'task': 'blog.periodic.periodic_t', 'schedule': 60},\n"
        "    'tasks': {'task': 'shop.tasks.tasks_t', 'schedule': 60},\n"
        "    'models': {'task': 'shop.models.models_t', 'schedule': 60},\n"
        "}\n"
    ),
    "djp/urls.py": "from shop import views\n\nurlpatterns = []\n",
    "djp/extra.py": SHARED.format(name="extra_t"),
    "shop/__init__.py": "",
    "shop/apps.py": (
        "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n"
        "    name = 'shop'\n\n    def ready(self):\n        from . import signals  # noqa\n"
    ),
    **{f"shop/{m}.py": SHARED.format(name=f"{m}_t")
       for m in ("signals", "models", "admin", "views", "tasks", "jobs")},
    "blog/__init__.py": "",
    "blog/apps.py": (
        "from django.apps import AppConfig\n\n\nclass BlogConfig(AppConfig):\n"
        "    name = 'blog'\n"
    ),
    **{f"blog/{m}.py": SHARED.format(name=f"{m}_t") for m in ("tasks", "periodic")},
}
DJANGO_REGISTERED = {
    "djp.extra.extra_t", "shop.signals.signals_t", "shop.models.models_t",
    "shop.admin.admin_t", "shop.views.views_t", "shop.tasks.tasks_t", "blog.tasks.tasks_t",
}
DJANGO_DROPPED = {"shop.jobs.jobs_t", "blog.periodic.periodic_t"}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _registered(log: str) -> set[str]:
    banner = log.partition("[tasks]")[2]
    return set(re.findall(r"^  \. (\S+)$", banner, re.M))


def _reported(root: Path) -> set[str]:
    """The task names CSF206 reports as never imported by the worker."""
    report = root / "report.json"
    main(["check", "--no-cache", "--select", "CSF206", str(root), "--format", "json",
          "--output", str(report)])
    rows = json.loads(report.read_text())
    return {m.group(1) for r in rows
            if (m := re.search(r"no task named '([\w.]+)'", r["message"]))}


@pytest.fixture
def broker(celery_safe_redis_url: str) -> str:
    import redis

    url = f"{celery_safe_redis_url}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return url


def test_a_plain_worker_registers_what_it_imports(tmp_path: Path, broker: str) -> None:
    root = _write(tmp_path, PLAIN)
    with WorkerProcess("plainp", cwd=root, env={"WI_BROKER": broker}) as worker:
        seen = _registered(worker.log_text())
        # sent by another process that imported the task's module: dropped by the worker
        env = {**os.environ, "WI_BROKER": broker, "PYTHONPATH": str(root)}
        subprocess.run([sys.executable, "-c", "from plainp.sender import send; send()"],
                       cwd=root, env=env, check=True, timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        expected = [f"Received unregistered task of type '{n}'"
                    for n in ("plainp.orphan.orphan_t", "plainp.a.jobs.a_jobs_t")]
        while not all(e in worker.log_text() for e in expected):
            assert time.monotonic() < deadline, worker.log_text()
            time.sleep(0.2)
    mine = {name for name in seen if name.startswith("plainp.")}
    assert mine == PLAIN_REGISTERED
    assert _reported(root) == {"plainp.orphan.orphan_t", "plainp.a.jobs.a_jobs_t"}


def test_a_django_worker_registers_what_setup_and_autodiscovery_import(
    tmp_path: Path, broker: str
) -> None:
    pytest.importorskip("django")
    root = _write(tmp_path, DJANGO)
    with WorkerProcess("djp", cwd=root, env={"WI_BROKER": broker}) as worker:
        seen = _registered(worker.log_text())
    assert {n for n in seen if n.startswith(("djp.", "shop.", "blog."))} == DJANGO_REGISTERED
    assert not seen & DJANGO_DROPPED
    assert _reported(root) == DJANGO_DROPPED


#: a package re-exporting its tasks, and beat entries naming them by the package
REEXPORT = {
    "reexp/__init__.py": "from .celery import app as celery_app\n",
    "reexp/celery.py": (
        "import os\n\nfrom celery import Celery\n\n"
        "app = Celery('reexp', broker=os.environ['WI_BROKER'], include=['reexp.tasks'])\n"
        "app.conf.beat_schedule = {\n"
        "    'star': {'task': 'reexp.tasks.cleanup', 'schedule': 60},\n"
        "    'named': {'task': 'reexp.tasks.purge', 'schedule': 60},\n"
        "    'explicit': {'task': 'reexp.tasks.archive', 'schedule': 60},\n"
        "    'defining': {'task': 'reexp.tasks.jobs.purge', 'schedule': 60},\n"
        "}\n"
    ),
    "reexp/tasks/__init__.py": "from .sweep import *\nfrom .jobs import archive, purge\n",
    "reexp/tasks/sweep.py": SHARED.format(name="cleanup"),
    "reexp/tasks/jobs.py": SHARED.format(name="purge") + (
        "\n\n@shared_task(name='reexp.tasks.archive')\ndef archive():\n    return 1\n"
    ),
}
REEXPORT_REGISTERED = {"reexp.tasks.sweep.cleanup", "reexp.tasks.jobs.purge",
                       "reexp.tasks.archive"}
REEXPORT_DROPPED = {"reexp.tasks.cleanup", "reexp.tasks.purge"}


def test_a_package_re_exporting_a_task_does_not_rename_it(tmp_path: Path, broker: str) -> None:
    root = _write(tmp_path, REEXPORT)
    with WorkerProcess("reexp", cwd=root, env={"WI_BROKER": broker}) as worker:
        seen = _registered(worker.log_text())
        # what beat sends when the entries are due: each entry's name, as written
        env = {**os.environ, "WI_BROKER": broker, "PYTHONPATH": str(root)}
        send = ("from reexp.celery import app\n"
                "for entry in app.conf.beat_schedule.values():\n"
                "    app.send_task(entry['task'])\n")
        subprocess.run([sys.executable, "-c", send], cwd=root, env=env, check=True,
                       timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        expected = [f"Received unregistered task of type '{n}'" for n in sorted(REEXPORT_DROPPED)]
        expected += [f"Task {n}[" for n in ("reexp.tasks.archive", "reexp.tasks.jobs.purge")]
        while not all(e in worker.log_text() for e in expected):
            assert time.monotonic() < deadline, worker.log_text()
            time.sleep(0.2)
        log = worker.log_text()
    assert {name for name in seen if name.startswith("reexp.")} == REEXPORT_REGISTERED
    for name in ("reexp.tasks.archive", "reexp.tasks.jobs.purge"):  # registered: they ran
        assert f"unregistered task of type '{name}'" not in log
    assert _reported(root) == REEXPORT_DROPPED
    messages = _messages(root)
    assert any("did you mean 'reexp.tasks.sweep.cleanup'?" in m for m in messages), messages
    assert any("did you mean 'reexp.tasks.jobs.purge'?" in m for m in messages), messages


def _messages(root: Path) -> list[str]:
    report = root / "report.json"
    main(["check", "--no-cache", "--select", "CSF206", str(root), "--format", "json",
          "--output", str(report)])
    return [row["message"] for row in json.loads(report.read_text())]
