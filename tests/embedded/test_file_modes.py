"""The embedded default's files are private: another local user reads no task argument."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from test_wake import _other_user  # beside this file (pytest puts the folder on sys.path)

import celery_safe.embedded

FILES = ("broker.sqlite", "broker.sqlite-wal", "broker.sqlite-shm",
         "results.sqlite", "results.sqlite-wal", "results.sqlite-shm")


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _use(directory: Path) -> None:
    """Make every file: send a message, store a result."""
    app = celery_safe.embedded.configure(Celery("modes"), directory)
    try:
        app.send_task("secret.task", args=["card=4111", "password=hunter2"])
        app.backend.store_result("some-id", {"token": "s3cret"}, "SUCCESS")
        assert app.AsyncResult("some-id").get(timeout=10) == {"token": "s3cret"}
        missing = [name for name in FILES if not (directory / name).exists()]
        assert not missing, f"not made while in use: {missing}"
        modes = {name: oct(stat.S_IMODE((directory / name).stat().st_mode)) for name in FILES}
        assert modes == dict.fromkeys(FILES, "0o600")
    finally:
        app.close()


def test_directory_and_every_file_are_private_whatever_the_umask(
    tmp_path: Path, umask: int, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "celery"
    with caplog.at_level(logging.WARNING, logger="celery_safe"):
        _use(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert not [r for r in caplog.records if "open to others" in r.getMessage()], \
        "a file was made open to others, then fixed"


def test_existing_files_open_to_others_are_warned_about_once_and_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "celery"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    (directory / "broker.sqlite").touch()
    os.chmod(directory / "broker.sqlite", 0o644)
    with caplog.at_level(logging.WARNING, logger="celery_safe"):
        _use(directory)
        _use(directory)
    warned = [r.getMessage() for r in caplog.records if "open to others" in r.getMessage()]
    assert len([m for m in warned if str(directory / "broker.sqlite") in m]) == 1, warned
    assert len([m for m in warned if m.startswith(f"the directory {directory} ")]) == 1, warned


# -- files and directories someone else planted ---------------------------------------


@pytest.mark.parametrize("name", ["broker.sqlite", "results.sqlite", "broker.sqlite-wal",
                                  "results.sqlite-shm"])
def test_a_planted_link_at_a_broker_file_is_refused_and_never_followed(
    tmp_path: Path, name: str
) -> None:
    """Reproduces: a symlink at ``broker.sqlite`` made SQLite create (0644) and write the
    file it pointed to, as whoever ran the client."""
    directory = tmp_path / "celery"
    directory.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.db"
    os.symlink(target, directory / name)
    with pytest.raises(celery_safe.embedded.PrivatePathError,
                       match=f"{re.escape(str(directory / name))} is a symbolic link"):
        celery_safe.embedded.configure(Celery("planted"), directory)
    assert not target.exists()
    assert os.path.islink(directory / name)  # refused, not removed: it is not ours


def test_someone_elses_broker_directory_is_refused_by_name_and_owner(tmp_path: Path) -> None:
    """Reproduces: a broker directory another user made (so can write into) was used as
    it was: they could replace the files or plant links in it."""
    import pwd

    if os.geteuid() != 0:
        pytest.skip("needs root to make a directory of another user")
    uid, gid = _other_user()
    directory = tmp_path / "celery"
    directory.mkdir(mode=0o700)
    os.chown(directory, uid, gid)
    owner = pwd.getpwuid(uid).pw_name
    with pytest.raises(celery_safe.embedded.PrivatePathError,
                       match=f"{re.escape(str(directory))} belongs to {owner}"):
        celery_safe.embedded.configure(Celery("planted"), directory)
    assert os.listdir(directory) == []


def test_a_broker_file_of_someone_else_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a file of another user")
    uid, gid = _other_user()
    directory = tmp_path / "celery"
    directory.mkdir(mode=0o700)
    (directory / "results.sqlite").write_bytes(b"")
    os.chown(directory / "results.sqlite", uid, gid)
    with pytest.raises(celery_safe.embedded.PrivatePathError, match="results.sqlite belongs to"):
        celery_safe.embedded.configure(Celery("planted"), directory)
