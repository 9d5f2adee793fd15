"""The chord counter itself: parts counted once by task id, the body fired once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine

from celery_safe.embedded.chords import count_part, mark_fired, set_size


@pytest.fixture
def conn() -> Iterator[Connection]:
    with create_engine("sqlite://").connect() as connection:
        yield connection


def test_the_part_completing_the_count_fires(conn: Connection) -> None:
    assert [count_part(conn, "g", part, 3) for part in ("a", "b", "c")] == [False, False, True]


def test_a_redelivered_part_is_counted_once(conn: Connection) -> None:
    assert not count_part(conn, "g", "a", 3)
    assert not count_part(conn, "g", "a", 3)  # redelivered: not a second part
    assert not count_part(conn, "g", "b", 3)
    assert count_part(conn, "g", "c", 3)


def test_a_fired_chord_never_fires_again(conn: Connection) -> None:
    for part in ("a", "b"):
        count_part(conn, "g", part, 2)
    mark_fired(conn, "g")
    assert not count_part(conn, "g", "b", 2)  # the firer, delivered again after the ack
    assert not count_part(conn, "g", "a", 2)


def test_a_firer_that_died_mid_fire_fires_again_and_no_other_part_does(
    conn: Connection,
) -> None:
    count_part(conn, "g", "a", 2)
    assert count_part(conn, "g", "b", 2)  # firing; its process dies before mark_fired
    assert not count_part(conn, "g", "a", 2)
    assert count_part(conn, "g", "b", 2)  # its message comes back: at least once


def test_the_size_set_by_celery_wins_over_the_parts_guess(conn: Connection) -> None:
    set_size(conn, "g", 3)  # a nested group in the header: more parts than results
    assert not count_part(conn, "g", "a", 2)
    assert not count_part(conn, "g", "b", 2)
    assert count_part(conn, "g", "c", 2)


def test_chords_are_counted_apart(conn: Connection) -> None:
    assert not count_part(conn, "g1", "a", 2)
    assert not count_part(conn, "g2", "a", 2)
    assert count_part(conn, "g1", "b", 2)
