"""The embedded default's files are private: another local user reads no task argument."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

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
