"""The declared ``celery`` range is exactly the range ``make matrix`` tests."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
from pathlib import Path

import celery
import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _matrix() -> dict[str, tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("matrix", ROOT / "scripts" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    releases: dict[str, tuple[str, str]] = module.CELERY_RELEASES
    return releases


def _declared() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return next(
        Requirement(line) for line in project["dependencies"]
        if Requirement(line).name == "celery"
    )


def test_the_declared_celery_range_is_the_tested_one() -> None:
    releases = _matrix()
    specifier = _declared().specifier
    minors = sorted(releases, key=lambda minor: tuple(map(int, minor.split("."))))
    for minor in minors:
        celery, kombu = releases[minor]
        assert celery.startswith(f"{minor}.") and kombu.startswith(f"{minor}.")
        assert specifier.contains(f"{minor}.0") and specifier.contains(celery)
    major, lowest = map(int, minors[0].split("."))
    _, highest = map(int, minors[-1].split("."))
    assert [int(minor.split(".")[1]) for minor in minors] == list(range(lowest, highest + 1))
    assert not specifier.contains(f"{major}.{lowest - 1}.99")  # below the floor
    assert not specifier.contains(f"{major}.{highest + 1}.0")  # newer than tested


def test_ci_runs_every_celery_minor() -> None:
    """`.ci/run` runs `make test` on the installed Celery and `make matrix` on the others."""
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", script, re.MULTILINE)
    ran = re.search(r'^make matrix MATRIX_CELERY="([0-9. ]+)"$', script, re.MULTILINE)
    assert ran, ".ci/run must run `make matrix`"
    installed = ".".join(celery.__version__.split(".")[:2])
    assert sorted({*ran.group(1).split(), installed}) == sorted(_matrix())
    assert installed not in ran.group(1).split(), "the same minor twice"
    latest = max(_matrix(), key=lambda minor: tuple(map(int, minor.split("."))))
    makefile = (ROOT / "Makefile").read_text()
    assert f"scripts/matrix.py --celery {latest} --python $(MATRIX_PYTHONS)" in makefile


def test_the_linters_supported_versions_are_the_tested_ones() -> None:
    """``[tool.celery-safe] celery`` accepts exactly the minors the matrix tests."""
    from celery_safe.celery_internals import SUPPORTED_CELERY

    assert [f"{major}.{minor}" for major, minor in SUPPORTED_CELERY] == sorted(
        _matrix(), key=lambda minor: tuple(map(int, minor.split(".")))
    )


def _recipe(target: str) -> str:
    """What ``make target`` runs, variables expanded, continued lines joined (``make -n``,
    its prerequisites taken as done)."""
    import subprocess

    done = [arg for goal in ("setup", "lint", "typecheck", "dogfood") for arg in ("-o", goal)]
    dry = subprocess.run(["make", "-n", *done, target, "PYTHON=python3", "BIN=bin"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=60)
    return dry.stdout.replace("\\\n", " ")


def _matrix_recipe() -> str:
    return _recipe("matrix")


def test_make_test_runs_every_test_in_one_of_two_processes() -> None:
    """``make test``: test-fast's selection in the background, on closed-port server URLs,
    and its complement in the foreground; it fails when either does."""
    from celery_safe.testing.servers import AMQP, REDIS

    recipe = _recipe("test")
    fast = re.search(r'^bin/pytest -q -m "(?P<fast>[^"]+)"$', _recipe("test-fast"), re.MULTILINE)
    assert fast, _recipe("test-fast")
    background = re.search(
        r'^(?P<env>(?:\w+=\S+ )+)python3 -c \'[^\']+\' '
        r'bin/pytest -m "(?P<selection>[^"]+)" >(?P<log>\S+) 2>&1 &',
        recipe, re.MULTILINE)
    assert background, recipe
    assert background["selection"] == fast["fast"]
    env = dict(word.split("=", 1) for word in background["env"].split())
    assert set(env) == {REDIS.env, AMQP.env}
    for server in (REDIS, AMQP):
        assert not server.reachable(env[server.env]), f"{env[server.env]} answers"
    assert re.search(rf";\s+python3 -c '[^']+' bin/pytest -m \"not \({re.escape(fast['fast'])}\)\"; "
                     r"rest=\$\?;", recipe)
    assert "wait $fast" in recipe and f"cat {background['log']}" in recipe
    assert "test $rest -eq 0 && test $fast -eq 0" in recipe
    readme = (ROOT / "README.md").read_text()
    assert f"`{background['log']}`" in readme


def test_the_other_pythons_run_alongside_the_minors_and_share_no_server() -> None:
    """The two runs of ``make matrix`` overlap; the background one (the other CPythons)
    selects no Redis or RabbitMQ test, and the server URLs it gets point at a closed port,
    so a test that needs a server without its marker fails there instead of using the
    databases the Celery minors' run is using at that moment."""
    from celery_safe.testing.servers import AMQP, REDIS

    recipe = _matrix_recipe()
    background = re.search(
        r"^(?P<env>(?:\w+=\S+ )+)python3 -c '[^']+' +python3 scripts/matrix\.py "
        r"--celery (?P<celery>\S+) +--python (?P<pythons>[0-9. ]+?) +-- -m \"(?P<skip>[^\"]+)\" "
        r">(?P<log>\S+) 2>&1 &",
        recipe, re.MULTILINE)
    assert background, recipe
    assert background["skip"] == "not redis and not amqp"
    env = dict(word.split("=", 1) for word in background["env"].split())
    assert set(env) == {REDIS.env, AMQP.env}
    for server in (REDIS, AMQP):
        assert not server.reachable(env[server.env]), f"{env[server.env]} answers"
    foreground = re.search(r"(?:^|;\s+)python3 -c '[^']+' python3 scripts/matrix\.py "
                           r"--celery ([0-9. ]+);", recipe, re.MULTILINE)
    assert foreground and foreground.group(1).split() == sorted(_matrix())
    assert "wait $pythons" in recipe and f"cat {background['log']}" in recipe
    assert "test $minors -eq 0 && test $pythons -eq 0" in recipe  # either run fails it

    # the page says what runs where, with the same versions and selection
    page = (ROOT / "docs" / "supported-versions.md").read_text()
    rows = {row.split("|")[1].strip(): row for row in page.splitlines()
            if row.startswith("| the ")}
    minors_row = rows["the Celery minors (`MATRIX_CELERY`, in the foreground)"]
    assert ", ".join(sorted(_matrix())) in minors_row
    pythons_row = next(row for name, row in rows.items() if name.startswith("the other CPy"))
    assert f"Celery {background['celery']} on {', '.join(background['pythons'].split())}" \
        in pythons_row
    assert f'`-m "{background["skip"]}"`' in pythons_row
    assert background["log"] in pythons_row and "port 1" in pythons_row


