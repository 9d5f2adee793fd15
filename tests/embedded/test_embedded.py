"""The embedded default on real worker processes: no server, quick chains and chords."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from celery import Celery, chain, chord

import celery_safe.embedded
from celery_safe.testing import WorkerProcess, WorkerStartError

HERE = Path(__file__).parent


def test_config_keeps_polling_out_of_engine_options(tmp_path: Path) -> None:
    config = celery_safe.embedded.embedded_config(tmp_path, polling_interval=0.2)
    assert config["broker_transport_options"] == {
        "polling_interval": 0.2, "visibility_timeout": 60.0,
    }
    assert config["broker_transport"].endswith(":SQLiteTransport")
    app = Celery("probe")
    app.conf.update(config)
    with app.connection_for_write() as conn:
        conn.connect()  # kombu's own transport would pass polling_interval to create_engine
        assert conn.transport.polling_interval == 0.2
        channel = conn.default_channel
        channel.queue_declare("probe")
        channel._put("probe", {"body": "x"})
        assert channel._size("probe") == 1
    assert (tmp_path / "broker.sqlite").is_file()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    directory = tmp_path_factory.mktemp("embedded")
    os.environ["EMBEDDED_TEST_DIR"] = str(directory)
    sys.path.insert(0, str(HERE))
    try:
        module = importlib.import_module("embedded_app")
        with WorkerProcess("embedded_app", pool="prefork", concurrency=2, cwd=HERE):
            yield module
    finally:
        sys.path.remove(str(HERE))
        sys.modules.pop("embedded_app", None)


@pytest.mark.worker
def test_chain_and_chord_run_on_real_workers(embedded: ModuleType) -> None:
    add, total = embedded.add, embedded.total
    assert chain(add.s(1, 2), add.s(3), add.s(4)).delay().get(timeout=30, interval=0.05) == 10
    result = chord([add.s(i, i) for i in range(10)])(total.s())
    assert result.get(timeout=30, interval=0.05) == 90


@pytest.mark.worker
def test_guard_refuses_a_join_inside_an_embedded_worker(embedded: ModuleType) -> None:
    with pytest.raises(RuntimeError, match=r"embedded_app\.joins"):
        embedded.joins.delay(1).get(timeout=30, interval=0.05)


def test_worker_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    with pytest.raises(WorkerStartError, match="no_such_module"):
        WorkerProcess("no_such_module", cwd=tmp_path, ready_timeout=20).start()
