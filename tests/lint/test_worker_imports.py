"""CSF206, static: a task whose module the project's worker never imports (the worker
drops its messages: measured in ``test_worker_imports_celery.py``). Precision first:
anything the model cannot read keeps the rule silent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe.cli import main

from .parity import assert_same_findings, python_files

SHARED = "from celery import shared_task\n\n\n@shared_task\ndef {name}():\n    return 1\n"
APP = (
    "from celery import Celery\n\n"
    "app = Celery('proj', include=['proj.inc'])\n"
    "app.autodiscover_tasks(['proj.a'])\n"
)
VIEWS = (
    "from celery import group\n"
    "from proj.a.jobs import jobs_t\nfrom proj.a.tasks import a_t\nfrom proj.inc import inc_t\n"
    "\ndef view():\n"
    "    jobs_t.delay()\n"  # line 7
    "    a_t.delay()\n"
    "    inc_t.s().delay()\n"
    "    jobs_t.apply_async(countdown=1)\n"  # line 10
    "    group(jobs_t.s(), a_t.s()).delay()\n"  # line 11
)
BASE = {
    "proj/__init__.py": "from .celery import app as celery_app\n",
    "proj/celery.py": APP,
    "proj/inc.py": SHARED.format(name="inc_t"),
    "proj/a/__init__.py": "",
    "proj/a/tasks.py": SHARED.format(name="a_t"),
    "proj/a/jobs.py": SHARED.format(name="jobs_t"),
    "web/__init__.py": "",
    "web/views.py": VIEWS,
}
JOBS = "proj.a.jobs.jobs_t"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _found(root: Path, *extra: str) -> list[tuple[str, int, str]]:
    report = root.parent / f"{root.name}-report.json"
    main(["check", *extra, "--select", "CSF206", str(root), "--format", "json",
          "--output", str(report)])
    rows = json.loads(report.read_text())
    return sorted((Path(r["path"]).name, r["line"], r["message"]) for r in rows)


def _project(tmp_path: Path, changes: dict[str, str | None]) -> Path:
    files = {**BASE, **changes}
    root = tmp_path / "tree"
    return _write(root, {k: v for k, v in files.items() if v is not None})


def test_each_send_of_a_task_the_worker_never_imports(tmp_path: Path) -> None:
    root = _project(tmp_path, {})
    found = _found(root, "--no-cache")
    assert [(name, line) for name, line, _ in found] == [
        ("views.py", 7), ("views.py", 10), ("views.py", 11)]
    message = found[0][2]
    assert f"no task named {JOBS!r} is registered with app 'proj'" in message
    assert "its module proj.a.jobs is never imported by the worker" in message
    assert "autodiscovery imports proj.a.tasks of its package" in message
    assert "add 'proj.a.jobs' to the app's include" in message
    assert assert_same_findings(python_files(root)) > 0  # flake8: the same


@pytest.mark.parametrize(
    "changes",
    [
        # packages given lazily
        {"proj/celery.py": APP.replace("(['proj.a'])", "(lambda: ['proj.a'])")},
        # a tasks package importing only some of its modules
        {"proj/a/tasks.py": None, "proj/a/tasks/__init__.py": "from . import one\n",
         "proj/a/tasks/one.py": SHARED.format(name="a_t"),
         "proj/a/jobs.py": None, "proj/a/tasks/jobs.py": SHARED.format(name="jobs_t"),
         "web/views.py": VIEWS.replace("proj.a.tasks import", "proj.a.tasks.one import")
                              .replace("proj.a.jobs import", "proj.a.tasks.jobs import")},
        # settings the worker's imports do not depend on, not literal; a task class by name
        {"proj/celery.py": "import os\n" + APP.replace(
            "Celery('proj',", "Celery('proj', broker=os.environ['B'], task_cls='proj.base:T',")
            + "app.conf.task_default_queue = os.environ['Q']\n",
         "proj/base.py": "from celery import Task\n\n\nclass T(Task):\n    pass\n"},
        # another package's tasks, and an old-style config module's imports elsewhere
        {"proj/celery.py": APP + "app.config_from_object('proj.config')\n",
         "proj/config.py": "CELERY_IMPORTS = ('proj.inc',)\n"},
    ],
)
def test_still_reported(tmp_path: Path, changes: dict[str, str | None]) -> None:
    names = {line for _, line, _ in _found(_project(tmp_path, changes), "--no-cache")}
    assert names == {7, 10, 11}


@pytest.mark.parametrize(
    "changes",
    [
        {"proj/a/tasks.py": "from . import jobs  # noqa\n" + SHARED.format(name="a_t")},
        {"proj/a/tasks.py": "def later():\n    from proj.a.jobs import jobs_t\n"},
        {"proj/celery.py": APP + "app.conf.include = ['proj.inc', 'proj.a.jobs']\n"},
        {"proj/celery.py": APP + "app.conf.update(imports=('proj.a.jobs',))\n"},
        {"proj/celery.py": APP.replace("'proj.a'])", "'proj.a'], related_name='jobs')")},
        {"proj/celery.py": APP + "app.config_from_object('proj.config')\n",
         "proj/config.py": "CELERY_IMPORTS = ('proj.a.jobs',)\n"},
        {"proj/celery.py": APP + "app.config_from_object('proj.config')\n",
         "proj/config.py": "imports = ['proj.a.jobs']\n"},
        # a module that may be the worker's ``-A`` target imports it
        {"proj/worker.py": "from proj.celery import app\nimport proj.a.jobs  # noqa\n"},
        {"proj/worker.py": "from proj import celery_app\nimport proj.a.jobs  # noqa\n"},
        # the task class Celery imports by name imports it
        {"proj/celery.py": APP.replace("Celery('proj',", "Celery('proj', task_cls='proj.base:T',"),
         "proj/base.py": "import proj.a.jobs  # noqa\n"},
    ],
)
def test_imported_after_all(tmp_path: Path, changes: dict[str, str | None]) -> None:
    """The worker imports the module: its tasks are registered."""
    messages = [m for _, _, m in _found(_project(tmp_path, changes), "--no-cache")]
    assert not [m for m in messages if JOBS in m]


@pytest.mark.parametrize(
    "changes",
    [
        {"proj/celery.py": APP.replace("['proj.inc']", "MODULES")},
        {"proj/celery.py": APP.replace("(['proj.a'])", "(find_packages())")},
        {"proj/celery.py": APP.replace("(['proj.a'])", "()")},
        {"proj/celery.py": APP.replace("(['proj.a'])", "(['proj.a'], related_name=NAME)")},
        {"proj/celery.py": APP + "app.config_from_object(CONFIG)\n"},
        {"proj/celery.py": APP + "app.config_from_envvar('CONFIG')\n"},
        {"proj/celery.py": APP + "app.conf.update(**SETTINGS)\n"},
        {"other/__init__.py": "", "other/app.py": "from celery import Celery\n\nx = Celery('o')\n"},
        {"proj/celery.py": APP.replace("Celery('proj'", "make_app('proj'")},
        {"proj/a/tasks.py": "import importlib\n\nfor m in MODULES:\n"
                            "    importlib.import_module(m)\n"},
        {"proj/a/tasks.py": "__import__(NAME)\n"},
        {"proj/a/tasks.py": "from proj.missing import *  # noqa\n"},
        {"proj/a/tasks.py": "from celery import current_app\n\n"
                            "current_app.conf.include = ['proj.a.jobs']\n"},
        {"Procfile": "worker: celery -A proj worker -I proj.a.jobs -l info\n"},
        {"deploy/compose.yml": "command: celery --app proj worker --include proj.a.jobs\n"},
        # a Django project whose settings live elsewhere than it names, or are split
        {"proj/celery.py": "import os\n\n" + APP + "os.environ.setdefault("
                           "'DJANGO_SETTINGS_MODULE', 'proj.settings')\n",
         "proj/settings.py": "from .base import *  # noqa\n",
         "proj/base.py": "INSTALLED_APPS = ['proj.a']\n"},
        {"proj/settings.py": "INSTALLED_APPS = ['proj.a']\n"},
        # a folder of installed distributions (site-packages): many projects, no one worker
        {"proj-1.0.dist-info/METADATA": "Name: proj\n"},
        # a second app: which one a worker runs is not known
        {"proj/other.py": "from celery import Celery\n\nother = Celery('other')\n"},
    ],
)
def test_silent_when_not_known(tmp_path: Path, changes: dict[str, str | None]) -> None:
    assert _found(_project(tmp_path, changes), "--no-cache") == []


DJANGO_APP = (
    "import os\n\nfrom celery import Celery\n\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
    "app.autodiscover_tasks()\n"
)
DJANGO_SETTINGS = (
    "INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes',\n"
    "                  'proj.a.apps.AConfig']\n"
    "ROOT_URLCONF = 'proj.urls'\n"
    "CELERY_BEAT_SCHEDULE = {\n"
    "    'nightly': {\n"
    "        'task': 'proj.a.jobs.jobs_t',\n"  # line 6
    "        'schedule': 60,\n"
    "    },\n"
    "}\n"
)
DJANGO = {
    "proj/celery.py": DJANGO_APP,
    "proj/settings.py": DJANGO_SETTINGS,
    "proj/urls.py": "urlpatterns = []\n",
    "proj/inc.py": None,
    "proj/a/apps.py": (
        "from django.apps import AppConfig\n\n\nclass AConfig(AppConfig):\n"
        "    name = 'proj.a'\n"
    ),
    "web/views.py": None,
}


def test_django_beat_entry_reported_at_its_task_name(tmp_path: Path) -> None:
    found = _found(_project(tmp_path, DJANGO), "--no-cache")
    assert [(name, line) for name, line, _ in found] == [("settings.py", 6)]
    assert "autodiscovery imports proj.a.tasks of its package" in found[0][2]


@pytest.mark.parametrize(
    "changes",
    [
        # what django.setup() and the checks import
        {"proj/urls.py": "import proj.a.jobs  # noqa\nurlpatterns = []\n"},
        {"proj/a/models.py": "from . import jobs  # noqa\n"},
        {"proj/a/apps.py": DJANGO["proj/a/apps.py"]
         + "\n    def ready(self):\n        from . import jobs  # noqa\n"},
        {"proj/settings.py": DJANGO_SETTINGS.replace("'django.contrib.auth'",
                                                     "'django.contrib.admin'"),
         "proj/a/admin.py": "from .jobs import jobs_t  # noqa\n"},
        {"proj/settings.py": DJANGO_SETTINGS + "LOGGING = {'handlers': {'x': "
                                               "{'class': 'proj.a.jobs.Handler'}}}\n"},
        # unknown
        {"proj/settings.py": DJANGO_SETTINGS.replace("'django.contrib.auth'", "'wagtail'")},
        {"proj/settings.py": DJANGO_SETTINGS + "INSTALLED_APPS += EXTRA\n"},
        {"proj/settings.py": DJANGO_SETTINGS.replace("INSTALLED_APPS = [", "INSTALLED_APPS = "
                                                     "BASE + [")},
        {"proj/production.py": "INSTALLED_APPS = ['proj.a']\n"},
        {"proj/celery.py": DJANGO_APP.replace("os.environ.setdefault", "print")},
    ],
)
def test_django_silent(tmp_path: Path, changes: dict[str, str | None]) -> None:
    assert _found(_project(tmp_path, {**DJANGO, **changes}), "--no-cache") == []


def test_an_include_added_elsewhere_clears_the_cached_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding rests on every file the worker may import: it is kept with the worker
    scan's answer, which a changed file of the project invalidates, so the next run sees
    the module included."""
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", str(tmp_path / "cache"))
    root = _project(tmp_path, {})

    def lines() -> list[int]:
        return [line for _, line, _ in _found(root)]

    assert lines() == [7, 10, 11]
    assert lines() == [7, 10, 11]  # the other files from the cache, this one redone
    (root / "proj" / "celery.py").write_text(APP.replace("'proj.inc'", "'proj.inc', 'proj.a.jobs'"))
    assert lines() == []


