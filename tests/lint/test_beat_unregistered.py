"""CSF206, static: a beat entry naming a task of the project that nothing registers
(beat sends it, the worker drops it: measured in ``test_joins_api_celery.py``). Precise
before anything: any way the name might be registered keeps it silent."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.cli import main

from .parity import assert_same_findings, python_files

TASKS = '''\
from celery import Task, shared_task
from mylib import job


@shared_task
def kept():
    pass


@job  # not known to be Celery's: it may register ``custom``
def custom():
    pass


class Klass(Task):
    def run(self):
        pass


RENAMED = "app1.tasks.by_constant"
'''

OTHER = '''\
from celery import shared_task


@shared_task(name="app1.tasks.explicit")
def explicit():
    pass
'''

SETTINGS = '''\
CELERY_BEAT_SCHEDULE = {
    "kept": {"task": "app1.tasks.kept", "schedule": 60},
    "custom": {"task": "app1.tasks.custom", "schedule": 60},
    "class": {"task": "app1.tasks.Klass", "schedule": 60},
    "constant": {"task": "app1.tasks.by_constant", "schedule": 60},
    "explicit": {"task": "app1.tasks.explicit", "schedule": 60},
    "no-module": {"task": "app1.jobs.x", "schedule": 60},
    "library": {"task": "django_celery_beat.tasks.x", "schedule": 60},
    "celery": {"task": "celery.backend_cleanup", "schedule": 60},
    "gone": {"task": "app1.tasks.gone", "schedule": 60},
    "typo": {"task": "app1.tasks.kpet", "schedule": 60},
}
'''


def _project(root: Path, other: str = OTHER) -> Path:
    for package in ("proj", "app1"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    (root / "app1" / "tasks.py").write_text(TASKS)
    (root / "app1" / "other.py").write_text(other)
    (root / "proj" / "settings.py").write_text(SETTINGS)
    return root


def _found(root: Path) -> list[tuple[str, int, str]]:
    report = root / "report.json"
    main(["check", "--no-cache", str(root), "--format", "json", "--output", str(report)])
    rows = json.loads(report.read_text())
    return [(Path(r["path"]).name, r["line"], r["message"]) for r in rows]


@pytest.mark.parametrize(
    "other",
    [
        OTHER,
        # a name built from a literal that is no task name's start: still decided
        OTHER + "\n\ndef greet(last):\n    name = 'Mr. ' + last\n    return name\n",
        # a name attribute not a literal, but no class registered by hand here
        OTHER + "\n\ndef greet(last):\n    name = last\n    return name\n",
    ],
)
def test_only_a_project_name_nothing_registers(tmp_path: Path, other: str) -> None:
    found = _found(_project(tmp_path, other))
    assert [(name, line) for name, line, _ in found] == [("settings.py", 10), ("settings.py", 11)]
    assert "no task named 'app1.tasks.gone'" in found[0][2]
    assert "(did you mean 'app1.tasks.kept'?)" in found[1][2]
    assert assert_same_findings(python_files(tmp_path)) > 0  # flake8: the same


@pytest.mark.parametrize(
    "other",
    [
        # names no scan reads: a non-literal name, an overridden gen_task_name
        "from celery import shared_task\n\n\n@shared_task(name=NAME)\ndef f():\n    pass\n",
        "from celery import Celery\n\n\nclass App(Celery):\n"
        "    def gen_task_name(self, name, module):\n        return name\n",
        # a name built from a literal (registers app1.tasks.gone, as Celery shows)
        "from celery import shared_task\n\nfor job in ['gone', 'kpet']:\n"
        "    shared_task(name='app1.tasks.%s' % job)(print)\n",
        "from celery import shared_task\n\nfor job in ['gone', 'kpet']:\n"
        "    shared_task(name='app1.tasks.' + job)(print)\n",
        "from celery import shared_task\n\nfor job in ['gone', 'kpet']:\n"
        "    shared_task(name='app1.tasks.{}'.format(job))(print)\n",
        "from celery import Task\n\n\nclass Gone(Task):\n"
        "    name = 'app1.tasks.' + 'gone'\n",
        # a Task class registered by hand, named by a constant (registers app1.tasks.gone)
        "from celery import Task, current_app\n\nPREFIX = 'app1.tasks'\n\n\n"
        "class Gone(Task):\n    name = PREFIX + '.gone'\n\n\n"
        "current_app.register_task(Gone())\n",
    ],
)
def test_silent_when_names_cannot_be_read(tmp_path: Path, other: str) -> None:
    assert _found(_project(tmp_path, other)) == []


#: how ``app1/tasks.py`` may bind a name (each keeps an entry naming it silent)
BINDINGS = {
    "task": "@shared_task\ndef {n}():\n    pass\n",
    "custom": "@job\ndef {n}():\n    pass\n",
    "plain": "def {n}():\n    pass\n",
    "class": "class {n}(Task):\n    pass\n",
    "assigned": "{n} = shared_task(lambda: None)\n",
    "imported": "from .impl import {n}\n",
    "conditional": "try:\n    from .impl import {n}\nexcept ImportError:\n    {n} = None\n",
}
NAMES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    bound=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(sorted(BINDINGS)), max_size=6),
    mentioned=st.sets(st.sampled_from(NAMES), max_size=2),
    scheduled=st.lists(
        st.tuples(st.sampled_from(["app1.tasks", "celery", "other.tasks", "app1.nope"]),
                  st.sampled_from(NAMES)),
        min_size=1, max_size=5, unique=True,
    ),
)
def test_reported_exactly_when_nothing_may_register_it(
    bound: dict[str, str], mentioned: set[str], scheduled: list[tuple[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for package in ("proj", "app1"):
            (root / package).mkdir()
            (root / package / "__init__.py").write_text("")
        body = "from celery import Task, shared_task\nfrom mylib import job\n\n"
        body += "\n".join(BINDINGS[how].format(n=n) for n, how in sorted(bound.items()))
        (root / "app1" / "tasks.py").write_text(body)
        (root / "app1" / "names.py").write_text(
            "".join(f'{n.upper()} = "app1.tasks.{n}"\n' for n in sorted(mentioned))
        )
        entries = "".join(
            f'    "e{i}": {{"task": "{m}.{n}", "schedule": 60}},\n'
            for i, (m, n) in enumerate(scheduled)
        )
        (root / "proj" / "settings.py").write_text(f"CELERY_BEAT_SCHEDULE = {{\n{entries}}}\n")
        found = _found(root)
    expected = [
        ("settings.py", 2 + i)
        for i, (m, n) in enumerate(scheduled)
        if m == "app1.tasks" and n not in bound and n not in mentioned
    ]
    assert [(name, line) for name, line, _ in found] == expected


def test_a_registration_added_elsewhere_clears_the_cached_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding rests on every file of the project, which the findings cache does not
    track: it is never kept, so the next run sees a name registered since."""
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tree").mkdir()
    root = _project(tmp_path / "tree")

    def found() -> list[int]:
        report = tmp_path / "report.json"
        main(["check", str(root), "--format", "json", "--output", str(report)])
        return [row["line"] for row in json.loads(report.read_text())]

    assert found() == [10, 11]
    assert found() == [10, 11]  # the other files come from the cache, this one is redone
    (root / "app1" / "late.py").write_text(
        'from celery import shared_task\n\n\n@shared_task(name="app1.tasks.gone")\n'
        "def gone():\n    pass\n"
    )
    assert found() == [11]


