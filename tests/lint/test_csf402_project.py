"""Static CSF402 where the app's configuration is not all literal: a task whose decorator
says ``acks_late=True`` is reported when no text of its project names
``reject_on_worker_lost`` / ``retry_on_worker_lost`` and nothing else could set it (a
generic mapping of the environment or of data, an app or base class from elsewhere, a
pool whose worker dies whole); else the linter stays silent.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.cli import main
from celery_safe.lint.interp.workerlost import WorkerLostScan

from .test_cache import write
from .test_flake8_project import flake8

#: the app is configured in a function: the literal reader leaves it unjudged
CELERY = """\
from celery import Celery

app = Celery("shop")


def configure(settings):
    app.conf.update(broker_url=settings["broker"], task_default_queue="default")
"""

TASKS = """\
from shop.celery import app


@app.task(acks_late=True)
def charge(order_id):
    return order_id


@app.task
def refund(order_id):
    return order_id
"""


def found(root: Path, *argv: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["check", "--select", "CSF402", *(argv or ("--no-cache",)), str(root / "shop")])
    return [line.split(": CSF402")[0].rpartition("/")[2] for line in out.getvalue().splitlines()
            if " CSF402 " in line]


def project(root: Path, files: dict[str, str | None] | None = None) -> Path:
    """The shop project, with ``files`` added or replaced."""
    base: dict[str, str | None] = {
        "shop/__init__.py": "", "shop/celery.py": CELERY, "shop/tasks.py": TASKS,
    }
    write(root, {**base, **(files or {})})
    return root


def test_reported_at_the_decorator_when_nothing_names_the_protection(tmp_path: Path) -> None:
    assert found(project(tmp_path)) == ["tasks.py:4:2"]


@pytest.mark.parametrize("files", [
    # the setting, under any spelling, in any file the project may load
    {"shop/settings.py": "CELERY_TASK_REJECT_ON_WORKER_LOST = True\n"},
    {"shop/settings.py": "CELERY_REJECT_ON_WORKER_LOST = True\n"},
    {".env": "CELERY_TASK_REJECT_ON_WORKER_LOST=1\n"},
    {"config.yaml": "celery:\n  task_reject_on_worker_lost: true\n"},
    {"shop/base.py": "from celery import Task\n\n\nclass Base(Task):\n"
                      "    retry_on_worker_lost = True\n"},
    {"shop/signals.py": "from celery.exceptions import WorkerLostError\n"},
    # data reaching the configuration under keys no text names
    {"shop/env.py": "import os\nfrom shop.celery import app\n\n"
                     "for key, value in os.environ.items():\n"
                     "    if key.startswith('CELERY_'):\n"
                     "        app.conf[key[7:].lower()] = value\n"},
    {"shop/boot.py": "from shop.celery import app\n\napp.config_from_envvar('SHOP_CELERY')\n"},
    {"shop/boot.py": "from shop.celery import app\n\n\ndef boot(cfg):\n"
                      "    app.conf.update(cfg['celery'])\n"},
    {"shop/boot.py": "from shop.celery import app\n\n\ndef boot(cfg):\n"
                      "    app.conf.update(task_default_queue='q', **cfg)\n"},
    {"shop/settings.py": "from company.settings.celery import *\n"},
    {"shop/settings.py": "try:\n    from .local_settings import *\nexcept ImportError:\n"
                          "    pass\n"},
    {"shop/settings.py": "import json, os\n\nglobals().update(json.loads(os.environ['S']))\n"},
    {"shop/boot.py": "from shop.celery import app\n\napp.config_from_object('celeryconfig')\n"},
    # Celery's loader imports the module this variable names, for any app (measured)
    {"Dockerfile": "ENV CELERY_CONFIG_MODULE=deploy.celeryconfig\n"},
    # a worker whose pool is not prefork dies whole: its message is not acknowledged
    {"Procfile": "worker: celery -A shop worker -P gevent\n"},
    # the app's class, or its task class, from elsewhere
    {"shop/celery.py": "from flask_celery import Celery\n\napp = Celery()\n"},
    {"shop/celery.py": CELERY + "\nfrom company.tasks import ReliableTask\n\n"
                        "app.Task = ReliableTask\n"},
])
def test_silent_when_something_may_protect_the_task(
    tmp_path: Path, files: dict[str, str]
) -> None:
    assert found(project(tmp_path, files)) == []


@pytest.mark.parametrize("decorator", [
    "@app.task(acks_late=ACKS)",  # not a literal
    "@app.task(acks_late=True, **OPTIONS)",  # options not all written
    "@app.task(acks_late=True, base=ReliableTask)",  # a base class from elsewhere
])
def test_silent_when_the_task_options_are_not_known(tmp_path: Path, decorator: str) -> None:
    tasks = ("from company import ReliableTask\nfrom shop.celery import app\n\n"
             "ACKS = True\nOPTIONS = {}\n\n\n" + decorator + "\ndef charge(order_id):\n"
             "    return order_id\n")
    assert found(project(tmp_path, {"shop/tasks.py": tasks})) == []


def test_silent_for_a_library_whose_only_app_is_its_tests(tmp_path: Path) -> None:
    """A library's ``shared_task`` runs on the app of the project that installs it."""
    tasks = ("from celery import shared_task\n\n\n@shared_task(acks_late=True)\n"
             "def charge(order_id):\n    return order_id\n")
    files = {"shop/celery.py": None, "shop/tasks.py": tasks, "tests/celery.py": CELERY}
    assert found(project(tmp_path, files)) == []
    write(tmp_path, {"shop/celery.py": CELERY})
    assert found(tmp_path) == ["tasks.py:4:2"]


