"""Doorbells beside the broker file: a ring wakes every waiting consumer, stale ones go."""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path

import pytest

from celery_safe.embedded import wake as embedded_wake
from celery_safe.embedded.wake import Doorbell, WakeDirectoryError, ring, wake_directory


def test_a_ring_wakes_every_doorbell_and_is_consumed(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "broker.sqlite"))
    bells = [Doorbell(directory), Doorbell(directory)]
    try:
        assert [bell.wait(0) for bell in bells] == [False, False]
        ring(directory)
        ring(directory)  # two rings before a wait: one wake-up
        assert [bell.wait(5) for bell in bells] == [True, True]
        assert [bell.wait(0) for bell in bells] == [False, False]
    finally:
        for bell in bells:
            bell.close()
    assert os.listdir(directory) == []


def test_poke_wakes_only_its_own_doorbell(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "broker.sqlite"))
    mine, other = Doorbell(directory), Doorbell(directory)
    try:
        mine.poke()
        assert (mine.wait(5), other.wait(0)) == (True, False)
    finally:
        mine.close()
        other.close()


def test_ringing_removes_the_socket_of_a_dead_consumer(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "broker.sqlite"))
    os.makedirs(directory, mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(os.path.join(directory, "1-dead"))
    dead.close()  # its file stays, as after a SIGKILL
    alive = Doorbell(directory)
    try:
        ring(directory)
        assert alive.wait(5)
        assert os.listdir(directory) == [os.path.basename(alive.path)]
    finally:
        alive.close()


def test_ringing_a_broker_nobody_waits_on_does_nothing(tmp_path: Path) -> None:
    ring(wake_directory(str(tmp_path / "broker.sqlite")))
    assert list(tmp_path.iterdir()) == []


def test_a_long_broker_path_keeps_its_doorbells_beside_it_on_linux(tmp_path: Path) -> None:
    (tmp_path / ("d" * 120)).mkdir()
    long_path = str(tmp_path / ("d" * 120) / "broker.sqlite")
    directory = wake_directory(long_path)
    assert directory == f"{long_path}.wake"
    bell = Doorbell(directory)  # reached through its directory's descriptor
    try:
        ring(directory)
        assert bell.wait(5)
    finally:
        bell.close()
    assert os.listdir(directory) == []


def test_without_fd_paths_a_long_path_uses_a_private_parent_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where ``/proc/self/fd`` is missing (macOS): a per-user 0700 parent in the shared
    temporary directory, removed again when its last doorbell closes."""
    monkeypatch.setattr(embedded_wake, "_FD_PATHS", False)
    long_path = str(tmp_path / ("d" * 90) / "broker.sqlite")
    directory = wake_directory(long_path)
    parent = os.path.dirname(directory)
    assert parent == os.path.join("/tmp", f"celery-safe-{os.geteuid()}")
    assert directory == wake_directory(long_path)
    bell = Doorbell(directory)
    try:
        assert stat.S_IMODE(os.lstat(parent).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(directory).st_mode) == 0o700
        ring(directory)
        assert bell.wait(5)
    finally:
        bell.close()
    assert not os.path.lexists(directory)


def test_a_planted_link_at_the_private_parent_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_wake, "_FD_PATHS", False)
    victim = _victim_files(tmp_path)
    directory = wake_directory(str(tmp_path / ("d" * 90) / "broker.sqlite"))
    parent = os.path.dirname(directory)
    assert not os.path.lexists(parent), f"{parent} left by another run"
    _plant(parent, victim)
    os.mkdir(victim / os.path.basename(directory), 0o700)
    try:
        with pytest.raises(WakeDirectoryError, match=re.escape(parent)):
            Doorbell(directory)
        ring(directory)
        assert sorted(os.listdir(victim)) == [
            "fifo", "notes.txt", "thesis.tex", os.path.basename(directory)
        ]
    finally:
        os.unlink(parent)


def test_ringing_touches_only_sockets(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "broker.sqlite"))
    os.makedirs(directory, mode=0o700)
    (Path(directory) / "file").write_text("not a socket")
    os.mkfifo(os.path.join(directory, "fifo"))
    os.symlink(tmp_path, os.path.join(directory, "link"))
    ring(directory)
    assert sorted(os.listdir(directory)) == ["fifo", "file", "link"]


def test_a_wake_directory_open_to_others_is_made_private(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "broker.sqlite"))
    os.makedirs(directory)
    os.chmod(directory, 0o777)
    bell = Doorbell(directory)
    bell.close()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_a_doorbell_works_past_the_select_limit(tmp_path: Path) -> None:
    """A worker can hold more than FD_SETSIZE (1024) descriptors; ``select()`` then refuses
    them ("filedescriptor out of range", seen in the Celery 5.3 matrix run)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft > 1100, f"this test needs more than 1100 open files (limit {soft})"
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        bell = Doorbell(wake_directory(str(tmp_path / "broker.sqlite")))
        try:
            bell.poke()
            assert bell.wait(5) is True
        finally:
            bell.close()
    finally:
        for fd in held:
            os.close(fd)


# -- a wake directory someone else planted --------------------------------------------


def _other_user() -> tuple[int, int]:
    """Uid and gid of an unprivileged user that is not us (root creates one)."""
    import pwd
    import subprocess

    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()  # cannot chown: the planted link is "ours", still refused
    name = "celerysafe-probe"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def _plant(path: str, target: Path) -> None:
    """What another local user does: a link at the wake directory's path to our files."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.symlink(target, path)
    uid, gid = _other_user()
    if os.geteuid() == 0:
        os.lchown(path, uid, gid)


def _victim_files(tmp_path: Path) -> Path:
    victim = tmp_path / "precious"
    victim.mkdir()
    for name in ("notes.txt", "thesis.tex"):
        (victim / name).write_text("mine")
    os.mkfifo(victim / "fifo")
    return victim


def test_a_planted_link_at_the_wake_directory_deletes_nothing(tmp_path: Path) -> None:
    """Reproduces #20: a symlink at the wake directory's path made a producer's ring
    unlink every entry of the directory it pointed to (as root too)."""
    victim = _victim_files(tmp_path)
    broker = str(tmp_path / ("d" * 90) / "broker.sqlite")
    directory = wake_directory(broker)
    _plant(directory, victim)
    try:
        ring(directory)
        with pytest.raises(WakeDirectoryError, match=re.escape(directory)):
            Doorbell(directory)
        assert sorted(os.listdir(victim)) == ["fifo", "notes.txt", "thesis.tex"]
    finally:
        os.unlink(directory)


def test_a_send_through_a_planted_link_deletes_nothing(tmp_path: Path) -> None:
    """The same through a real producer: ``send_task`` on a broker with a long path."""
    from celery import Celery

    import celery_safe.embedded

    victim = _victim_files(tmp_path)
    root = tmp_path / ("d" * 90)
    app = celery_safe.embedded.configure(Celery("planted"), root)
    directory = wake_directory(str(root / "broker.sqlite"))
    _plant(directory, victim)
    try:
        app.send_task("anything.at.all")
        assert sorted(os.listdir(victim)) == ["fifo", "notes.txt", "thesis.tex"]
    finally:
        app.close()
        os.unlink(directory)


def test_someone_elses_wake_directory_is_refused_by_name_and_owner(tmp_path: Path) -> None:
    import pwd

    uid, gid = _other_user()
    if uid == os.geteuid():
        pytest.skip("needs root to make a directory of another user")
    broker = str(tmp_path / "b.sqlite")
    directory = wake_directory(broker)
    os.makedirs(directory, mode=0o700)
    os.chown(directory, uid, gid)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(os.path.join(directory, "1-theirs"))
    stale.close()
    (Path(directory) / "theirs.txt").write_text("theirs")
    owner = pwd.getpwuid(uid).pw_name
    with pytest.raises(WakeDirectoryError, match=f"{re.escape(directory)}.*{owner}"):
        Doorbell(directory)
    ring(directory)
    assert sorted(os.listdir(directory)) == ["1-theirs", "theirs.txt"]