# -- against Celery: what a worker imports on start -----------------------------------
#: a worker's imports on start, in process: its ``-A`` module, then the default modules
#: (include, imports, autodiscovery); the real worker agrees (``test_worker_imports_celery``)
ORACLE = (
    "import json, proj\nfrom proj.celery import app\n"
    "app.loader.import_default_modules()\n"
    "print(json.dumps(sorted(n for n in app.tasks if n.startswith('proj.'))))\n"
)
MODULES = ["proj.m0", "proj.m1", "proj.m2", "proj.p0.tasks", "proj.p0.jobs",
           "proj.p1.tasks", "proj.p1.jobs", "proj.p1.more"]
PACKAGES = ["proj.p0", "proj.p1"]


@st.composite
def projects(draw: st.DrawFn) -> dict[str, object]:
    edges = draw(st.lists(st.tuples(st.sampled_from(MODULES), st.sampled_from(MODULES)),
                          max_size=5))
    return {
        "edges": edges,
        "include": draw(st.lists(st.sampled_from(MODULES), max_size=2, unique=True)),
        "discover": draw(st.lists(st.sampled_from(PACKAGES), max_size=2, unique=True)),
        "related": draw(st.sampled_from(["tasks", "jobs", "more"])),
        "local": draw(st.booleans()),  # an import inside a function, or at the top
    }


