"""Doorbells beside the broker file: a ring wakes every waiting consumer, stale ones go."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from celery_safe.embedded_wake import Doorbell, ring, wake_directory


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
    os.makedirs(directory)
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


def test_a_long_broker_path_gets_a_short_directory_the_same_everywhere(tmp_path: Path) -> None:
    long_path = str(tmp_path / ("d" * 90) / "broker.sqlite")
    directory = wake_directory(long_path)
    assert directory == wake_directory(long_path)
    assert not directory.startswith(long_path)
    bell = Doorbell(directory)  # fits in sun_path
    try:
        ring(directory)
        assert bell.wait(5)
    finally:
        bell.close()
        os.rmdir(directory)


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
