"""``celery-safe fix`` and the files it does not own (issue 23 item 1): it never writes
through a symlink out of the paths given, never changes a file's owner or group, never
splits a hard link, and never rewrites a read-only file; each is reported, the others fixed."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from celery_safe.cli import main

from .test_cli import FIXED_TOTAL, TASKS


def _tree(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "tasks.py").write_text(TASKS)
    return pkg


def test_a_symlink_out_of_the_paths_given_is_refused_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkg = _tree(tmp_path)
    outside = tmp_path / "elsewhere" / "victim.py"
    outside.parent.mkdir()
    outside.write_text(TASKS)
    (pkg / "link_out.py").symlink_to(outside)
    assert main(["fix", str(pkg)]) == 1
    err = capsys.readouterr().err
    assert f"{pkg / 'link_out.py'}: not written: a symlink to {outside}" in err
    assert "--allow-symlinks-out" in err
    assert outside.read_text() == TASKS  # untouched
    assert (pkg / "tasks.py").read_text().endswith(FIXED_TOTAL)  # the others are fixed
    assert main(["fix", "--allow-symlinks-out", str(pkg)]) == 0
    assert (pkg / "link_out.py").is_symlink()
    assert outside.read_text().endswith(FIXED_TOTAL)


def test_a_symlink_inside_the_paths_given_is_fixed_once_through_the_link(
    tmp_path: Path,
) -> None:
    pkg = _tree(tmp_path)
    (pkg / "alias.py").symlink_to(pkg / "tasks.py")
    assert main(["fix", str(pkg)]) == 0
    assert (pkg / "alias.py").is_symlink()
    assert (pkg / "tasks.py").read_text().endswith(FIXED_TOTAL)


def test_split_logic_through_a_symlink_inside_the_tree_is_written(tmp_path: Path) -> None:
    from .test_fix_files import SPLIT_CALLEE, SPLIT_CALLER

    (tmp_path / "a_flows.py").write_text(SPLIT_CALLER)
    (tmp_path / "z_jobs.py").write_text(SPLIT_CALLEE)
    (tmp_path / "z_alias.py").symlink_to(tmp_path / "z_jobs.py")
    assert main(["fix", "--split-logic", str(tmp_path)]) == 0
    assert "@celery_safe.task(app)\ndef double" in (tmp_path / "z_jobs.py").read_text()
    assert (tmp_path / "z_alias.py").is_symlink()


def test_owner_and_group_are_kept(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")  # CI runs as root here
    pkg = _tree(tmp_path)
    os.chown(pkg / "tasks.py", 4242, 4343)
    assert main(["fix", str(pkg)]) == 0
    info = (pkg / "tasks.py").stat()
    assert (info.st_uid, info.st_gid) == (4242, 4343)
    assert (pkg / "tasks.py").read_text().endswith(FIXED_TOTAL)


@contextmanager
def _as_nobody() -> Iterator[None]:
    """Run the block with the effective ids of ``nobody`` (the real ids stay root's, so
    they can be taken back)."""
    nobody = 65534
    os.setegid(nobody)
    os.seteuid(nobody)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_a_file_whose_owner_cannot_be_kept_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to set the scene up for an unprivileged user")
    top = Path(tempfile.mkdtemp(prefix="celery-safe-owner-"))  # pytest's tmp is root-only
    try:
        pkg = _tree(top)
        top.chmod(0o755)
        pkg.chmod(0o777)  # nobody may replace entries here, not give them away
        (pkg / "tasks.py").chmod(0o666)
        with _as_nobody():
            code = main(["fix", str(pkg)])
        err = capsys.readouterr().err
        assert code == 1, err
        assert f"{pkg / 'tasks.py'}: not written: owned by uid 0 gid 0" in err
        assert (pkg / "tasks.py").read_text() == TASKS
        assert (pkg / "tasks.py").stat().st_uid == 0
        assert sorted(p.name for p in pkg.iterdir()) == ["tasks.py"]  # no temporary left
    finally:
        shutil.rmtree(top)


def test_a_hard_linked_file_is_reported_not_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkg = _tree(tmp_path)
    (pkg / "jobs.py").write_text(TASKS)
    twin = tmp_path / "twin.py"
    os.link(pkg / "jobs.py", twin)
    assert main(["fix", str(pkg)]) == 1
    err = capsys.readouterr().err
    assert f"{pkg / 'jobs.py'}: not written: it has 2 hard links" in err
    assert os.path.samefile(pkg / "jobs.py", twin)
    assert twin.read_text() == TASKS
    assert (pkg / "tasks.py").read_text().endswith(FIXED_TOTAL)


def test_a_read_only_file_is_reported_and_keeps_its_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkg = _tree(tmp_path)
    (pkg / "frozen.py").write_text(TASKS)
    (pkg / "frozen.py").chmod(0o444)
    assert main(["fix", str(pkg)]) == 1
    err = capsys.readouterr().err
    assert f"{pkg / 'frozen.py'}: not written: read-only (mode 0444)" in err
    assert (pkg / "frozen.py").read_text() == TASKS
    assert stat.S_IMODE((pkg / "frozen.py").stat().st_mode) == 0o444
    assert (pkg / "tasks.py").read_text().endswith(FIXED_TOTAL)
    assert main(["fix", "--check", str(pkg)]) == 1  # still reported, still not written
    assert (pkg / "frozen.py").read_text() == TASKS


def test_split_logic_writes_nothing_when_one_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .test_fix_files import SPLIT_CALLEE, SPLIT_CALLER

    caller, callee = tmp_path / "a_flows.py", tmp_path / "z_jobs.py"
    caller.write_text(SPLIT_CALLER)
    callee.write_text(SPLIT_CALLEE)
    callee.chmod(0o444)
    assert main(["fix", "--split-logic", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "z_jobs.py: not written: read-only" in err
    assert "--split-logic" in err and "no file was changed" in err
    assert (caller.read_text(), callee.read_text()) == (SPLIT_CALLER, SPLIT_CALLEE)


def test_control_characters_in_names_are_escaped_as_check_escapes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reproduces: ``fix`` printed a file name's newline or escape sequence raw, so a
    name could forge a line of the report or drive the terminal; ``check`` escaped it."""
    from celery_safe.lint.front.formats import printable

    from .test_cli import UNFIXABLE

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    names = {"fixed": "new\nline.py", "left": "esc\x1b[2Jape.py", "broken": "car\rriage.py"}
    (pkg / names["fixed"]).write_text(TASKS)
    (pkg / names["left"]).write_text(UNFIXABLE)
    (pkg / names["broken"]).write_text("def broken(:\n    \x1b[31m\n")
    for argv in (["fix", "--diff", str(pkg)], ["fix", "--check", str(pkg)], ["fix", str(pkg)]):
        main(argv)
        out, err = capsys.readouterr()
        assert "\x1b" not in out + err and "\r" not in out + err, argv
        shown = out + err
        for name in names.values():
            assert name not in shown
        assert printable(str(pkg / names["left"])) in shown, argv
        assert printable(str(pkg / names["broken"])) in shown, argv
        if argv[1] != "--diff":
            assert printable(str(pkg / names["fixed"])) in shown, argv
        else:
            assert printable(names["fixed"]) in shown
    assert (pkg / names["fixed"]).read_text().endswith(FIXED_TOTAL)