def _files(shape: dict[str, object]) -> dict[str, str]:
    imports: dict[str, list[str]] = {m: [] for m in MODULES}
    for source, target in shape["edges"]:  # type: ignore[attr-defined]
        if source != target:
            imports[source].append(target)
    files = {"proj/__init__.py": "from .celery import app as celery_app\n",
             "proj/p0/__init__.py": "", "proj/p1/__init__.py": "",
             "proj/celery.py": (
                 "import os\n\nfrom celery import Celery\n\n"
                 f"app = Celery('proj', broker='memory://', include={shape['include']!r})\n"
                 f"app.autodiscover_tasks({shape['discover']!r}, "
                 f"related_name={shape['related']!r})\n")}
    send = "".join(f"import {m}\n" for m in MODULES) + "\n\ndef send():\n"
    for module in MODULES:
        name = module.replace(".", "_")
        head = "".join(
            (f"def _load():\n    import {t}  # noqa\n\n\n" if shape["local"] else f"import {t}\n")
            for t in imports[module])
        files[module.replace(".", "/") + ".py"] = head + SHARED.format(name=name)
        send += f"    {module}.{name}.delay()\n"
    files["web/__init__.py"] = ""
    files["web/send.py"] = send
    return files


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(shape=projects())
def test_reported_exactly_what_celery_does_not_register(shape: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = _write(Path(folder) / "tree", _files(shape))
        env = {**os.environ, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", ORACLE], cwd=root, env=env, check=True,
                             capture_output=True, text=True, timeout=60).stdout
        registered = set(json.loads(out))
        found = _found(root, "--no-cache")
    expected = {f"{m}.{m.replace('.', '_')}" for m in MODULES} - registered
    reported = {message.split("no task named '")[1].split("'")[0] for _, _, message in found}
    if shape["local"]:  # an import in a function may run in the worker: not reported
        assert reported <= expected
    else:
        assert reported == expected