FAKE_RUNNER = """\
#!{python}
import os, signal, sys, time
if sys.argv[1:2] == ["-c"]:  # standing in for PYTHON: its -c is the recipe's own
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
log = {log!r}
def note(word):
    with open(log, "a") as handle:
        handle.write(f"{{os.getpid()}} {{word}}\\n")
note("ignores-sigint" if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else "start")
try:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until interrupted; never long enough to pass
        time.sleep(0.05)
    note("ran-out")
except KeyboardInterrupt:
    note("interrupted")
    sys.exit(2)
"""


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
@pytest.mark.parametrize("target", ["test", "matrix"])
def test_ctrl_c_or_a_killed_make_stops_both_halves(tmp_path: Path, target: str, how: str) -> None:
    """Ctrl-C (SIGINT to make's process group) reaches the half started with ``&`` too:
    a shell without job control starts it ignoring SIGINT (POSIX), so it used to run on
    after make had exited (test-fast's whole selection, or the other CPythons' matrix).
    SIGTERM to make alone (``timeout``) ends its shell only: both halves used to run on."""
    if how == "sigterm" and sys.platform != "linux":
        pytest.skip("a signal on the parent's death is Linux's prctl")
    import os
    import signal
    import subprocess
    import time

    log = tmp_path / "runs.log"
    log.touch()
    fake = tmp_path / "fake"
    fake.write_text(FAKE_RUNNER.format(python=sys.executable, log=str(log)))
    fake.chmod(0o700)
    if target == "test":
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "pytest").symlink_to(fake)
        args = [f"BIN={tmp_path / 'bin'}", f"TEST_FAST_LOG={tmp_path / 'fast.log'}"]
    else:  # PYTHON runs scripts/matrix.py: the fake takes its place
        args = [f"PYTHON={fake}", f"MATRIX_PYTHONS_LOG={tmp_path / 'pythons.log'}"]
    done = [arg for goal in ("setup", "lint", "typecheck", "dogfood") for arg in ("-o", goal)]

    def default_sigint() -> None:  # as a terminal's foreground job starts
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    make = subprocess.Popen(["make", "-s", *done, target, *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 120
        while len(log.read_text().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = log.read_text().split()
        assert len(started) == 4, started
        if how == "ctrl-c":
            os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        else:
            make.terminate()  # make alone, as timeout(1) does
        make.wait(timeout=120)
        pids = {int(line.split()[0]) for line in log.read_text().splitlines()}
        while time.monotonic() < deadline:
            ended = {int(line.split()[0]) for line in log.read_text().splitlines()
                     if line.split()[1] in ("interrupted", "ran-out")}
            if ended == pids:
                break
            time.sleep(0.05)
        lines = sorted(line.split(None, 1)[1] for line in log.read_text().splitlines())
        assert lines == ["interrupted", "interrupted", "start", "start"], lines
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)
