"""The Celery the linter models: ``[tool.celery-safe] celery``, ``check --celery`` and
flake8's ``--celery-version``; the installed Celery by default.

Every supported version is linted here without installing it: the version-dependent
facts of :mod:`celery_safe.celery_internals` take the version as an argument, and
each fact is measured on real workers of that version by the matrix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from celery_safe.celery_internals import (
    SUPPORTED_CELERY,
    chain_or_chain_folds,
    errback_counts_partial_arguments,
    errback_failure_stops_the_others,
    installed_celery,
    target_celery,
)
from celery_safe.cli import main
from celery_safe.lint.config import Config, ConfigError
from celery_safe.lint.engine import check_source

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = [f"{major}.{minor}" for major, minor in SUPPORTED_CELERY]

#: ``def note_id_and(task_id, extra)`` linked as ``note_id_and.s("x")``: before 5.7 Celery
#: calls it in-process with (request, exc, traceback, "x"), a TypeError; 5.7 counts the
#: bound argument and sends it with the id first, which binds.
PARTIAL_ERRBACK = """\
from celery import Celery

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task
def note_id_and(task_id, extra):
    print(task_id, extra)


def start():
    return add.apply_async((1, 2), link_error=note_id_and.s("x"))
"""


def _config(version: str | None) -> Config:
    return Config.from_mapping({} if version is None else {"celery": version})


@pytest.mark.parametrize("version", VERSIONS)
def test_each_supported_version_is_linted_as_its_facts_say(version: str) -> None:
    config = _config(version)
    target = config.target
    assert target[:2] == tuple(map(int, version.split(".")))
    found = check_source(PARTIAL_ERRBACK, config=config)
    if errback_counts_partial_arguments(target):
        assert found == []
        return
    [finding] = found
    assert finding.code == "CSF208"
    assert "note_id_and(<request>, <exc>, <traceback>, 'x')" in finding.message
    assert "Celery from 5.7 sends it as note_id_and(<task_id>, 'x')" in finding.message
    assert errback_failure_stops_the_others(target)
    assert "before 5.7 its error also stops the failed task's other error" in finding.message


@pytest.mark.parametrize("version", VERSIONS)
def test_chain_or_chain_is_composed_as_the_target_celery_composes_it(version: str) -> None:
    """``chain(a, group(b, c)) | chain(d)``: from 5.5 a chord (d is its body, given the
    list); before, the group and d stay apart in one chain (d follows a group: Celery
    makes them a chord when the chain is sent, so d gets the list either way)."""
    from celery_safe.canvas.compose import fold_chain, group_of, pipe
    from celery_safe.canvas.model import Chain, Chord, Step

    a, b, c, d = (Step(name=name) for name in "abcd")
    left = fold_chain([a, group_of([b, c])], listed=True)
    target = _config(version).target
    piped = pipe(left, Chain(steps=(d,)), celery=target)
    assert isinstance(piped, Chain)
    kinds = [type(step).__name__ for step in piped.steps]
    assert kinds == (["Step", "Chord"] if chain_or_chain_folds(target)
                     else ["Step", "Group", "Step"])


def test_the_default_is_the_installed_celery() -> None:
    assert Config().target == installed_celery() == _config(None).target
    import celery

    assert Config().target[:3] == tuple(int(part) for part in celery.VERSION[:3])


def test_without_celery_installed_the_newest_supported_version_is_modelled() -> None:
    """A linter in an environment of its own (``python -S``: no site-packages, so no
    Celery distribution) models the newest version it supports."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from celery_safe.celery_internals import default_target; print(default_target())"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(ROOT)], capture_output=True, text=True, check=True
    ).stdout.strip()
    major, minor = SUPPORTED_CELERY[-1]
    assert out == f"({major}, {minor}, 0)"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("5.2", "Celery 5.2 is not supported: celery-safe models Celery 5.3-5.7"),
        ("6.0", "Celery 6.0 is not supported"),
        ("five", "'five' is not a Celery version"),
        (5.4, "must be a version string such as \"5.4\", got 5.4"),
    ],
)
def test_a_bad_target_names_the_supported_range(value: object, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"celery": value})
    assert str(caught.value).startswith("[tool.celery-safe] celery")
    assert says in str(caught.value)


def test_a_patch_release_is_its_minor() -> None:
    assert target_celery("5.4.2") == (5, 4, 2)
    assert _config(" 5.6 ").target == (5, 6, 0)


def test_pyproject_and_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.celery-safe]\ncelery = "5.6"\n')
    (tmp_path / "shop.py").write_text(PARTIAL_ERRBACK)
    assert main(["check", str(tmp_path)]) == 1  # 5.6: CSF208
    assert "CSF208" in capsys.readouterr().out
    assert main(["check", str(tmp_path), "--celery", "5.7"]) == 0  # the command line wins
    capsys.readouterr()
    assert main(["check", str(tmp_path), "--celery", "4.4"]) == 2
    err = capsys.readouterr().err
    assert "--celery: Celery 4.4 is not supported: celery-safe models Celery 5.3-5.7" in err


def test_flake8_option(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(PARTIAL_ERRBACK)

    def flake8(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flake8", "--select", "CSF", *options, str(tmp_path)],
            capture_output=True, text=True, cwd=tmp_path,
        )

    assert "CSF208" in flake8("--celery-version", "5.3").stdout
    assert flake8("--celery-version", "5.7").stdout == ""
    bad = flake8("--celery-version", "9.9")
    assert bad.returncode != 0 and "Celery 9.9 is not supported" in bad.stdout + bad.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("\uff15.\uff14", "is not a Celery version"),  # fullwidth digits: not a version string
        ("\u0665.\u0664", "is not a Celery version"),  # Arabic-Indic digits
        ("5." + "9" * 5000, "is not a Celery version"),  # past int()'s digit limit
        ("9" * 5000 + ".1", "is not a Celery version"),
        ("6.0\n", "Celery 6.0 is not supported"),
    ],
)
def test_a_hostile_target_is_a_clear_error(value: str, says: str) -> None:
    """Only ASCII digits name a Celery release; a huge or odd value is refused in a short
    message (no traceback, no raw newline, not the whole value echoed)."""
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"celery": value})
    message = str(caught.value)
    assert says in message and "5.3-5.7" in message
    assert "\n" not in message and len(message) < 400


def test_flake8_refuses_an_empty_version_as_check_does(tmp_path: Path) -> None:
    """``--celery-version=`` is a mistake, not "the default": ``check --celery ''`` says so."""
    (tmp_path / "shop.py").write_text(PARTIAL_ERRBACK)
    bad = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CSF", "--celery-version", "", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert bad.returncode != 0 and "'' is not a Celery version" in bad.stdout + bad.stderr


def test_a_huge_non_string_target_is_named_shortly() -> None:
    """Reproduces: ``celery = [1, 1, ...]`` (3,000 items) in pyproject echoed the whole
    list in the error; the message shows the start of the value."""
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"celery": [1] * 3000})
    message = str(caught.value)
    assert message.startswith('[tool.celery-safe] celery must be a version string such as '
                              '"5.4", got [1, 1,')
    assert len(message) < 200
