"""Hostile file names in ``celery-safe check``'s text report: one finding, one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

JOINING = """\
from celery import shared_task


@shared_task
def a():
    return b.delay().get()


@shared_task
def b():
    return 1
"""


def test_a_newline_in_a_path_cannot_forge_report_lines(tmp_path: Path) -> None:
    """Reproduces: ``pkg/x\\nforged.py:1:1: CSF000 ...`` printed as two report lines, the
    second one a finding no file has (a CI problem matcher reads each line)."""
    name = "x.py\nforged.py:9:9: CSF000 planted\n\rz.py"
    (tmp_path / name).write_text(JOINING)
    run = subprocess.run([sys.executable, "-m", "celery_safe.cli", "check", "."],
                         cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines == [
        "x.py\\nforged.py:9:9: CSF000 planted\\n\\rz.py:6:12: CSF101 task a blocks on a "
        "Celery result (b.delay().get()); a task must never wait for another task",
        "Found 1 finding(s) in 1 file(s).",
    ]


BAD_CONFIGS = {
    "not-utf8": b"[tool.celery-safe]\nselect = [\"CSF1\"]  # \xff\n",
    "wrong-type": b'[tool.celery-safe]\nselect = "CSF1"\n',
}


@pytest.mark.parametrize("kind", sorted(BAD_CONFIGS))
def test_a_bad_pyproject_is_one_message_in_check_and_flake8(tmp_path: Path, kind: str) -> None:
    """Reproduces: a pyproject.toml that is not UTF-8 was a UnicodeDecodeError traceback
    in ``check``; any bad ``[tool.celery-safe]`` was a ConfigError traceback in flake8."""
    (tmp_path / "pyproject.toml").write_bytes(BAD_CONFIGS[kind])
    (tmp_path / "a.py").write_text(JOINING)
    (tmp_path / "b.py").write_text(JOINING)
    check = subprocess.run([sys.executable, "-m", "celery_safe.cli", "check", "."],
                           cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert check.returncode == 2, check.stdout + check.stderr
    assert "Traceback" not in check.stderr and "pyproject" not in check.stdout
    why = "'utf-8' codec can't decode" if kind == "not-utf8" else "select must be a list"
    assert why in check.stderr
    for jobs in ("1", "2"):
        flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select", "CSF", "-j", jobs,
                                 "."], cwd=tmp_path, capture_output=True, text=True,
                                check=False, timeout=120)
        output = flake8.stdout + flake8.stderr
        assert flake8.returncode == 1, output
        assert "Traceback" not in output
        assert "There was a critical error during execution of Flake8:" in output
        assert "celery-safe: " in output and why in output


def _linked_tree(tmp_path: Path) -> tuple[Path, Path]:
    """``tree/`` with a real module, a link to it inside the tree, and a link to a module
    outside the tree (its findings must never be reported: it is not read)."""
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (tree / "real.py").write_text(JOINING)
    (tree / "alias.py").symlink_to(tree / "real.py")
    (outside / "secret.py").write_text(JOINING.replace("def a", "def leaked"))
    (tree / "link_out.py").symlink_to(outside / "secret.py")
    return tree, outside


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_symlink_out_of_the_tree_is_skipped_and_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    ci: str,
) -> None:
    """Reproduces: ``check DIR`` read a module that a link inside DIR points to outside it
    (here its findings were reported under the link's name). It is skipped, said once on
    stderr with why; under CI a skipped file fails the run, as CSF000 does. A link inside
    the tree still works, and its target is checked once, under one name."""
    from celery_safe.cli import main

    tree, outside = _linked_tree(tmp_path)
    monkeypatch.setenv("CI", ci)
    code = main(["check", "--no-cache", str(tree)])
    out, err = capsys.readouterr()
    assert "leaked" not in out and "link_out.py:" not in out
    assert err.count("link_out.py:") == 1, err
    assert (f"{tree / 'link_out.py'}: skipped, not read: a symlink to "
            f"{outside / 'secret.py'}, outside {tree}") in err
    assert out.count("CSF101 task a blocks") == 1, out  # real.py and alias.py: one file
    assert out.endswith("Found 1 finding(s) in 1 file(s).\n")
    assert code == 1  # the finding
    (tree / "real.py").write_text("X = 1\n")  # no finding: the skip alone decides
    code = main(["check", "--no-cache", str(tree)])
    out, err = capsys.readouterr()
    assert out == "No findings.\n"
    if ci:
        assert code == 1 and "CI is set: a skipped file fails the run" in err
    else:
        assert code == 0 and err.count("skipped, not read") == 1
    assert main(["check", "--no-cache", str(tree / "link_out.py")]) == 1  # named: used
    assert "leaked" in capsys.readouterr().out


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_broken_or_looping_link_in_the_tree_is_skipped_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    ci: str,
) -> None:
    """Reproduces: a dangling link (an editor's ``.#x.py`` lock) or a loop of links in a
    folder made the whole run an I/O error (exit 2, "No such file or directory"). Like a
    link out of the tree it is skipped and said; the other files decide the exit code."""
    from celery_safe.cli import main

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "real.py").write_text("X = 1\n")
    (tree / ".#real.py").symlink_to("root@host.4242:1700000000")
    (tree / "a.py").symlink_to("b.py")
    (tree / "b.py").symlink_to("a.py")
    monkeypatch.setenv("CI", ci)
    code = main(["check", "--no-cache", str(tree)])
    out, err = capsys.readouterr()
    assert out == "No findings.\n"
    assert (f"{tree / '.#real.py'}: skipped, not read: a symlink to "
            f"{tree / 'root@host.4242:1700000000'}, which does not exist") in err
    assert f"{tree / 'a.py'}: skipped, not read: a loop of symlinks" in err
    assert f"{tree / 'b.py'}: skipped, not read: a loop of symlinks" in err
    assert code == (1 if ci else 0)


def test_a_looping_link_named_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reproduces: ``check a.py`` with ``a.py`` a loop of links raised RuntimeError from
    ``Path.resolve``. A named file that cannot be read is exit 2, saying why."""
    from celery_safe.cli import main

    (tmp_path / "a.py").symlink_to("b.py")
    (tmp_path / "b.py").symlink_to("a.py")
    assert main(["check", "--no-cache", str(tmp_path / "a.py")]) == 2
    assert "a.py: Too many levels of symbolic links" in capsys.readouterr().err


def test_a_newline_in_a_beat_entrys_name_cannot_forge_report_lines(tmp_path: Path) -> None:
    """Reproduces: a beat entry named ``"e\\nforged.py:9:9: CSF000 planted"`` (the name is
    in CSF205's message) printed two report lines in ``check`` and in flake8, and a
    right-to-left override reached the terminal raw. Messages are escaped as names are."""
    (tmp_path / "tasks.py").write_text(
        "from celery import Celery\napp = Celery('p')\n\n@app.task\ndef add(x, y):\n"
        "    return x + y\n"
    )
    (tmp_path / "celeryconfig.py").write_text(
        "beat_schedule = {\n"
        '    "e\\nforged.py:9:9: CSF000 planted": {"task": "tasks.add", "args": [1]},\n'
        '    "\\u202eevil": {"task": "tasks.add", "args": [1]},\n'
        "}\n"
    )
    check = subprocess.run([sys.executable, "-m", "celery_safe.cli", "check", "--no-cache", "."],
                           cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select", "CSF", "."],
                            cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    for out in (check.stdout, flake8.stdout):
        lines = [line.removeprefix("./") for line in out.splitlines() if "CSF" in line]
        assert len(lines) == 2, out
        assert lines[0].startswith(
            "celeryconfig.py:2:5: CSF205 beat_schedule.e\\nforged.py:9:9: CSF000 planted add "
        ), out
        assert lines[1].startswith("celeryconfig.py:3:5: CSF205 beat_schedule.\\u202eevil add")


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_folder_link_out_of_the_tree_is_skipped_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    ci: str,
) -> None:
    """Reproduces: a link to a folder outside DIR (``shared -> ../outside``) was passed
    over in silence, its modules unchecked with nothing said (a link to a file is said).
    Links to folders inside the tree, and an excluded one (``.venv``), stay silent."""
    from celery_safe.cli import main

    tree, outside = _linked_tree(tmp_path)
    (tree / "link_out.py").unlink()
    (tree / "shared").symlink_to(outside, target_is_directory=True)
    (tree / ".venv").symlink_to(outside, target_is_directory=True)  # excluded by default
    (tree / "here").symlink_to(tree, target_is_directory=True)  # inside: read as tree/
    (tree / "real.py").write_text("X = 1\n")
    monkeypatch.setenv("CI", ci)
    code = main(["check", "--no-cache", str(tree)])
    out, err = capsys.readouterr()
    assert out == "No findings.\n"
    assert err.count("skipped, not read") == 1, err
    assert f"{tree / 'shared'}: skipped, not read: a symlink to the folder {outside}, " \
           f"outside {tree}" in err
    assert code == (1 if ci else 0)
