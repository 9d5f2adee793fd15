"""A producer or a consumer of the embedded broker, for the many-processes test.

    python traffic.py produce <directory> <queue> <first> <count>
    python traffic.py consume <directory> <queue> <out file> <producers>

A producer publishes messages ``first .. first + count - 1``, then writes
``<directory>/produced-<first>``. A consumer acknowledges each message after writing
its number to ``<out file>``, and stops once every producer is done and the queue has
stayed empty for one wait.
"""

from __future__ import annotations

import sys
from pathlib import Path
from queue import Empty

from celery import Celery
from kombu.connection import Connection

import celery_safe.embedded


def _connection(directory: str) -> Connection:
    app = celery_safe.embedded.configure(Celery("traffic"), directory)
    connection: Connection = app.connection_for_write()
    return connection


def produce(directory: str, queue: str, first: int, count: int) -> None:
    with _connection(directory) as conn:
        box = conn.SimpleQueue(queue)
        for number in range(first, first + count):
            box.put({"n": number})
        box.close()
    (Path(directory) / f"produced-{first}").touch()


def consume(directory: str, queue: str, out: str, producers: int) -> None:
    with _connection(directory) as conn, open(out, "a", encoding="utf-8") as log:
        box = conn.SimpleQueue(queue)
        while True:
            try:
                message = box.get(block=True, timeout=1.0)
            except Empty:
                if len(list(Path(directory).glob("produced-*"))) == producers:
                    break
                continue
            log.write(f"{message.payload['n']}\n")
            log.flush()
            message.ack()
        box.close()


if __name__ == "__main__":
    mode, directory, queue, *rest = sys.argv[1:]
    if mode == "produce":
        produce(directory, queue, int(rest[0]), int(rest[1]))
    else:
        consume(directory, queue, rest[0], int(rest[1]))
