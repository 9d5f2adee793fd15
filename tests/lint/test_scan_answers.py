"""The project scans' answers kept in the findings cache (``cache.ScanAnswers``).

A scan (what the worker imports: CSF206; the task names written: CSF206, CSF403; the
serializers: CSF207) reads the whole project. Its answer is kept with what it read, and
a file whose findings rest on it is cached with the answer's key. What must hold: a run
on a warm cache reports exactly what a run without the cache reports, after any edit;
an unchanged project is neither scanned nor analysed again; a changed file invalidates
the answers that read it; nothing is written outside the cache folder, privately.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe.cli import main
from celery_safe.lint import resolve
from celery_safe.lint.cache import FindingsCache
from celery_safe.lint.config import Config
from celery_safe.lint.resolve import ModuleResolver

from .test_worker_imports import DJANGO_APP, SHARED

SETTINGS = (
    "INSTALLED_APPS = ['django.contrib.auth', 'proj.a.apps.AConfig']\n"
    "ROOT_URLCONF = 'proj.urls'\n"
    "CELERY_BROKER_URL = 'redis://localhost:6379/0'\n"
    "CELERY_TASK_ACKS_LATE = True\n"
)
VIEWS = "from proj.a.jobs import jobs_t\n\n\ndef view():\n    jobs_t.delay()\n"
PROJECT = {
    "proj/__init__.py": "from .celery import app as celery_app\n",
    "proj/celery.py": DJANGO_APP,
    "proj/settings.py": SETTINGS,
    "proj/urls.py": "urlpatterns = []\n",
    "proj/a/__init__.py": "",
    "proj/a/apps.py": (
        "from django.apps import AppConfig\n\n\nclass AConfig(AppConfig):\n"
        "    name = 'proj.a'\n"
    ),
    "proj/a/tasks.py": SHARED.format(name="a_t"),
    "proj/a/jobs.py": SHARED.format(name="jobs_t"),
    "web/__init__.py": "",
    "web/views.py": VIEWS,
}


def _write(root: Path, files: dict[str, str | None]) -> None:
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _found(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    """``check``'s findings as ``file:line: CODE``; ``-v`` says what came from the cache."""
    capsys.readouterr()
    main(["check", "--select", "CSF206,CSF402,CSF207,CSF403", *extra, str(root),
          "--format", "json", "--output", str(root.parent / "report.json")])
    rows = json.loads((root.parent / "report.json").read_text())
    return sorted(f"{Path(r['path']).name}:{r['line']}: {r['code']}" for r in rows)


def _counts(capsys: pytest.CaptureFixture[str]) -> tuple[int, int]:
    """(files from the cache, files analysed) of the last ``check -v``."""
    line = next(x for x in capsys.readouterr().err.splitlines() if "file(s) from the" in x)
    words = line.split(": ")[-1].split()
    return int(words[0]), int(words[5])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "tree"
    _write(root, dict(PROJECT))
    return root


NEVER = "views.py:5: CSF206"
ACKS = "celery.py:8: CSF402"  # where the app reads its settings


def test_an_edited_settings_module_changes_exactly_the_answers_that_read_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cold = _found(project, capsys, "-v")
    assert NEVER in cold and ACKS in cold
    assert _found(project, capsys, "-v") == cold
    assert _counts(capsys)[1] == 0  # every file from the cache: views.py too
    # the worker now imports proj.a.jobs (ROOT_URLCONF's module imports it), and
    # acks_late is paired with reject_on_worker_lost: both findings go
    _write(project, {"proj/urls.py": "import proj.a.jobs  # noqa\nurlpatterns = []\n",
                     "proj/settings.py": SETTINGS + "CELERY_TASK_REJECT_ON_WORKER_LOST = True\n"})
    warm = _found(project, capsys, "-v")
    assert warm == _found(project, capsys, "--no-cache")
    assert NEVER not in warm and ACKS not in warm
    # back as it was: found again, as a run without the cache finds
    _write(project, {"proj/urls.py": PROJECT["proj/urls.py"], "proj/settings.py": SETTINGS})
    assert _found(project, capsys) == cold == _found(project, capsys, "--no-cache")


