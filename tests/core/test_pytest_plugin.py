"""The pytest plugin as users see it: their own suites, run through ``pytester``."""

from __future__ import annotations

import pytest

from .conftest import APPS_DIR

# Every run is a subprocess, like a user's: pytester's in-process runs forget the
# modules they imported, so a second run met a second ``Celery`` class (and exception
# classes) that modules kept from the first did not recognise.

pytest_plugins = ["pytester"]

USER_TESTS = '''
import pytest
import celery_safe
from celery_safe import JoinInTaskError


def test_eager_join_inside_a_task(celery_safe_eager_app):
    app = celery_safe_eager_app

    @celery_safe.task(app, shared=False)
    def child():
        return 1

    @celery_safe.task(app, shared=False)
    def parent():
        return child.delay().get()

    assert celery_safe.is_guarded(app)
    parent.delay()  # the user's bug: this test must fail


def test_logic_instead_passes(celery_safe_eager_app):
    @celery_safe.task(celery_safe_eager_app, shared=False)
    def child():
        return 1

    @celery_safe.task(celery_safe_eager_app, shared=False)
    def parent():
        return child.logic() + 1

    assert parent.delay().get() == 2
'''


def test_the_eager_fixture_fails_a_users_join(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*JoinInTaskError*test_user.parent*called EagerResult.get*"])


USER_CONFTEST = '''
import pytest
from celery import Celery
import celery_safe

app = Celery("userproj", set_as_current=False)


@celery_safe.task(app, shared=False, name="userproj.add")
def add(x, y):
    return x + y


@celery_safe.task(app, shared=False, name="userproj.parent")
def parent():
    return add.delay(1, 2).get(timeout=2)


@pytest.fixture
def celery_safe_app(celery_safe_config):
    app.conf.update(celery_safe_config)   # the user's own app, with test settings
    return app
'''

USER_WORKER_TESTS = '''
import pytest
from celery_safe import JoinInTaskError
from conftest import add, parent


def test_worker_runs_tasks(celery_safe_worker):
    assert add.delay(2, 3).get(timeout=10) == 5


def test_worker_refuses_joins(celery_safe_worker):
    with pytest.raises(JoinInTaskError, match="userproj.parent"):
        parent.delay().get(timeout=10)
'''


@pytest.mark.worker
def test_the_worker_fixture_runs_the_users_app_with_the_guard(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_user_worker=USER_WORKER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


USER_PROCESS_TESTS = f'''
import pytest
from celery_safe import JoinInTaskError

STARTED = []


def test_worker_process(celery_safe_worker_process, tmp_path):
    import sys
    sys.path.insert(0, {str(APPS_DIR)!r})
    import guarded_app

    app = guarded_app.create_app(directory=str(tmp_path))
    worker = celery_safe_worker_process(
        "guarded_app", pool="threads", cwd={str(APPS_DIR)!r},
        env={{"GUARDED_APP_DIR": str(tmp_path)}},
    )
    assert worker.process.poll() is None
    assert app.tasks["guarded.add"].delay(1, 1).get(timeout=20) == 2
    with pytest.raises(JoinInTaskError):
        app.tasks["guarded.join_child"].delay().get(timeout=20)
    STARTED.append(worker)


def test_the_worker_was_stopped_after_the_previous_test():
    assert [worker.process.poll() is not None for worker in STARTED] == [True]
'''


@pytest.mark.worker
def test_the_worker_process_fixture_starts_and_stops_a_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_process=USER_PROCESS_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


REDIS_USER_TEST = '''
def test_uses_redis(celery_safe_redis_url):
    assert celery_safe_redis_url.startswith("redis://")
'''

AMQP_USER_TEST = '''
def test_uses_rabbitmq(celery_safe_amqp_url):
    assert celery_safe_amqp_url.startswith("amqp://")
'''

#: fixture -> (its variable, a URL nobody listens at, the user test, the failure text).
SERVERS = {
    "redis": ("CELERY_SAFE_REDIS_URL", "redis://127.0.0.1:1/", REDIS_USER_TEST,
              "*Redis not reachable at redis://127.0.0.1:1 *"),
    "amqp": ("CELERY_SAFE_AMQP_URL", "amqp://guest:guest@127.0.0.1:1//", AMQP_USER_TEST,
             "*RabbitMQ not reachable at amqp://guest:guest@127.0.0.1:1// *"),
}


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", "skipped"), ("1", "errors")]
)
def test_server_fixtures_skip_without_their_server_but_fail_under_ci(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ci: str,
    outcome: str,
) -> None:
    """Each server's fixture in one user run (one pytest process per ``CI`` value): a
    test per server, each skipped, or each failed naming its own server."""
    for variable, nowhere, _, _ in SERVERS.values():
        monkeypatch.setenv(variable, nowhere)  # nothing listens
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(**{f"test_{server}": SERVERS[server][2] for server in SERVERS})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(**{outcome: len(SERVERS)})
    if ci:
        for _, _, _, failure in SERVERS.values():
            result.stdout.fnmatch_lines([failure])
    else:  # each test skipped for its own server
        result.stdout.fnmatch_lines_random([f"SKIPPED*test_{server}.py*{failure.strip('*')}*"
                                            for server, (*_, failure) in SERVERS.items()])


@pytest.mark.redis
def test_redis_fixture_gives_the_configured_server(
    pytester: pytest.Pytester, celery_safe_redis_url: str
) -> None:
    pytester.makepyfile(REDIS_USER_TEST)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