#: a package whose ``__init__`` re-exports tasks its modules define
REEXPORT_INIT = "from .sweep import *\nfrom .jobs import purge\n"
REEXPORT_SWEEP = "from celery import shared_task\n\n\n@shared_task\ndef cleanup():\n    pass\n"
REEXPORT_JOBS = "from celery import shared_task\n\n\n@shared_task\ndef purge():\n    pass\n"
REEXPORT_SETTINGS = '''\
CELERY_BEAT_SCHEDULE = {
    "cleanup": {"task": "app1.tasks.cleanup", "schedule": 60},
    "purge": {"task": "app1.tasks.purge", "schedule": 60},
}
'''


def _reexport_project(root: Path, files: dict[str, str]) -> Path:
    sources = {"proj/__init__.py": "", "proj/settings.py": REEXPORT_SETTINGS,
               "app1/__init__.py": "", "app1/tasks/__init__.py": REEXPORT_INIT,
               "app1/tasks/sweep.py": REEXPORT_SWEEP, "app1/tasks/jobs.py": REEXPORT_JOBS,
               **files}
    for name, text in sources.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({}, {2: "app1.tasks.sweep.cleanup", 3: "app1.tasks.jobs.purge"}),
    # ``as`` and an absolute import: the same; a chain of re-exports is followed
    ({"app1/tasks/__init__.py": "from app1.tasks.jobs import purge as purge\n"
                                "from .more import *\n",
      "app1/tasks/more.py": "from .sweep import cleanup\n\n__all__ = ['cleanup']\n"},
     {2: "app1.tasks.sweep.cleanup", 3: "app1.tasks.jobs.purge"}),
    # a star import that does not export it binds nothing
    ({"app1/tasks/__init__.py": "from .sweep import *\nfrom .jobs import *\n",
      "app1/tasks/jobs.py": REEXPORT_JOBS + "\n\n__all__ = []\n"},
     {2: "app1.tasks.sweep.cleanup"}),
    # an explicit name registers the name wherever the task is defined
    ({"app1/tasks/jobs.py": REEXPORT_JOBS.replace(
        "@shared_task", "@shared_task(name='app1.tasks.purge')")},
     {2: "app1.tasks.sweep.cleanup"}),
    # a name made elsewhere, or Celery's naming changed: the registered names are unknown
    ({"app1/naming.py": "from celery import current_app\n\n\n"
                        "current_app.gen_task_name = lambda name, module: name\n"}, {}),
    ({"app1/naming.py": "from celery import Celery\n\n\nclass App(Celery):\n"
                        "    def gen_task_name(self, name, module):\n        return name\n"},
     {}),
    ({"app1/naming.py": "from celery import shared_task\n\n\n"
                        "@shared_task(name=NAME)\ndef f():\n    pass\n"}, {}),
    # bound some other way too, or from where the linter cannot look: unsure
    ({"app1/tasks/__init__.py": REEXPORT_INIT + "from celery_extras import *\n"}, {}),
    ({"app1/tasks/__init__.py": REEXPORT_INIT + "purge = cleanup = None\n"}, {}),
    ({"app1/tasks/__init__.py": "try:\n    from .jobs import purge\nexcept ImportError:\n"
                                "    purge = None\nfrom .sweep import *\n"},
     {2: "app1.tasks.sweep.cleanup"}),
    ({"app1/tasks/__init__.py": "from external.jobs import purge\nfrom .sweep import *\n",
      "app1/tasks/sweep.py": REEXPORT_SWEEP + "\n\n__all__ = make_all()\n"}, {}),
    # the defining module's task is not a plain decorated function
    ({"app1/tasks/jobs.py": "from celery import Task\n\n\nclass purge(Task):\n"
                            "    def run(self):\n        pass\n",
      "app1/tasks/sweep.py": "from mylib import job\n\n\n@job\ndef cleanup():\n    pass\n"},
     {}),
])
def test_a_beat_entry_naming_a_package_that_re_exports_the_task(
    tmp_path: Path, files: dict[str, str], expected: dict[int, str]
) -> None:
    """Celery names a task after its defining module: the package's name for it is
    registered by nothing (measured in ``test_worker_imports_celery.py``)."""
    found = _found(_reexport_project(tmp_path, files))
    assert {line: message.rpartition("did you mean ")[2].strip("'?")
            for _, line, message in found} == expected, found
    assert all(name == "settings.py" for name, _, _ in found)
    assert (assert_same_findings(python_files(tmp_path)) > 0) == bool(expected)  # flake8 agrees