def test_a_new_module_is_seen_by_the_next_run(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert NEVER in _found(project, capsys)
    # a module the worker imports through Django (the app's models) imports jobs
    _write(project, {"proj/a/models.py": "from . import jobs  # noqa\n"})
    assert NEVER not in _found(project, capsys)
    _write(project, {"proj/a/models.py": None})
    assert NEVER in _found(project, capsys)


def test_an_unchanged_project_is_not_scanned_again(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[Path] = []
    worker_of = resolve._worker_of

    def counted(root: Path, *args: object) -> object:
        scans.append(root)
        return worker_of(root, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(resolve, "_worker_of", counted)
    cold = _found(project, capsys)
    assert scans == [project]  # once in the run, however many files ask
    (project / "web" / "more.py").write_text(VIEWS)  # a new file of the project
    assert _found(project, capsys, "-v") == sorted([*cold, "more.py:5: CSF206"])
    # analysed: the new file, and views.py, whose finding rests on the worker scan (which
    # read the project's files: one more now); the others come from the cache
    assert _counts(capsys)[1] == 2
    assert scans == [project, project]  # the project changed: scanned again
    assert _found(project, capsys, "-v") == sorted([*cold, "more.py:5: CSF206"])
    assert scans == [project, project] and _counts(capsys)[1] == 0


def test_the_answers_are_private_files_in_the_cache_folder_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p for p in project.parent.rglob("*") if "cache" not in p.parts}
    _found(project, capsys)
    after = {p for p in project.parent.rglob("*") if "cache" not in p.parts}
    assert after - before <= {project.parent / "report.json"}
    folder = project.parent / "cache"
    answers = list(folder.glob("*.scan.json"))
    assert answers and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in answers)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_forged_answer_is_not_trusted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cold = _found(project, capsys)
    (answer,) = (project.parent / "cache").glob("*.scan.json")
    data = json.loads(answer.read_text())
    data["answer"]["modules"].append("proj.a.jobs")  # would silence CSF206
    data["listing"] = "0" * 64  # the project's files no longer those it read
    answer.write_text(json.dumps(data))
    os.chmod(answer, 0o600)
    assert _found(project, capsys) == cold
    answer.write_text("not JSON")
    assert _found(project, capsys) == cold


def test_a_scan_without_a_cache_writes_nothing(tmp_path: Path) -> None:
    _write(tmp_path, dict(PROJECT))
    resolver = ModuleResolver()
    cache = FindingsCache(Config(), resolver, None)
    assert resolver.store is None and cache.folder is None
    assert resolver.never_imported(tmp_path / "proj/a/jobs.py", tmp_path / "web/views.py")
    assert resolver.scan_keys == {("worker", tmp_path): None}


# -- hypothesis: any sequence of edits, the warm cache reports what no cache reports ----
EDITS = {
    "urls imports jobs": {"proj/urls.py": "import proj.a.jobs  # noqa\nurlpatterns = []\n"},
    "urls plain": {"proj/urls.py": PROJECT["proj/urls.py"]},
    "models import jobs": {"proj/a/models.py": "from . import jobs  # noqa\n"},
    "no models": {"proj/a/models.py": None},
    "reject on lost": {"proj/settings.py": SETTINGS
                       + "CELERY_TASK_REJECT_ON_WORKER_LOST = True\n"},
    "settings plain": {"proj/settings.py": SETTINGS},
    "a second app": {"proj/other.py": "from celery import Celery\n\nother = Celery('o')\n"},
    "no second app": {"proj/other.py": None},
    "tasks renamed": {"proj/a/jobs.py": SHARED.format(name="jobs_t").replace(
        "@shared_task", "@shared_task(name='proj.a.jobs.jobs_t')")},
    "jobs plain": {"proj/a/jobs.py": PROJECT["proj/a/jobs.py"]},
    "pickle": {"proj/settings.py": SETTINGS + "CELERY_TASK_SERIALIZER = 'pickle'\n"},
    "a new view": {"web/more.py": VIEWS},
}


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=4))
def test_after_any_edits_the_cache_reports_what_no_cache_reports(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, edits: list[str],
) -> None:
    folder = tmp_path_factory.mktemp("edits")
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", str(folder / "cache"))
    root = folder / "tree"
    _write(root, dict(PROJECT))
    _found(root, capsys)  # the cache filled
    for edit in edits:
        _write(root, EDITS[edit])
        assert _found(root, capsys) == _found(root, capsys, "--no-cache"), edit
