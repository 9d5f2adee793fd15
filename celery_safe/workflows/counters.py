"""A chord's counter, read where its result backend keeps it: how many header parts
were counted, of how many, and whether the body was sent.

- Celery's Redis backend (5.3-5.7) keeps, under ``get_key_for_group(group_id, suffix)``
  (``celery-taskset-meta-<group id><suffix>`` with any ``global_keyprefix``), the
  parts' values (``.j``: a sorted set, or a list when ``result_chord_ordered`` is off),
  the header's size (``.s``, written just before the last header task is sent) and a
  size correction for nested groups (``.t``); 5.7 adds the counted ids (``.d``) and the
  dispatch claim (``.c``, ``done`` for 300 s once the body was sent). Each part's
  return refreshes their expiry to ``result_expires`` (5.7: ``result_chord_expires``
  when set); once the body is sent they are deleted.
- The embedded backend counts in its results file (:mod:`celery_safe.embedded.chords`).
- A backend without a counter (Celery's database backend, a database other than the
  embedded SQLite file) runs ``celery.chord_unlock``: a task that checks the header and
  retries until every part is ready; the guard records its retries under the chord's
  group id (:data:`~celery_safe.replacements.UNLOCK_PREFIX`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from celery import Celery

from ..replacements import UNLOCK_PREFIX, record_of
from .validate import _backend_kind

__all__ = ["ChordCounter", "chord_counter"]

CounterState = Literal["counting", "fired", "gone", "deleted", "polling"]


@dataclass(frozen=True)
class ChordCounter:
    """What a backend keeps about a chord's header.

    ``state``: ``counting`` (``counted`` of ``size`` parts so far), ``fired`` (the body
    was sent), ``gone`` (Redis keeps nothing of its size: the keys expired, or were
    deleted when the body was sent; ``counted`` is set when parts that ended since have
    started a new count), ``deleted`` (the embedded backend counts it, but its saved
    header was deleted with old results: its last part will fail the body with
    ``ChordError``), ``polling`` (``celery.chord_unlock`` checks the parts; its
    ``retries`` and ``next_retry`` when the guard recorded one)."""

    state: CounterState
    counted: int | None = None
    size: int | None = None
    retries: int | None = None
    next_retry: datetime | None = None
    #: where it is kept, in words: "Redis", "the embedded results file"
    #: ("the chord's counter in ...")
    where: str = ""


def chord_counter(app: Celery, group_id: str) -> ChordCounter | None:
    """The counter of the chord whose header is group ``group_id``; None when the backend
    keeps none that can be read (or keeps nothing for this chord)."""
    backend = app.backend
    kind = _backend_kind(backend)
    if kind == "redis":
        return _redis(backend, group_id)
    if kind == "embedded" and backend._counts_chords:
        found = backend.chord_counter(group_id)
        if found is None:
            return None
        counted, size, state = found
        where = "the embedded results file"
        if state in ("fired", "firing"):
            return ChordCounter("fired", size=size, where=where)
        if backend.restore_group(group_id, cache=False) is None:
            return ChordCounter("deleted", counted, size, where=where)
        return ChordCounter("counting", counted, size, where=where)
    if runs_chord_unlock(backend):
        record = record_of(backend, UNLOCK_PREFIX + group_id)
        retries = record.get("retries")
        due = record.get("next_retry")
        return ChordCounter(
            "polling", retries=retries if isinstance(retries, int) else None,
            next_retry=datetime.fromisoformat(due) if isinstance(due, str) else None,
            where="celery.chord_unlock")
    return None


def runs_chord_unlock(backend: Any) -> bool:
    """Whether Celery sends ``celery.chord_unlock`` for this backend's chords: every
    backend but Redis, the embedded one on its SQLite file, key-value stores that count
    with ``incr`` (memcached), and RPC (which runs no chord)."""
    kind = _backend_kind(backend)
    if kind == "redis" or getattr(backend, "implements_incr", False):
        return False
    if type(backend).__module__ == "celery.backends.rpc":
        return False  # no chords at all (and reading a record would consume replies)
    return not (kind == "embedded" and backend._counts_chords)


def _redis(backend: Any, group_id: str) -> ChordCounter:
    def key(suffix: str) -> Any:
        return backend.get_key_for_group(group_id, suffix)

    client = backend.client
    with client.pipeline(transaction=False) as pipe:
        pipe.get(key(".s")).get(key(".t")).get(key(".c")).type(key(".j"))
        size, diff, claim, kept = pipe.execute()
    kept = _text(kept)
    counted: int | None = None
    if kept == "zset":
        counted = int(client.zcard(key(".j")))
    elif kept == "list":
        counted = int(client.llen(key(".j")))
    if _text(claim) == "done":  # 5.7: the body was sent
        return ChordCounter("fired", where="Redis")
    if size is None:
        return ChordCounter("gone", counted, where="Redis")
    return ChordCounter("counting", counted or 0, int(size) + int(diff or 0), where="Redis")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
