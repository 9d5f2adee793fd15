"""Chord counters in the embedded results database: the last header part fires the body.

Celery's database backend has no counter, so it runs every chord through
``celery.chord_unlock``, a task that polls the header's results and retries until all
are ready. Here each header part, once its result is stored, records itself in
``celery_safe_chord_part`` in one ``BEGIN IMMEDIATE`` transaction and reads how many
parts are recorded; the one that completes the count marks the chord as firing and
fires the body.

Parts are recorded by task id, not added to a number: a part delivered again (its
worker was SIGKILLed after the part finished, before the ack) is counted once, so the
body is not fired early or twice. The chord's row keeps its state:

- ``NULL``: waiting for parts;
- ``firing`` by a part: that part joins the header and sends the body. If its process
  dies meanwhile, its message comes back (at least once) and the same part, seeing
  itself as the firer, fires again: a body is sent at least once, and twice only when
  a worker dies between sending it and marking it sent;
- ``fired``: done; the part rows are deleted, the chord's row stays so a late
  redelivery of any part still finds the chord fired.
"""

from __future__ import annotations

from sqlalchemy import Connection

__all__ = ["count_part", "counted", "mark_fired", "set_size"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS celery_safe_chord ("
    " group_id VARCHAR(155) PRIMARY KEY, size INTEGER NOT NULL,"
    " state VARCHAR(16), firer VARCHAR(155))",
    "CREATE TABLE IF NOT EXISTS celery_safe_chord_part ("
    " group_id VARCHAR(155) NOT NULL, task_id VARCHAR(155) NOT NULL,"
    " PRIMARY KEY (group_id, task_id))",
)


def _create_tables(conn: Connection) -> None:
    for statement in _SCHEMA:
        conn.exec_driver_sql(statement)


def set_size(conn: Connection, group_id: str, size: int) -> None:
    """Chord ``group_id`` has ``size`` parts (Celery counts those of nested groups)."""
    _create_tables(conn)
    conn.exec_driver_sql(
        "INSERT INTO celery_safe_chord (group_id, size) VALUES (?, ?)"
        " ON CONFLICT (group_id) DO UPDATE SET size = excluded.size",
        (group_id, size),
    )


def count_part(conn: Connection, group_id: str, task_id: str, size: int) -> bool:
    """Record part ``task_id`` of chord ``group_id``; whether this part must fire the
    body. ``size`` counts only when :func:`set_size` was not called. Run in a
    transaction that holds the write lock."""
    _create_tables(conn)
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO celery_safe_chord (group_id, size) VALUES (?, ?)",
        (group_id, size),
    )
    row = conn.exec_driver_sql(
        "SELECT size, state, firer FROM celery_safe_chord WHERE group_id = ?", (group_id,)
    ).one()
    if row.state == "fired":
        return False
    if row.state == "firing":
        return bool(row.firer == task_id)  # the firer's earlier run died mid-fire
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO celery_safe_chord_part (group_id, task_id) VALUES (?, ?)",
        (group_id, task_id),
    )
    counted = conn.exec_driver_sql(
        "SELECT count(*) FROM celery_safe_chord_part WHERE group_id = ?", (group_id,)
    ).scalar_one()
    if int(counted) < int(row.size):
        return False
    conn.exec_driver_sql(
        "UPDATE celery_safe_chord SET state = 'firing', firer = ? WHERE group_id = ?",
        (task_id, group_id),
    )
    return True


def mark_fired(conn: Connection, group_id: str) -> None:
    """The body was sent (or its error recorded): no part fires it again."""
    conn.exec_driver_sql(
        "UPDATE celery_safe_chord SET state = 'fired' WHERE group_id = ?", (group_id,)
    )
    conn.exec_driver_sql("DELETE FROM celery_safe_chord_part WHERE group_id = ?", (group_id,))


def counted(conn: Connection, group_id: str) -> tuple[int, int, str | None] | None:
    """Chord ``group_id``'s ``(parts counted, size, state)``, or None when it has no row
    (no part has ended, or the chord is not counted here). A fired chord's parts are
    deleted: it reads ``(0, size, "fired")``. The tables must exist."""
    row = conn.exec_driver_sql(
        "SELECT size, state FROM celery_safe_chord WHERE group_id = ?", (group_id,)
    ).first()
    if row is None:
        return None
    parts = conn.exec_driver_sql(
        "SELECT count(*) FROM celery_safe_chord_part WHERE group_id = ?", (group_id,)
    ).scalar_one()
    return int(parts), int(row.size), row.state
