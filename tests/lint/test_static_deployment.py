"""CSF401-CSF404 from source: where the configuration is literal, the linter reports what
``check_app`` reports on the app the same source makes (one judgement: both run the
rules of ``celery_safe.deployment``); where it is not, the linter says nothing."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.deployment import RULES, check_app
from celery_safe.lint import check_source
from celery_safe.lint.findings import Finding

from .parity import assert_same_findings

pytestmark = pytest.mark.usefixtures("only_this_tests_tasks")  # tests/conftest.py

DEPLOY_CODES = ("CSF401", "CSF402", "CSF403", "CSF404")


def static(source: str, path: str = "shop.py") -> list[Finding]:
    return [f for f in check_source(textwrap.dedent(source), path) if f.code in DEPLOY_CODES]


def runtime(source: str) -> list[Any]:
    """check_app on the ``app`` the source makes (run as ``__main__``: its tasks are
    named after the app, ``shop.x``, as the linter names them in ``shop.py``)."""
    from celery import _state

    finalizers = set(_state._on_app_finalizers)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(compile(textwrap.dedent(source), "shop.py", "exec"), namespace)
        return [p for p in check_app(namespace["app"]) if p.code in DEPLOY_CODES]
    finally:
        _state._on_app_finalizers.intersection_update(finalizers)


def messages(found: list[Any]) -> list[str]:
    return sorted(f.message if isinstance(f, Finding) else f"{f.code} {f.message}" for f in found)


EXAMPLES = [
    (code, kind, source)
    for code in DEPLOY_CODES
    for kind, sources in (("invalid", RULES[code].invalid), ("valid", RULES[code].valid))
    for source in sources
]


@pytest.mark.parametrize(("code", "kind", "source"), EXAMPLES,
                         ids=[f"{c}-{k}-{i}" for i, (c, k, _) in enumerate(EXAMPLES)])
def test_the_rules_examples_give_the_same_messages_statically(
    code: str, kind: str, source: str
) -> None:
    found = static(source)
    assert messages(found) == messages(runtime(source))
    assert bool(found) == (kind == "invalid")


HEAD = 'from celery import Celery\nfrom kombu import Queue\n\n'


@st.composite
def configurations(draw: st.DrawFn) -> str:
    """An app written literally: broker, visibility timeout, app-wide flags, a few tasks
    with literal options, routes (some with typos), priorities, a beat entry."""
    broker = draw(st.sampled_from(["redis://localhost:6379/0", "amqp://guest@localhost//"]))
    lines = [HEAD + f'app = Celery("shop", broker={broker!r})']
    timeout = draw(st.sampled_from([None, 60, 3600, 7200]))
    if timeout is not None:
        lines.append(f'app.conf.broker_transport_options = {{"visibility_timeout": {timeout}}}')
    for setting in ("task_acks_late", "task_reject_on_worker_lost"):
        if draw(st.booleans()):
            lines.append(f"app.conf.{setting} = True")
    if draw(st.booleans()):
        lines.append("app.conf.task_queue_max_priority = 10")
    if draw(st.booleans()):
        lines.append('app.conf.task_queues = [Queue("celery"), Queue("work", max_priority=5)]')
    names = ["charge", "refund", "report"]
    routes = {}
    for name in draw(st.lists(st.sampled_from([*names, "chrage", "reports.*"]), max_size=2)):
        routes[f"shop.{name}"] = {"queue": draw(st.sampled_from(["work", "celery"])),
                                  "priority": draw(st.sampled_from([0, 1, 2, 5, 9, "low"]))}
    if routes:
        lines.append(f"app.conf.task_routes = {routes!r}")
    countdown = draw(st.sampled_from([None, 30, 5000]))
    if countdown is not None:
        lines.append('app.conf.beat_schedule = {"nightly": {"task": "shop.report", '
                     f'"schedule": 60.0, "options": {{"countdown": {countdown}}}}}}}')
    for name in names:
        options = []
        for option, values in (("acks_late", [True, False]), ("reject_on_worker_lost", [True]),
                               ("time_limit", [10, 4000]), ("priority", [1, 3, "high", "4"]),
                               ("default_retry_delay", [5000])):
            if draw(st.booleans()):
                options.append(f"{option}={draw(st.sampled_from(values))!r}")
        if draw(st.booleans()):
            options.append("autoretry_for=(ConnectionError,)")
        lines.append(f"\n\n@app.task(name='shop.{name}', {', '.join(options)})\n"
                     f"def {name}():\n    pass\n")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(configurations())
def test_static_and_runtime_agree_on_literal_configurations(source: str) -> None:
    assert messages(static(source)) == messages(runtime(source)), source


UNKNOWN = {
    "broker from the environment": (
        'import os\napp = Celery("shop", broker=os.environ["BROKER_URL"])\n'
        'app.conf.broker_transport_options = {"visibility_timeout": 60}\n'
        '@app.task(acks_late=True, reject_on_worker_lost=True, time_limit=600)\n'
        'def rebuild(): ...\n'
    ),
    "settings unpacked": (
        'app = Celery("shop", broker="redis://")\napp.conf.update(**SETTINGS)\n'
        '@app.task(acks_late=True)\ndef charge(): ...\n'
    ),
    "config module not found": (
        'app = Celery("shop", broker="redis://")\napp.config_from_object("nowhere.cfg")\n'
        '@app.task(acks_late=True)\ndef charge(): ...\n'
    ),
    "config from the environment": (
        'app = Celery("shop", broker="redis://")\napp.config_from_envvar("CELERY_CONFIG")\n'
        '@app.task(acks_late=True)\ndef charge(): ...\n'
    ),
    "a computed option": (
        'import os\napp = Celery("shop", broker="redis://")\n'
        '@app.task(acks_late=True, reject_on_worker_lost=os.environ.get("X") == "1")\n'
        'def charge(): ...\n'
    ),
    "a computed relevant setting": (
        'import os\napp = Celery("shop", broker="redis://")\n'
        'app.conf.task_reject_on_worker_lost = bool(os.environ.get("X"))\n'
        '@app.task(acks_late=True)\ndef charge(): ...\n'
    ),
    "configured in a signal handler": (
        'app = Celery("shop", broker="redis://")\n'
        '@app.on_after_configure.connect\ndef setup(sender, **kw):\n'
        '    app.conf.task_reject_on_worker_lost = True\n'
        '@app.task(acks_late=True)\ndef charge(): ...\n'
    ),
    "routes while tasks are autodiscovered": (
        'app = Celery("shop", broker="redis://")\napp.autodiscover_tasks(["shop.orders"])\n'
        'app.conf.task_routes = {"shop.orders.tasks.charge": {"queue": "money"}}\n'
        '@app.task(name="shop.orders.tasks.chrage")\ndef charge(): ...\n'
    ),
    "routes while a task's name is computed": (
        'app = Celery("shop", broker="redis://")\n'
        'app.conf.task_routes = {"shop.charge": {"queue": "money"}}\n'
        '@app.task(name="shop." + PREFIX)\ndef charge(): ...\n'
    ),
    "the app made twice": (
        'app = Celery("shop", broker="redis://")\napp = Celery("shop", broker="redis://")\n'
        '@app.task(acks_late=True)\ndef charge(): ...\n'
    ),
}


@pytest.mark.parametrize("source", UNKNOWN.values(), ids=UNKNOWN.keys())
def test_unknown_configuration_is_not_judged(source: str) -> None:
    assert static("from celery import Celery\n" + source) == []


def test_routers_and_annotations_named_by_a_string_are_never_imported(tmp_path: Path) -> None:
    """Celery imports a router or an annotation named by a string; the linter must not
    run the checked project's code, so such an app is not judged."""
    import sys

    marker = tmp_path / "imported"
    (tmp_path / "shop_routers.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef route(*a, **k): return None\n")
    sys.path.insert(0, str(tmp_path))
    try:
        for setting in ('task_routes = ["shop_routers.route"]',
                        'task_routes = "shop_routers.route"',
                        'task_annotations = "shop_routers.route"'):
            source = (f'from celery import Celery\napp = Celery("shop", broker="redis://")\n'
                      f'app.conf.{setting}\n@app.task(acks_late=True)\ndef charge(): ...\n')
            assert static(source) == []
    finally:
        sys.path.remove(str(tmp_path))
    assert not marker.exists() and "shop_routers" not in sys.modules


