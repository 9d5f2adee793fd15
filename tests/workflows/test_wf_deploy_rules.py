"""check_app (CSF401-CSF405): each rule's VALID/INVALID examples — its page's Example and
Use instead — and the configurations around them that must stay quiet (unknown is not a
problem). What the rules claim Celery does is measured in test_wf_deploy_measure.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from celery import Celery
from hypothesis import given, settings
from hypothesis import strategies as st
from kombu import Queue

from celery_safe import catalogue
from celery_safe.deployment import RULES, check_app
from celery_safe.lint.docs import render_page

EXAMPLES = [
    (code, kind, index, source)
    for code, found in sorted(RULES.items())
    for kind, sources in (("invalid", found.invalid), ("valid", found.valid))
    for index, source in enumerate(sources)
]


def run_example(source: str) -> list[Any]:
    """check_app on the ``app`` an example defines (its shared tasks kept to itself)."""
    from celery import _state

    finalizers = set(_state._on_app_finalizers)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(compile(source, "<example>", "exec"), namespace)
        return check_app(namespace["app"], workers=namespace.get("workers"))
    finally:
        _state._on_app_finalizers.intersection_update(finalizers)


@pytest.mark.parametrize(
    ("code", "kind", "index", "source"), EXAMPLES, ids=[f"{c}-{k}-{i}" for c, k, i, _ in EXAMPLES]
)
def test_examples(code: str, kind: str, index: int, source: str) -> None:
    problems = run_example(source)
    if kind == "invalid":
        assert problems and {p.code for p in problems} == {code}, problems
        for problem in problems:
            assert not re.search(r"\{\w+(![rsa])?\}", problem.message), problem.message
            assert problem.fix == catalogue.get(code).fix
    else:
        assert problems == []


@pytest.mark.parametrize("code", sorted(RULES))
def test_the_page_shows_the_tested_examples(code: str) -> None:
    page = render_page(code)
    assert f"```python\n{RULES[code].invalid[0]}```" in page.split("## Use instead")[0]
    assert f"```python\n{RULES[code].valid[0]}```" in page.split("## Use instead")[1]


def noop() -> None:
    """The body of the tasks below (their options are what the rules read)."""


def app_with(**conf: Any) -> Celery:
    app = Celery("shop", set_as_current=False)
    app.conf.update({"broker_url": "redis://localhost:6379/0", **conf})
    return app


pytestmark = pytest.mark.usefixtures("only_this_tests_tasks")  # tests/conftest.py


def codes(app: Celery, **kwargs: Any) -> list[tuple[str, str]]:
    return [(p.code, p.message) for p in check_app(app, **kwargs)]


def test_a_fresh_app_has_no_problems() -> None:
    assert check_app(Celery("shop", set_as_current=False)) == []


def test_csf401_names_the_task_and_both_numbers() -> None:
    app = app_with(broker_transport_options={"visibility_timeout": 60})
    late = {"shared": False, "acks_late": True, "reject_on_worker_lost": True}
    app.task(soft_time_limit=90, name="shop.slow", **late)(noop)
    app.task(name="shop.unbounded", **late)(noop)
    app.task(time_limit=30, soft_time_limit=90, name="shop.hard_first", **late)(noop)
    [(code, message)] = codes(app)
    assert code == "CSF401" and "'shop.slow'" in message
    assert "90 s (acks_late and soft_time_limit)" in message and "of 60 s" in message


@pytest.mark.parametrize("broker", ["amqp://guest@localhost//", "memory://", None])
def test_csf401_only_on_redis(broker: str | None) -> None:
    app = app_with(broker_url=broker, task_time_limit=7200)
    app.task(shared=False, acks_late=True, reject_on_worker_lost=True, name="shop.slow")(noop)
    assert codes(app) == []


def test_csf401_app_wide_time_limit_and_default_visibility_timeout() -> None:
    app = app_with(task_acks_late=True, task_reject_on_worker_lost=True, task_time_limit=4000)
    app.task(shared=False, name="shop.a")(noop)
    [(code, message)] = codes(app)
    assert code == "CSF401" and "4000 s" in message and "of 3600 s" in message


def test_csf401_backoff_without_jitter() -> None:
    app = app_with()
    app.task(shared=False, autoretry_for=(OSError,), retry_backoff=600, retry_jitter=False,
             retry_backoff_max=7200, max_retries=5, name="shop.sync")(noop)
    app.task(shared=False, autoretry_for=(OSError,), retry_backoff=600, name="shop.jittered")(noop)
    [(code, message)] = codes(app)
    assert code == "CSF401" and "'shop.sync'" in message and "7200 s" in message


def test_csf402_is_quiet_with_retry_on_worker_lost_or_without_acks_late() -> None:
    app = app_with()
    app.task(shared=False, name="shop.early")(noop)
    app.task(shared=False, acks_late=True, retry_on_worker_lost=True, name="shop.retried")(noop)
    app.task(shared=False, acks_late=True, reject_on_worker_lost=True, name="shop.rejected")(noop)
    assert codes(app) == []


def test_csf403_routes_of_every_kind() -> None:
    app = app_with(task_routes=[
        {"shop.tasks.send": "mail", re.compile(r"shop\.tasks\.se.*"): "mail",
         re.compile(r"shop\.task\..*"): "mail", "billing.charge": "billing",
         "shop.tasks.gone": "mail"},
        lambda name, *a, **k: None,
    ])
    app.task(shared=False, name="shop.tasks.send")(noop)
    found = codes(app)
    assert [c for c, _ in found] == ["CSF403", "CSF403"]
    assert found[0][1].startswith("task_routes key 'shop\\\\.task\\\\..*' matches no registered")
    # in the app's namespace: ours; "send" is not close enough to "gone" to suggest it
    assert found[1][1].startswith("task_routes key 'shop.tasks.gone' matches no registered task:")
    # billing.charge: another service's task, sent with send_task: not judged


def test_csf403_suggests_the_near_name() -> None:
    app = app_with(task_routes={"shop.tasks.send_invoce": "mail"})
    app.task(shared=False, name="shop.tasks.send_invoice")(noop)
    [(_, message)] = codes(app)
    assert "did you mean 'shop.tasks.send_invoice'?" in message


def test_csf403_a_key_without_the_tasks_module() -> None:
    """``"send_invoice"`` for ``shop.tasks.send_invoice``: no default name lacks a dot;
    a task registered under that bare name, or a key no task's name ends with, is not
    reported."""
    app = app_with(task_routes={"send_invoice": "mail", "refund": "billing"})
    app.task(shared=False, name="shop.tasks.send_invoice")(noop)
    [(_, message)] = codes(app)
    assert message.startswith("task_routes key 'send_invoice' matches no registered task "
                              "(did you mean 'shop.tasks.send_invoice'?)")
    app.task(shared=False, name="send_invoice")(noop)
    assert codes(app) == []


def test_csf404_amqp_queues_declared_with_and_without_max_priority() -> None:
    app = app_with(broker_url="amqp://", task_queues=[
        Queue("ranked", queue_arguments={"x-max-priority": 5}), Queue("plain"), Queue("celery"),
    ], task_routes={"shop.a": "ranked", "shop.b": "ranked", "shop.c": "plain"})
    app.task(shared=False, priority=7, name="shop.a")(noop)
    app.task(shared=False, priority=9, name="shop.b")(noop)  # 7 and 9 both become 5
    app.task(shared=False, priority=3, name="shop.c")(noop)
    app.task(shared=False, name="shop.d")(noop)
    found = codes(app)
    assert [c for c, _ in found] == ["CSF404", "CSF404"]
    assert "ignores priority 3 (shop.c) on queue 'plain'" in found[0][1]
    assert "priorities 7 (shop.a) and 9 (shop.b) on queue 'ranked'" in found[1][1]
    assert "x-max-priority of 5 makes them one level (5)" in found[1][1]


def test_csf404_never_adds_queues_to_the_app() -> None:
    app = app_with(broker_url="amqp://", task_routes={"shop.a": "elsewhere"})
    app.task(shared=False, priority=3, name="shop.a")(noop)
    before = set(app.amqp.queues)
    assert [c for c, _ in codes(app)] == ["CSF404"]
    assert set(app.amqp.queues) == before  # a worker without -Q consumes every queue in it


def test_csf404_router_functions_and_custom_steps() -> None:
    app = app_with(broker_transport_options={"priority_steps": list(range(10))})
    app.task(shared=False, priority=1, name="shop.a")(noop)
    app.task(shared=False, priority=2, name="shop.b")(noop)
    assert codes(app) == []  # every priority is a step of its own
    routed = app_with(task_routes=(lambda name, *a, **k: {"queue": "q"},))
    routed.task(shared=False, priority=1, name="shop.a")(noop)
    routed.task(shared=False, name="shop.b")(noop)
    assert codes(routed) == []  # a router function decides: unknown


def test_csf405_beat_entries_and_no_workers() -> None:
    app = app_with(task_routes={"shop.a": "a"},
                   beat_schedule={"x": {"task": "shop.b", "schedule": 60,
                                        "options": {"queue": "b"}}})
    app.task(shared=False, name="shop.a")(noop)
    app.task(shared=False, name="shop.b")(noop)
    assert codes(app) == []
    found = codes(app, workers={"w1": ["a", "celery"]})
    assert [c for c, _ in found] == ["CSF405"] and "beat entry 'x'" in found[0][1]
    assert [p.path for p in check_app(app, workers={})] == [
        ("queues", "a"), ("queues", "b"), ("queues", "celery")]


def test_ignore_and_bad_input() -> None:
    app = app_with(task_acks_late=True)
    app.task(shared=False, name="shop.a")(noop)
    assert [c for c, _ in codes(app)] == ["CSF402"]
    assert check_app(app, ignore={"csf402"}) == []
    with pytest.raises(TypeError, match="needs a Celery app, not str"):
        check_app("app")  # type: ignore[arg-type]


def test_importing_check_app_imports_no_linter() -> None:
    code = ("import sys; from celery_safe.workflows import check_app; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('libcst', 'flake8') "
            "or m.startswith('celery_safe.lint')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- celery-safe check-app --------------------------------------------------------------

APP_MODULE = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0", set_as_current=False)
app.conf.task_routes = {"shop.tasks.send_invoce": {"queue": "mail"}}
app.conf.task_acks_late = {acks_late}


@app.task(shared=False, name="shop.tasks.send_invoice")
def send_invoice(order_id: int) -> None: ...
'''


def check_app_cli(
    tmp_path: Any, *args: str, acks_late: bool = True
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "shopapp.py").write_text(APP_MODULE.replace("{acks_late}", str(acks_late)))
    return subprocess.run([sys.executable, "-m", "celery_safe.cli", "check-app", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_check_app_cli_formats_and_exit_codes(tmp_path: Any) -> None:
    text = check_app_cli(tmp_path, "shopapp:app")
    assert text.returncode == 1
    assert "shopapp:app: tasks.shop.tasks.send_invoice: CSF402 task 'shop.tasks.send_invoice'" \
        in text.stdout
    assert "CSF403 task_routes key 'shop.tasks.send_invoce'" in text.stdout
    assert text.stdout.rstrip().endswith("Found 2 problem(s) in shopapp:app.")
    rows = json.loads(check_app_cli(tmp_path, "shopapp:app", "--format", "json").stdout)
    assert [row["code"] for row in rows] == ["CSF402", "CSF403"]
    sarif = json.loads(check_app_cli(tmp_path, "shopapp:app", "--format", "sarif").stdout)
    run = sarif["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["CSF402", "CSF403"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] \
        == "shopapp.py"
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} >= {"CSF401", "CSF405"}
    ignored = check_app_cli(tmp_path, "shopapp:app", "--ignore", "CSF403,csf402")
    assert (ignored.returncode, ignored.stdout) == (0, "No problems.\n")


def test_check_app_cli_bad_targets(tmp_path: Any) -> None:
    for target, says in (("shopapp", "expected module:app"), ("nowhere:app", "No module named"),
                         ("shopapp:send_invoice", "is not a Celery app")):
        done = check_app_cli(tmp_path, target)
        assert done.returncode == 2 and says in done.stderr, (target, done.stderr)
    (tmp_path / "broken.py").write_text(
        "from celery import Celery\napp = Celery('b', include=['missing_tasks'])\n")
    done = check_app_cli(tmp_path, "broken:app")
    assert done.returncode == 2, done.stderr
    assert "cannot check broken:app: ModuleNotFoundError: No module named 'missing_tasks'" \
        in done.stderr


# -- check_app_on_start: a real worker refuses a wrong configuration -----------------------


@pytest.mark.redis
@pytest.mark.worker
def test_a_worker_refuses_to_start_with_deployment_problems(
    celery_safe_redis_url: str, tmp_path: Any
) -> None:
    from wf_deploy_app import CHECK_ON_START, CONFIG_ENV, NOTES

    from celery_safe.testing.worker_process import WorkerProcess, WorkerStartError

    here = __import__("pathlib").Path(__file__).resolve().parent
    conf: dict[str, Any] = {
        "broker_url": f"{celery_safe_redis_url}/6", "broker_connection_retry_on_startup": True,
        CHECK_ON_START: True, NOTES: str(tmp_path / "notes"),
    }
    refused = WorkerProcess("wf_deploy_app", cwd=here, env={CONFIG_ENV: json.dumps(conf)})
    with pytest.raises(WorkerStartError) as failed:
        refused.start()
    refused.stop()
    assert "CSF402 task 'deploy.die' acknowledges late" in str(failed.value)
    assert "CSF402 task 'deploy.hold'" in str(failed.value)
    fixed = {**conf, "task_reject_on_worker_lost": True}
    with WorkerProcess("wf_deploy_app", cwd=here, env={CONFIG_ENV: json.dumps(fixed)}) as worker:
        assert " ready." in worker.log_text()


def test_the_legacy_registry_shows_each_deployment_mistake() -> None:
    """``make demo`` runs this and expects exit 1: legacy/README.md lists these four."""
    registry = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "registry"
    done = subprocess.run(
        [sys.executable, "-m", "celery_safe.cli", "check-app", "legacy.celery_app:app",
         "--format", "json"], cwd=registry, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    found = [(row["code"], row["where"]) for row in json.loads(done.stdout)]
    assert found == [
        ("CSF401", "tasks.legacy.enhancement_tasks.enhance_codebundle_task"),
        ("CSF402", "tasks.legacy.enhancement_tasks.enhance_codebundle_task"),
        ("CSF403", "task_routes.legacy.enhancement_tasks.enhance_pending_codebundle_task"),
        ("CSF404", "queues.celery"),
    ]


# -- CSF403 against Celery's own router ---------------------------------------------------

_PART = st.sampled_from(["shop", "shops", "tasks", "task", "send", "sned", "report", "a", "b"])
_NAME = st.lists(_PART, min_size=2, max_size=4).map(".".join)
_KEY = st.one_of(
    _NAME,
    _NAME.map(lambda name: name + "*"),
    st.tuples(_NAME, st.sampled_from(["*", ".*", "?"])).map(lambda p: p[0][:-2] + p[1]),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(names=st.lists(_NAME, min_size=1, max_size=5, unique=True),
       keys=st.lists(_KEY, min_size=1, max_size=4, unique=True))
def test_csf403_flags_only_keys_celerys_router_matches_to_no_task(
    names: list[str], keys: list[str]
) -> None:
    from celery.app.routes import MapRoute

    app = app_with(task_routes={key: "q" for key in keys})
    for name in names:
        app.task(shared=False, name=name)(noop)
    flagged = {p.path[1] for p in check_app(app) if p.code == "CSF403"}
    registered = list(app.tasks)
    for key in keys:
        routed = [name for name in registered if MapRoute({key: "q"})(name) is not None]
        assert not (key in flagged and routed), (key, routed)
        if key in names:
            assert key not in flagged
