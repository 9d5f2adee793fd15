"""``explain`` on chords whose header results expired, and on what a chord's counter (or
``celery.chord_unlock``) says, on REAL workers: the embedded default, Redis, and
Celery's database backend (which has no counter). Each test waits for what the backend
shows, under a generous deadline; no test waits a fixed time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import chord as celery_chord
from test_wf_explain import _embedded, _explained, _sent, _until, _worker

from celery_safe.workflows.counters import chord_counter

pytestmark = pytest.mark.worker

#: Redis databases of these tests' one-test workers: broker, results.
BROKER_DB, RESULTS_DB = 9, 10
#: The module's counting worker's: it runs while the module's later tests run, and a
#: worker on their broker database consumed their queue (it took the chord_unlock test's
#: ``inc`` or ``chord_unlock`` and kept them in its Redis results, not in the test's
#: SQLite file: explain said "0 of 2 done" for ever, in whole-module runs only).
COUNTING_DBS = (11, 12)


def _redis_conf(request: pytest.FixtureRequest, dbs: tuple[int, int] = (BROKER_DB, RESULTS_DB),
                **extra: Any) -> dict[str, Any]:
    import redis

    url = request.getfixturevalue("celery_safe_redis_url")
    for db in dbs:
        redis.Redis.from_url(f"{url}/{db}").flushdb()
    return {"broker_url": f"{url}/{dbs[0]}", "result_backend": f"{url}/{dbs[1]}",
            "broker_connection_retry_on_startup": True, "result_extended": True, **extra}


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def expiring(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """Test tasks on a worker whose results expire after a second or two."""
    if request.param == "embedded":  # a database forgets a result when cleanup runs
        conf = {**_embedded(tmp_path / "results"), "result_expires": 1}
    else:  # Redis forgets it by itself (whole seconds)
        conf = _redis_conf(request, result_expires=2)
    yield from _worker(conf, request.param)


_NOT_COUNTED = SimpleNamespace(counted=None)


def test_a_chord_whose_results_expired_before_its_last_part(
    expiring: SimpleNamespace, tmp_path: Path
) -> None:
    t, release = expiring, tmp_path / "release"
    first = str(uuid.uuid4())
    sent, names = _sent(celery_chord(
        [t.inc.s(1).set(task_id=first), t.outlive.s(first, str(release))], t.tsum.s()))
    _until(lambda: t.app.backend.get_task_meta(first, cache=False)["status"] == "SUCCESS",
           "the first part's result")
    if t.kind == "redis":
        # Measured on Celery 5.7: the chord's size key (.s) expires with the results;
        # the body is never sent, and nothing fails: explain says so while the last
        # part is still running, and after.
        found = _explained(sent, t.app, "stuck", "expired", names)
        release.touch()
        (reason,) = [r for r in found.reasons if r.kind == "expired"]
        assert reason.task == "tsum" and reason.message.startswith(
            "tsum will never run: the chord's counter in Redis expired before its last "
            "part ended (Redis keeps it 2 s after a part ends: result_expires), so parts "
            "that end later start a count that cannot complete (")
        counter = chord_counter(t.app, sent.parent.id)
        assert counter is not None and counter.state == "gone"
        return
    # Measured on the embedded backend: cleanup deletes the part's result and the
    # chord's saved header; the last part then fails the body with ChordError.
    # First wait until the first part is counted: a worker stores a part's result, then
    # counts it (mark_as_done, then on_chord_part_return); a cleanup between the two made
    # the first part fail the body at once (seen on a loaded machine).
    _until(lambda: (chord_counter(t.app, sent.parent.id) or _NOT_COUNTED).counted == 1,
           "the first part's count")
    _until(lambda: t.app.backend.cleanup() or t.app.backend.get_task_meta(
        first, cache=False)["status"] == "PENDING", "cleanup to delete the first result")
    waiting = _explained(sent, t.app, "stuck", "expired", names)  # its last part runs
    assert [str(r) for r in waiting.reasons] == [
        "tsum will not run: the chord's saved header was deleted with old results before "
        "its last part ended (celery.backend_cleanup deletes results older than "
        "result_expires, 1 s here); when that part ends, it fails tsum with ChordError."]
    release.touch()
    found = _explained(sent, t.app, "failed", "expired", names)
    (reason,) = found.reasons
    assert reason.task == "tsum" and reason.message == (
        "tsum did not run: the chord's results were deleted before its last part ended "
        "(celery.backend_cleanup deletes results older than result_expires, 1 s here), so "
        f"that part found no chord to finish and failed tsum with ChordError: GroupResult "
        f"{sent.parent.id} no longer exists.")


def explain_now(sent: Any, app: Any, names: dict[str, str]) -> Any:
    from celery_safe.workflows import explain

    return explain(sent, app=app, timeout=0.5, names=names)


@pytest.fixture(scope="module",
                params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def counting(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Test tasks on a worker that does not consume the queue ``elsewhere`` (one worker
    per broker for the module: each test reads only the chords it sent)."""
    route = {"task_routes": {"wf.const": {"queue": "elsewhere"}}}
    conf = {**_embedded(tmp_path_factory.mktemp("counting") / "results"), **route} \
        if request.param == "embedded" else _redis_conf(request, COUNTING_DBS, **route)
    yield from _worker(conf, request.param)


