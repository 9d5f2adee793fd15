"""``live_consumers(app)``: how ``explain`` tells, on the embedded broker (which carries
no ``inspect`` broadcast), that no worker is running: each consumer's doorbell answers."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from celery import Celery

from celery_safe.embedded import embedded_config, live_consumers
from celery_safe.embedded.wake import Doorbell, listeners, wake_directory


def test_only_bound_sockets_count(tmp_path: Path) -> None:
    directory = str(tmp_path / "wake")
    assert listeners(directory) == 0  # no consumer ever waited here
    bell = Doorbell(directory)
    other = Doorbell(directory)
    assert listeners(directory) == 2
    other.close()
    (Path(directory) / "not-a-socket").write_text("x")
    os.symlink(bell.path, Path(directory) / "a-link")  # not followed: it is not a socket
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(os.path.join(directory, "123-dead"))
    dead.close()  # its file stays, nobody reads it
    assert listeners(directory) == 1
    bell.close()
    assert listeners(directory) == 0


def test_live_consumers_reads_the_apps_broker(tmp_path: Path) -> None:
    app = Celery("lc", set_as_current=False)
    app.conf.update(embedded_config(tmp_path))
    assert live_consumers(app) == 0
    broker_path = str(app.conf.broker_url).removeprefix("sqlite:///")
    bell = Doorbell(wake_directory(broker_path))
    try:
        assert live_consumers(app) == 1
    finally:
        bell.close()
    other = Celery("redis", set_as_current=False)
    other.conf.broker_url = "redis://localhost:6379/0"
    assert live_consumers(other) is None  # not the embedded broker: ask the workers