def test_silent_for_an_app_made_elsewhere(tmp_path: Path) -> None:
    made = "from company.celery import make_app\n\napp = make_app('shop')\n"
    assert found(project(tmp_path, {"shop/celery.py": made})) == []


def test_an_app_re_exported_by_the_package(tmp_path: Path) -> None:
    tasks = TASKS.replace("from shop.celery import app", "from shop import app")
    files = {"shop/__init__.py": "from .celery import app\n",
             "shop/tasks.py": tasks}
    assert found(project(tmp_path, files)) == ["tasks.py:4:2"]


def test_shared_task_and_a_base_of_the_project(tmp_path: Path) -> None:
    tasks = ("from celery import Task, shared_task\n\n\nclass Audited(Task):\n"
             "    abstract = True\n\n\n@shared_task(acks_late=True, base=Audited)\n"
             "def charge(order_id):\n    return order_id\n")
    assert found(project(tmp_path, {"shop/tasks.py": tasks})) == ["tasks.py:8:2"]


WRAPPER = """\
from shop.celery import app


def task(**kwargs):
    kwargs.setdefault("shared", False)

    def deco(wrapped):
        app.task(**kwargs)(wrapped)
        return wrapped

    return deco
"""


def test_a_project_decorator_handing_its_options_to_celery(tmp_path: Path) -> None:
    tasks = ("from shop import registry\n\n\n@registry.task(acks_late=True)\n"
             "def charge(order_id):\n    return order_id\n")
    files = {"shop/registry.py": WRAPPER, "shop/tasks.py": tasks}
    assert found(project(tmp_path, files)) == ["tasks.py:4:2"]


def test_a_project_decorator_changing_the_options_is_not_read(tmp_path: Path) -> None:
    wrapper = WRAPPER.replace('kwargs.setdefault("shared", False)', 'kwargs["acks_late"] = False')
    tasks = ("from shop import registry\n\n\n@registry.task(acks_late=True)\n"
             "def charge(order_id):\n    return order_id\n")
    files = {"shop/registry.py": wrapper, "shop/tasks.py": tasks}
    assert found(project(tmp_path, files)) == []


def test_a_literal_app_is_reported_once(tmp_path: Path) -> None:
    """The literal reader judges an app made and configured in the task's module: the
    text path adds nothing at the same decorator."""
    module = ('from celery import Celery\n\napp = Celery("shop", broker="redis://")\n\n\n'
              "@app.task(acks_late=True)\ndef charge(order_id):\n    return order_id\n")
    write(tmp_path, {"shop/__init__.py": "", "shop/tasks.py": module})
    assert found(tmp_path) == ["tasks.py:6:2"]