def test_a_literal_broker_is_judged_by_its_source_not_the_linters_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://elsewhere//")
    source = RULES["CSF401"].invalid[0]
    assert [f.code for f in static(source)] == ["CSF401"]


def write(root: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        paths.append(path)
    return paths


def findings(paths: list[Path]) -> Iterator[tuple[str, int, str]]:
    for path in paths:
        for found in check_source(path.read_text(), str(path)):
            if found.code in DEPLOY_CODES:
                yield path.name, found.line, found.code


def test_a_celeryconfig_module_and_included_task_modules(tmp_path: Path) -> None:
    """``config_from_object("proj.celeryconfig")`` and ``include=[...]``, as a project
    lays them out: read through ``check``'s project index, reported in the app's
    module, the same through flake8."""
    from celery_safe.cli import main

    paths = write(tmp_path, {
        "proj/__init__.py": "",
        "proj/celeryconfig.py": """
            broker_url = "redis://localhost:6379/0"
            broker_transport_options = {"visibility_timeout": 1800}
            task_acks_late = True
            task_time_limit = 3600
            task_routes = {"proj.tasks.sync_al": {"queue": "sync"}}
        """,
        "proj/celery_app.py": """
            from celery import Celery

            app = Celery("proj", include=["proj.tasks"])
            app.config_from_object("proj.celeryconfig")
        """,
        "proj/tasks.py": """
            from celery import shared_task

            from proj.celery_app import app


            @app.task
            def sync_all():
                pass


            @shared_task(reject_on_worker_lost=True)
            def report():
                pass
        """,
    })
    result = main(["check", "--no-cache", str(tmp_path)])
    assert result == 1
    app_module = tmp_path / "proj" / "celery_app.py"
    from celery_safe.lint.resolve import ModuleResolver

    resolver = ModuleResolver()
    got = sorted(
        (f.line, f.code, f.message.split(":")[0])
        for f in check_source(app_module.read_text(), str(app_module),
                              tasks_elsewhere=resolver.for_file(app_module))
    )
    codes = [(line, code) for line, code, _ in got]
    assert codes == [(4, "CSF401"), (4, "CSF402"), (5, "CSF403")], got
    # both tasks of proj.tasks hold their message too long: one finding at the include
    # entry names the first and counts the other
    every = check_source(app_module.read_text(), str(app_module),
                         tasks_elsewhere=resolver.for_file(app_module))
    assert [f.message.endswith("(and 1 more here)") for f in every] == [True, False, False]
    assert assert_same_findings(paths) >= 3  # flake8 reads the same project


def test_django_settings_with_the_celery_namespace(tmp_path: Path) -> None:
    paths = write(tmp_path, {
        "mysite/__init__.py": "",
        "mysite/settings.py": """
            DEBUG = False
            CELERY_BROKER_URL = "redis://localhost:6379/0"
            CELERY_TASK_ACKS_LATE = True
            TASK_REJECT_ON_WORKER_LOST = True  # no CELERY_ prefix: not Celery's
        """,
        "mysite/celery.py": """
            import os

            from celery import Celery

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
            app = Celery("mysite")
            app.config_from_object("django.conf:settings", namespace="CELERY")
            app.conf.task_routes = {"mysite.celery.nigthly": {"queue": "slow"}}
            app.autodiscover_tasks()


            @app.task(bind=True)
            def debug_task(self):
                pass
        """,
    })
    from celery_safe.lint.resolve import ModuleResolver

    app_module = paths[-1]
    resolver = ModuleResolver()
    got = [(f.line, f.code) for f in check_source(
        app_module.read_text(), str(app_module), tasks_elsewhere=resolver.for_file(app_module))]
    # CSF402 from CELERY_TASK_ACKS_LATE; no CSF403: autodiscovered tasks are not known
    assert got == [(13, "CSF402")]
    assert assert_same_findings(paths) > 0  # flake8 reads the settings module too


def test_config_source_and_namespace_given_to_celery(tmp_path: Path) -> None:
    """``Celery(config_source="proj.cfg", namespace="CELERY")``: the namespace applies to
    the config source whatever the keywords' order; a config class is read too."""
    from celery_safe.lint.resolve import ModuleResolver

    paths = write(tmp_path, {
        "proj/__init__.py": "",
        "proj/cfg.py": """
            CELERY_BROKER_URL = "redis://localhost:6379/0"
            CELERY_TASK_ACKS_LATE = True


            class Strict:
                broker_url = "redis://localhost:6379/0"
                task_acks_late = True
                task_reject_on_worker_lost = True
        """,
        "proj/app.py": """
            from celery import Celery

            app = Celery("proj", config_source="proj.cfg", namespace="CELERY")


            @app.task
            def sync():
                pass
        """,
        "proj/strict.py": """
            from celery import Celery

            app = Celery("proj", config_source="proj.cfg:Strict")


            @app.task
            def sync():
                pass
        """,
    })
    resolver = ModuleResolver()
    found = {
        path.name: [(f.line, f.code) for f in check_source(
            path.read_text(), str(path), tasks_elsewhere=resolver.for_file(path))]
        for path in paths[2:]
    }
    assert found == {"app.py": [(7, "CSF402")], "strict.py": []}


def test_celerys_apps_are_loaded_only_to_judge_an_app_known_from_source() -> None:
    """flake8 pays for Celery's apps only in a module making an app whose configuration
    is literal (measured: importing them was most of the plugin's cost on celery+kombu)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from celery_safe.lint import check_source\n"
        "check_source('from celery import shared_task\\n@shared_task\\ndef f(): pass\\n', 'm.py')\n"
        "check_source('import os\\nfrom celery import Celery\\n"
        "app = Celery(\"x\", **os.environ)\\n@app.task\\ndef f(): pass\\n', 'n.py')\n"
        "print('celery.app.base' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False", out.stderr


# -- where projects write their configuration: Django's settings, celeryconfig ----------

DJANGO_PROJECT = {
    "manage.py": """
        import os


        def main():
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings.prod")
    """,
    "mysite/__init__.py": "",
    "mysite/settings/__init__.py": "",
    "mysite/settings/base.py": """
        DJANGO_APPS = ["django.contrib.admin", "django.contrib.auth"]
        LOCAL_APPS = ["orders.apps.OrdersConfig", "billing"]
        INSTALLED_APPS = DJANGO_APPS + LOCAL_APPS
        CELERY_BROKER_URL = "amqp://guest:guest@localhost:5672//"
        CELERY_TASK_ROUTES = {"send_receipt": {"queue": "mail"}}
    """,
    "mysite/settings/prod.py": """
        from .base import *

        DEBUG = False
    """,
    "mysite/celery.py": """
        from celery import Celery

        app = Celery("mysite")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.autodiscover_tasks()
    """,
    "orders/__init__.py": "",
    "orders/apps.py": """
        from django.apps import AppConfig


        class OrdersConfig(AppConfig):
            name = "orders"
    """,
    "orders/tasks.py": """
        from celery import shared_task


        @shared_task(acks_late=True)
        def send_receipt(order_id):
            pass
    """,
    "billing/__init__.py": "",
    "billing/tasks.py": """
        from celery import shared_task


        @shared_task(priority=5)
        def charge(order_id):
            pass
    """,
}


def app_findings(root: Path, module: str = "mysite/celery.py") -> list[tuple[int, str]]:
    from celery_safe.lint.resolve import ModuleResolver

    path = root / module
    resolver = ModuleResolver()
    return [(f.line, f.code) for f in check_source(
        path.read_text(), str(path), tasks_elsewhere=resolver.for_file(path))
        if f.code in DEPLOY_CODES]


def test_django_settings_split_across_modules_and_autodiscovered_tasks(tmp_path: Path) -> None:
    """The settings ``manage.py`` names, through ``from .base import *``; the tasks of the
    installed apps ``autodiscover_tasks()`` imports (an ``AppConfig`` by its ``name``).
    Each finding is reported at the line that brings its cause into the app."""
    paths = write(tmp_path, DJANGO_PROJECT)
    assert app_findings(tmp_path) == [(4, "CSF404"), (5, "CSF403"), (6, "CSF402")]
    messages = [f.message for f in check_source(
        paths[5].read_text(), str(paths[5]),
        tasks_elsewhere=__import__("celery_safe.lint.resolve", fromlist=["x"])
        .ModuleResolver().for_file(paths[5]))]
    assert "did you mean 'orders.tasks.send_receipt'?" in messages[1]
    assert "billing.tasks.charge" in messages[0] and "orders.tasks.send_receipt" in messages[2]
    assert assert_same_findings(paths) >= 3  # flake8 reads the same project


@pytest.mark.parametrize(("changes", "expected"), [
    # a later module's assignment wins: the route is right, the queue has a maximum
    ({"mysite/settings/prod.py": """
        from .base import *
        from kombu import Queue

        CELERY_TASK_ROUTES = {"orders.tasks.send_receipt": {"queue": "mail"}}
        CELERY_TASK_QUEUE_MAX_PRIORITY = 10
        CELERY_TASK_REJECT_ON_WORKER_LOST = True
    """}, []),
    # the old names, under the namespace too
    ({"mysite/settings/prod.py": """
        from .base import *

        CELERY_ROUTES = {"orders.tasks.send_receipt": {"queue": "mail"}}
        CELERY_QUEUE_MAX_PRIORITY = 10
        CELERY_REJECT_ON_WORKER_LOST = True
    """}, [(5, "CSF403")]),  # CELERY_TASK_ROUTES is read first; its key stays wrong
    # a setting the rules read, overridden by what the linter cannot read: unknown
    ({"mysite/settings/prod.py": """
        import os
        from .base import *

        CELERY_BROKER_URL = os.environ["BROKER"]
        CELERY_TASK_ROUTES = {**CELERY_TASK_ROUTES}
        CELERY_TASK_ACKS_LATE = os.environ.get("ACKS_LATE") == "1"
    """}, []),
    ({"mysite/settings/prod.py": "from .base import *\nCELERY_TASK_ROUTES.update({})\n"}, []),
    # unknown, but read by no rule: the judgement stands
    ({"mysite/settings/prod.py": """
        import os
        from .base import *

        CELERY_TASK_ALWAYS_EAGER = os.environ.get("EAGER") == "1"
        CELERY_TASK_SERIALIZER = os.environ.get("SERIALIZER", "json")
    """}, [(4, "CSF404"), (5, "CSF403"), (6, "CSF402")]),
    ({"mysite/settings/prod.py": """
        from .base import *

        try:
            from .local import *
        except ImportError:
            pass
    """}, []),
    ({"mysite/settings/prod.py": "from .missing import *\n"}, []),
    ({"mysite/settings/prod.py": "from .base import *\nglobals().update(DEBUG=True)\n"}, []),
    ({"mysite/settings/base.py": "__all__ = ['DEBUG']\nDEBUG = True\n"}, []),
    # manage.py and wsgi.py disagree: which settings the worker loads is not known
    ({"mysite/wsgi.py": """
        import os

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings.base")
    """}, []),
    # a bare name some task is registered under (or may be): the key may match it
    ({"orders/admin_tasks.py": """
        from celery import shared_task


        @shared_task(name="send_receipt")
        def resend(order_id):
            pass
    """}, [(4, "CSF404"), (6, "CSF402")]),
    ({"orders/admin_tasks.py": """
        from celery import shared_task

        NAME = "send" + "_receipt"
        resend = shared_task(name=NAME)(print)
    """}, [(4, "CSF404"), (6, "CSF402")]),
])
def test_django_settings_the_linter_cannot_read_or_that_put_it_right(
    tmp_path: Path, changes: dict[str, str], expected: list[tuple[int, str]]
) -> None:
    write(tmp_path, {**DJANGO_PROJECT, **changes})
    assert app_findings(tmp_path) == expected


def test_a_celeryconfig_module_with_celerys_old_setting_names(tmp_path: Path) -> None:
    """``config_from_object("celeryconfig")`` with the upper-case names of Celery 3
    (``BROKER_URL``, ``CELERY_ROUTES``, ``CELERY_QUEUES``, ``CELERY_IMPORTS``)."""
    write(tmp_path, {
        "celeryconfig.py": """
            from kombu import Queue

            BROKER_URL = "amqp://guest@rabbit//"
            CELERY_IMPORTS = ("jobs",)
            CELERY_QUEUES = (Queue("default"), Queue("reports"))
            CELERY_DEFAULT_QUEUE = "default"
            CELERY_ROUTES = {"build_report": {"queue": "reports"}}
        """,
        "worker.py": """
            from celery import Celery

            app = Celery("worker")
            app.config_from_object("celeryconfig")
        """,
        "jobs.py": """
            from worker import app


            @app.task(priority=9)
            def build_report():
                pass
        """,
    })
    assert app_findings(tmp_path, "worker.py") == [(5, "CSF403"), (5, "CSF404")]
    (tmp_path / "celeryconfig.py").write_text(
        "BROKER_URL = 'amqp://'\nCELERY_ROUTES = 'routers.route'\nCELERY_IMPORTS = ('jobs',)\n")
    assert app_findings(tmp_path, "worker.py") == []  # a router by name: never imported


def test_a_cached_finding_follows_the_settings_it_rests_on(
    tmp_path: Path, private_findings_cache: Path
) -> None:
    """A finding in the app's module that rests on a star-imported settings module:
    ``check``'s cache recomputes it when that module changes."""
    import contextlib
    import io

    from celery_safe.cli import main

    project = {key: value for key, value in DJANGO_PROJECT.items() if "billing" not in key}
    project["mysite/settings/base.py"] = """
        INSTALLED_APPS = ["orders"]
        CELERY_BROKER_URL = "redis://localhost:6379/0"
    """
    write(tmp_path, project)

    def codes() -> list[str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(["check", "--format", "json", str(tmp_path)])
        return sorted(f"{Path(f['path']).name}:{f['code']}" for f in json.loads(out.getvalue()))

    assert codes() == codes() == ["celery.py:CSF402"]  # the second from the cache
    write(tmp_path, {"mysite/settings/base.py": """
        INSTALLED_APPS = ["orders"]
        CELERY_BROKER_URL = "redis://localhost:6379/0"
        CELERY_TASK_REJECT_ON_WORKER_LOST = True
    """})
    assert codes() == []


@pytest.mark.parametrize(("call", "expected"), [
    ("charge.apply_async((1,), priority=9)", ["CSF404"]),
    ("charge.s(1).apply_async(priority=9, queue='ranked')", []),  # x-max-priority there
    ("charge.apply_async((1,), priority=9, queue='plain')", ["CSF404"]),
    ("charge.apply_async((1,), priority=9, routing_key=KEY)", []),  # routed elsewhere
    ("charge.apply_async((1,), priority=PRIORITY)", []),  # not literal
    ("charge.apply_async((1,), countdown=10)", []),
])
def test_a_priority_given_at_the_call_site(call: str, expected: list[str]) -> None:
    """``apply_async(priority=N)`` reaches a RabbitMQ queue declared without
    ``x-max-priority`` (the default queue here): the broker ignores it."""
    source = f"""
        import os

        from celery import Celery
        from kombu import Queue

        app = Celery("shop", broker="amqp://guest@rabbit//")
        app.conf.task_queues = [Queue("celery"), Queue("plain"),
                                Queue("ranked", queue_arguments={{"x-max-priority": 10}})]
        PRIORITY = int(os.environ["PRIORITY"])
        KEY = os.environ["KEY"]


        @app.task
        def charge(order_id):
            pass


        def checkout(order_id):
            {call}
    """
    found = static(source)
    assert [f.code for f in found] == expected
    if expected:
        assert "shop.charge (apply_async)" in found[0].message


@pytest.mark.parametrize(("call", "expected"), [
    ("charge.apply_async((1,), priority='low_priority')", [(24, "CSF404")]),
    ("charge.apply_async((1,), priority='5')", []),  # int("5"): kombu reads it
    ("charge.apply_async((1,), priority=5)", []),
])
def test_a_priority_that_is_not_a_number_on_redis(call: str, expected: list[object]) -> None:
    """Kombu's Redis transport reads a priority with ``int()``, and sends what it cannot
    read as 0 (measured in ``test_wf_deploy_measure``): reported where it is written."""
    source = f"""
        from celery import Celery

        app = Celery("shop", broker="redis://localhost:6379/0")
        app.conf.task_routes = {{"shop.report": {{"queue": "reports", "priority": "high"}}}}


        @app.task(priority="low")
        def charge(order_id):
            pass


        @app.task(priority="low")
        def refund(order_id):
            pass


        @app.task
        def report():
            pass


        def checkout(order_id):
            {call}
    """
    found = static(source)
    # the route's "high" at the route; the decorators' "low" on the default queue: one
    # problem, at the first task; the call site's at the call
    assert [(f.line, f.code) for f in found] == [(5, "CSF404"), (8, "CSF404"), *expected]
    assert "priority 'high' (shop.report) on queue 'reports'" in found[0].message
    assert "priority 'low' (shop.charge, shop.refund)" in found[1].message
    assert all("cannot read it as a number" in f.message for f in found)
    # check_app sees the same configuration (it never sees call sites)
    assert messages(found[:2]) == messages(runtime(source.replace(call, "pass")))


def test_a_priority_that_is_not_a_number_on_rabbitmq_is_left_alone() -> None:
    """py-amqp refuses to send it (measured): loud at the send, not this rule's."""
    source = """
        from celery import Celery

        app = Celery("shop", broker="amqp://guest@localhost//")
        app.conf.task_queue_max_priority = 10


        @app.task(priority="low")
        def charge(order_id):
            pass
    """
    assert static(source) == [] == runtime(source)


@pytest.mark.parametrize(("setting", "expected"), [
    # settings CSF404 does not read: it judges; CSF402 (which reads every one) does not
    ("task_soft_time_limit = int(os.environ['LIMIT'])", ["CSF404"]),
    ("task_reject_on_worker_lost = bool(os.environ.get('X'))", ["CSF404"]),
    # a setting deciding where messages go or with which priority: nothing judged
    ("task_default_priority = int(os.environ['P'])", []),
    ("task_queue_max_priority = int(os.environ['P'])", []),
    ("task_routes = {'shop.charge': {'queue': os.environ['Q']}}", []),
    ("task_create_missing_queues = bool(os.environ.get('X'))", []),
    ("broker_transport_options = {'confirm_publish': bool(os.environ.get('X'))}", []),
])
def test_a_setting_that_is_not_literal_silences_only_the_rules_reading_it(
    setting: str, expected: list[str]
) -> None:
    source = f"""
        import os

        from celery import Celery
        from kombu import Queue

        app = Celery("shop", broker="amqp://guest@rabbit//")
        app.conf.task_queues = [Queue("celery")]
        app.conf.{setting}


        @app.task(acks_late=True, priority=5)
        def charge(order_id):
            pass
    """
    assert [f.code for f in static(source)] == expected
