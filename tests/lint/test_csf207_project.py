"""CSF207 on a project: the model class and the serializer live in other files.

The rule reports a model instance sent to a task only when the model's class resolves
(through the project's modules) to Django's ``Model``, and only when no file of the
project sends tasks with another serializer. ``check`` and flake8 agree, and the
findings cache never keeps a finding whose model or serializer file changed.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery_safe.cli import main
from celery_safe.lint.config import Config
from celery_safe.lint.interp.serializers import json_only

from .test_cache import run_files, write
from .test_flake8_project import flake8

BASE = """\
from django.db import models


class TimeStamped(models.Model):
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
"""

MODELS = """\
from shop.base import TimeStamped


class Order(TimeStamped):
    pass
"""

TASKS = """\
from celery import shared_task


@shared_task
def ship(order_id):
    return order_id
"""

VIEWS = """\
from shop.models import Order
from shop.tasks import ship


def ship_view(request, pk):
    order = Order.objects.get(pk=pk)
    ship.delay(order)
"""

SETTINGS = 'CELERY_TASK_SERIALIZER = "json"\nCELERY_RESULT_SERIALIZER = "pickle"\n'


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    write(tmp_path, {
        "shop/__init__.py": "", "shop/base.py": BASE, "shop/models.py": MODELS,
        "shop/tasks.py": TASKS, "shop/views.py": VIEWS, "shop/settings.py": SETTINGS,
    })  # fmt: skip
    return tmp_path


def found(root: Path) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["check", "--no-cache", "--select", "CSF207", str(root / "shop")])
    return [line for line in out.getvalue().splitlines() if " CSF207 " in line]


def test_a_model_of_another_module_sent_under_json(shop: Path) -> None:
    [line] = found(shop)
    assert line.startswith(f"{shop / 'shop' / 'views.py'}:7:16: CSF207 ship.delay() argument")
    assert "order (Order, a Django model instance)" in line and "'json'" in line
    assert "order.pk" in line


def test_flake8_reports_the_same(shop: Path) -> None:
    expected = [f"{shop / 'shop' / 'views.py'}:7:16: CSF207"]
    assert [" ".join(line.split(" ")[:2]) for line in found(shop)] == expected
    assert flake8(shop, "--select", "CSF207", "shop") == ["shop/views.py:7:16: CSF207"]


@pytest.mark.parametrize(
    "edit",
    [
        {"shop/settings.py": 'CELERY_TASK_SERIALIZER = "pickle"\n'},
        {"shop/settings.py": 'CELERY_TASK_SERIALIZER = env("SERIALIZER", default="json")\n'},
        {"shop/celery.py": 'app.conf.task_serializer = "msgpack"\n'},
        {"shop/celery.py": 'app.conf.update({"task_serializer": "yaml"})\n'},
        {"shop/celery.py": 'app.config_from_envvar("SHOP_CONFIG")\n'},
        {"shop/tasks.py": TASKS.replace("@shared_task", '@shared_task(serializer="pickle")')},
        {"shop/other.py": "def send(t, order, how):\n"
                          "    t.apply_async((order,), serializer=how)\n"},
        {"shop/other.py": "from kombu.utils.json import register_type\n"},
        {"shop/sub/deep.py": "class Job:\n    serializer = 'pickle'\n"},
        {"shop/celery.py": 'app = Celery("shop", task_cls="shop.base:ModelTask")\n'},
        {"shop/celery.py": "app.conf.task_annotations = "
                           '{"shop.tasks.ship": {"serializer": "pickle"}}\n'},
        # settings beside the package, in the same repository
        {".git/HEAD": "ref: refs/heads/main\n",
         "config/settings.py": 'CELERY_TASK_SERIALIZER = "pickle"\n'},
        # Order is no longer a model / carried by kombu's JSON
        {"shop/base.py": "class TimeStamped:\n    pass\n"},
        {"shop/models.py": MODELS + "\n    def __json__(self):\n        return self.pk\n"},
        {"shop/views.py": VIEWS.replace("ship.delay(order)", "ship.delay(order.pk)")},
    ],
)
def test_silent_when_the_serializer_or_the_model_is_not_known(
    shop: Path, edit: dict[str, str]
) -> None:
    write(shop, edit)
    assert found(shop) == []


@pytest.mark.parametrize(
    "edit",
    [
        {"shop/celery.py": 'app.conf.task_serializer = "json"\nresult_serializer = "pickle"\n'},
        # Django REST framework's serializers are not Celery's
        {"shop/api.py": "def get(self, request):\n    serializer = self.get_serializer(data=1)\n"
                        "    serializer_class = OrderSerializer\n"},
        {"shop/settings.py": "CELERY_ACCEPT_CONTENT = ['json', 'pickle']\n"},
        {"shop/tasks.py": TASKS.replace("@shared_task", '@shared_task(serializer="json")')},
    ],
)
def test_still_json(shop: Path, edit: dict[str, str]) -> None:
    write(shop, {".git/HEAD": "ref: refs/heads/main\n", "docs/conf.py": "x = 1\n"})
    write(shop, edit)
    assert len(found(shop)) == 1


@pytest.mark.parametrize(
    ("edit", "after"),
    [
        ({"shop/base.py": "class TimeStamped:\n    pass\n"}, []),  # a base, two files away
        ({"shop/settings.py": 'CELERY_TASK_SERIALIZER = "pickle"\n'}, []),  # a file not imported
        ({"shop/models.py": MODELS.replace("Order", "Cart")}, []),
    ],
)
def test_the_cache_never_keeps_a_stale_finding(
    shop: Path, private_findings_cache: Path, edit: dict[str, str], after: list[str]
) -> None:
    first = run_files(shop, Config(select=("CSF207",)), private_findings_cache)[1]
    assert first == ["views.py:7:CSF207"]
    write(shop, edit)
    assert run_files(shop, Config(select=("CSF207",)), private_findings_cache)[1] == after


def test_the_cache_finds_it_once_the_project_moves_to_json(
    shop: Path, private_findings_cache: Path
) -> None:
    write(shop, {"shop/settings.py": 'CELERY_TASK_SERIALIZER = "pickle"\n'})
    assert run_files(shop, Config(select=("CSF207",)), private_findings_cache)[1] == []
    write(shop, {"shop/settings.py": SETTINGS})
    after = run_files(shop, Config(select=("CSF207",)), private_findings_cache)[1]
    assert after == ["views.py:7:CSF207"]


# -- the serializer scan ------------------------------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-/", min_size=1, max_size=12)
FORMS = [
    "CELERY_TASK_SERIALIZER = {q}{v}{q}\n",
    "app.conf.task_serializer = {q}{v}{q}\n",
    "app.conf.update(task_serializer={q}{v}{q})\n",
    "CONFIG = {{{q}task_serializer{q}: {q}{v}{q}}}\n",
    "app.conf.task_annotations = {{{q}*{q}: {{{q}serializer{q}: {q}{v}{q}}}}}\n",
    "@app.task(serializer={q}{v}{q})\ndef f():\n    pass\n",
    "f.apply_async((1,), serializer={q}{v}{q})\n",
    "class T(Task):\n    serializer = {q}{v}{q}\n",
    "f.s(1).set(serializer={q}{v}{q})\n",
]


@given(form=st.sampled_from(FORMS), value=NAMES, quote=st.sampled_from(["'", '"']),
       before=st.sampled_from(["", "x = 1\n", "serializer = Foo(x)\n"]))
def test_any_serializer_but_json_written_anywhere_is_not_json(
    form: str, value: str, quote: str, before: str
) -> None:
    line = form.format(q=quote, v=value)
    assert json_only((before + line).encode()) is (value == "json")