def test_the_cache_forgets_a_finding_once_a_file_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", str(cache))
    root = project(tmp_path / "p")
    assert found(root, "-v") == ["tasks.py:4:2"]
    write(root, {"shop/settings.py": "CELERY_TASK_REJECT_ON_WORKER_LOST = True\n"})
    assert found(root, "-v") == []


# -- the scan itself -------------------------------------------------------------------
SPELLINGS = ["task_reject_on_worker_lost", "reject_on_worker_lost", "retry_on_worker_lost",
             "CELERY_TASK_REJECT_ON_WORKER_LOST", "CELERY_REJECT_ON_WORKER_LOST",
             "task_retry_on_worker_lost", "WorkerLostError"]


@settings(max_examples=60, deadline=None)
@given(
    spelling=st.sampled_from(SPELLINGS),
    upper=st.lists(st.booleans(), min_size=40, max_size=40),
    before=st.text(st.characters(codec="ascii"), max_size=40),
    after=st.text(st.characters(codec="ascii"), max_size=40),
    python=st.booleans(),
)
def test_any_text_naming_the_protection_leaves_it_unknown(
    spelling: str, upper: list[bool], before: str, after: str, python: bool
) -> None:
    cased = "".join(c.upper() if u else c.lower() for c, u in zip(spelling, upper, strict=False))
    scan = WorkerLostScan()
    scan.add("shop/x.py" if python else "deploy/x.yaml", (before + cased + after).encode(),
             python)
    assert scan.why_unknown() is not None


@pytest.mark.parametrize("text", [
    'app.conf.update(\n    broker_url=url,\n    task_default_queue="q",\n)\n',
    'app.conf.update({"task_default_queue": "q"})\n',
    'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n',
    'BROKER = os.environ.get("BROKER_URL")\nif "X" in os.environ:\n    pass\n',
    'app.config_from_object("django.conf:settings", namespace="CELERY")\n',
    "subprocess.run(['ls', '-p'])\n",
])
def test_written_keys_are_not_a_generic_mapping(text: str) -> None:
    scan = WorkerLostScan()
    scan.add("shop/settings.py", text.encode(), True)
    scan.add("shop/__init__.py", b"", True)
    assert scan.why_unknown() is None


def test_modules_named_must_be_the_projects() -> None:
    scan = WorkerLostScan()
    scan.add("src/shop/settings/__init__.py", b"from .base import *\n", True)
    scan.add("src/shop/settings/base.py", b"", True)
    scan.add("src/shop/celery.py", b"app.config_from_object('shop.celeryconfig')\n", True)
    assert scan.why_unknown() == "src/shop/celery.py loads shop.celeryconfig, not in the project"
    scan.add("src/shop/celeryconfig.py", b"", True)
    assert scan.why_unknown() is None


def test_a_base_class_is_safe_only_through_the_projects_classes() -> None:
    scan = WorkerLostScan()
    scan.add("shop/base.py", b"class A(celery.Task):\n    pass\n\n\nclass B(A, Mixin):\n"
                             b"    pass\n\n\nclass Mixin:\n    pass\n\n\nclass C(lib.Base):\n"
                             b"    pass\n", True)
    assert scan.safe_class("A") and scan.safe_class("B") and scan.safe_class("shop.base.B")
    assert not scan.safe_class("C") and not scan.safe_class("Unknown")


def test_a_large_configuration_file_is_data(tmp_path: Path) -> None:
    scan = WorkerLostScan()
    scan.add("fixtures/big.json", None, False)
    assert scan.why_unknown() is None
    scan.add("shop/big.py", None, True)
    assert scan.why_unknown() == "shop/big.py cannot be read"


def test_no_site_packages_are_read(tmp_path: Path) -> None:
    """A virtual environment inside the project is not its text."""
    root = project(tmp_path, {
        "venv/lib/site-packages/celery/x.py": "reject_on_worker_lost = True\n"})
    assert os.path.isfile(root / "venv/lib/site-packages/celery/x.py")
    assert found(root) == ["tasks.py:4:2"]


def test_flake8_reports_it_like_check(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert flake8(root, "--select", "CSF402", "shop") == ["shop/tasks.py:4:2: CSF402"]