def test_the_chord_counter_says_how_many_parts_it_counted(counting: SimpleNamespace) -> None:
    t = counting
    sent, names = _sent(celery_chord([t.inc.s(1), t.inc.s(2), t.const.si()], t.tsum.s()))
    where = "Redis" if t.kind == "redis" else "the embedded results file"
    state = "stuck" if t.kind == "redis" else "running"  # inspect: no worker on `elsewhere`
    said = (f"tsum waits for the chord's parts: 2 of 3 done; the chord's counter in {where} "
            f"has 2 of 3, and tsum runs when all are.")

    def counted() -> Any:  # a part's result is stored a moment before it is counted
        found = explain_now(sent, t.app, names)
        return found if any(r.message == said for r in found.reasons) else None

    found = _until(counted, "both inc parts counted")
    assert found.state == state
    (reason,) = [r for r in found.reasons if r.kind == "chord-waiting"]
    assert reason.task == "tsum" and not any(r.kind == "expired" for r in found.reasons)
    counter = chord_counter(t.app, sent.parent.id)
    assert counter is not None and (counter.state, counter.counted, counter.size) == (
        "counting", 2, 3)


@pytest.mark.redis
def test_chord_unlock_retrying_on_a_backend_without_a_counter(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Celery's database backend counts nothing: ``celery.chord_unlock`` polls the header
    and retries; the guard records its attempts under the chord's group id."""
    conf = _redis_conf(request, result_backend=f"db+sqlite:///{tmp_path / 'results.db'}",
                       result_chord_retry_interval=0.2,
                       task_routes={"wf.const": {"queue": "elsewhere"}})
    workers = _worker(conf, "redis")
    t = next(workers)
    try:
        sent, names = _sent(celery_chord([t.inc.s(1), t.const.si()], t.tsum.s()))

        seen: list[Any] = []

        def retried() -> Any:
            # why 1 of 2: under load chord_unlock may retry before inc's result is stored
            found = explain_now(sent, t.app, names)
            seen[:] = [found]
            return found if any("1 of 2 done; celery.chord_unlock is retrying (attempt "
                                in r.message for r in found.reasons) else None

        try:
            found = _until(retried, "chord_unlock's retries")
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; last explanation: {seen}") from None
        (reason,) = [r for r in found.reasons if r.kind == "chord-waiting"]
        assert reason.message.startswith(
            "tsum waits for the chord's parts: 1 of 2 done; celery.chord_unlock is retrying "
            "(attempt ")
        assert "it checks them every 0.2 s and sends tsum when all are; its next check " \
               "is due at 20" in reason.message
        counter = chord_counter(t.app, sent.parent.id)
        assert counter is not None and counter.state == "polling" and counter.retries
    finally:
        workers.close()  # stops the worker


def test_the_chord_counter_says_it_sent_the_body(counting: SimpleNamespace) -> None:
    """The body goes to a queue no worker consumes: the counter fired, the body waits."""
    t = counting
    sent, names = _sent(celery_chord([t.inc.s(1), t.inc.s(2)], t.const.si()))
    said = "const waits for the chord's parts: 2 of 2 done; the chord's counter sent const, " \
           "which waits for a worker."

    def fired() -> Any:
        found = explain_now(sent, t.app, names)
        return found if any(r.message == said for r in found.reasons) else None

    found = _until(fired, "the counter to send the body")
    if t.kind == "redis":  # nobody consumes the body's queue (or answers inspect in time)
        assert found.state == "stuck"
    counter = chord_counter(t.app, sent.parent.id)
    assert counter is not None
    # Celery 5.7 marks a sent body (.c "done", for 300 s); before, Redis deletes the keys
    assert counter.state == "fired" or (t.kind == "redis" and counter.state == "gone"
                                        and counter.counted is None)
