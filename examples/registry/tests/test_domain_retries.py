"""Failure injection (``registry.faults``), the retry policy (``registry.policy``) and the
enhancement's handling of errors its caller retries, without Celery."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from registry import enhance
from registry.db import session_scope
from registry.faults import FaultPlan, FaultRule
from registry.models import CodeBundle, EnhancementLog
from registry.policy import EnhancePolicy
from registry.service import run_in_process
from sqlalchemy import delete, func, select


def test_a_plan_fails_the_first_calls_of_named_bundles_only() -> None:
    plan = FaultPlan.parse("flaky:2, c/broken:always")
    assert plan.rules == [FaultRule("flaky", 2), FaultRule("c/broken", None)]
    assert [plan.should_fail("c", "flaky") for _ in range(4)] == [1, 2, None, None]
    assert [plan.should_fail("c", "broken") for _ in range(3)] == [1, 2, 3]
    assert plan.should_fail("other", "broken") is None  # "c/broken" names collection c
    assert plan.should_fail("c", "fine") is None
    assert plan.calls("c", "flaky") == 4 and plan.calls("c", "fine") == 0


def test_a_star_names_every_bundle() -> None:
    plan = FaultPlan.parse("*:1")
    assert [plan.should_fail("a", "x"), plan.should_fail("a", "x"), plan.should_fail("b", "y")] == [
        1, None, 1,
    ]


@pytest.mark.parametrize("text", ["flaky", "flaky:", "flaky:-1", "flaky:sometimes", "a/b/c:1",
                                  "x y:1"])
def test_a_bad_rule_is_refused_with_the_syntax(text: str) -> None:
    with pytest.raises(ValueError, match="<slug>:<n>"):
        FaultPlan.parse(text)


def test_an_empty_plan_is_no_plan() -> None:
    assert not FaultPlan.parse(" , ")
    assert FaultPlan.parse("x:1")


def _claim(state_dir: str, results: multiprocessing.Queue[int | None]) -> None:
    results.put(FaultPlan.parse("flaky:3", Path(state_dir)).should_fail("c", "flaky"))


def test_processes_sharing_a_directory_agree_on_the_count(tmp_path: Path) -> None:
    """Each call is claimed by creating its own numbered file: 6 processes at once get the
    numbers 1..6, so exactly the first 3 fail."""
    # spawn, not fork: a child forked from this many-threaded test process can inherit a
    # lock some other thread held and never run (seen once under load: no result at all)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int | None] = context.Queue()
    processes = [context.Process(target=_claim, args=(str(tmp_path), results))
                 for _ in range(6)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]  # a hang guard, not a timing
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    assert sorted(o for o in outcomes if o is not None) == [1, 2, 3]
    assert outcomes.count(None) == 3
    assert FaultPlan.parse("", tmp_path).calls("c", "flaky") == 6


def test_the_local_provider_raises_a_transient_error_for_an_injected_fault() -> None:
    provider = enhance.get_provider("local", faults=FaultPlan.parse("c/b:1"))
    view = enhance.BundleView(
        id=1, collection="c", slug="b", display_name="B", doc="Checks.", support_tags=(),
        tasks=({"name": "List Pods", "doc": "", "tags": []},), user_variables=(),
        access_level="unknown",
    )
    with pytest.raises(enhance.ProviderUnavailable, match=r"c/b \(injected fault, call 1\)"):
        provider.enhance(view)
    assert provider.enhance(view) == enhance.LocalProvider().enhance(view)  # call 2 passes
    assert isinstance(enhance.ProviderUnavailable("x"), enhance.TRANSIENT_ERRORS)


def test_without_retries_an_injected_fault_is_the_bundles_failure(
    shared_samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_in_process`` (no Celery, no retries) records the provider's error at once."""
    plan = FaultPlan.parse("*:always")
    real = enhance.get_provider
    monkeypatch.setattr(enhance, "get_provider", lambda name: real(name, faults=plan))
    summary = run_in_process(f"sqlite:///{tmp_path / 'r.db'}", shared_samples, tmp_path / "w")
    assert summary["enhanced"] == 0 and summary["failed"] == summary["bundles"] > 0
    assert all(m.startswith("ProviderUnavailable: local provider unavailable")
               for m in summary["enhancement_failures"])


@pytest.fixture
def one_bundle(shared_samples: Path, tmp_path: Path) -> tuple[str, int]:
    """A database whose bundles are all pending again; one bundle's id."""
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    run_in_process(db_url, shared_samples, tmp_path / "work")
    with session_scope(db_url) as session:
        session.execute(delete(EnhancementLog))
        for bundle in session.scalars(select(CodeBundle)):
            bundle.enhancement_status = "pending"
        bundle_id = session.scalars(select(CodeBundle.id)).first()
    assert bundle_id is not None
    return db_url, bundle_id


def _state(db_url: str, bundle_id: int) -> tuple[str, list[tuple[str, str | None]]]:
    with session_scope(db_url) as session:
        status = session.get(CodeBundle, bundle_id).enhancement_status  # type: ignore[union-attr]
        logs = session.execute(select(EnhancementLog.status, EnhancementLog.task_id)
                               .where(EnhancementLog.bundle_id == bundle_id)).all()
    return status, [tuple(row) for row in logs]  # type: ignore[misc]


def test_an_error_the_caller_retries_writes_nothing(one_bundle: tuple[str, int]) -> None:
    db_url, bundle_id = one_bundle
    provider = enhance.get_provider("local", faults=FaultPlan.parse("*:always"))
    with session_scope(db_url) as session, pytest.raises(enhance.ProviderUnavailable):
        enhance.enhance_bundle(session, bundle_id, provider, task_id="t-1",
                               reraise=enhance.TRANSIENT_ERRORS)
    assert _state(db_url, bundle_id) == ("pending", [])


def test_giving_up_records_the_failure_once_under_the_task_id(
    one_bundle: tuple[str, int]
) -> None:
    db_url, bundle_id = one_bundle
    with session_scope(db_url) as session:
        first = enhance.record_failure(session, bundle_id, "local", "timed out", task_id="t-1")
    with session_scope(db_url) as session:  # the same task again (a redelivery)
        again = enhance.record_failure(session, bundle_id, "local", "timed out", task_id="t-1")
    with session_scope(db_url) as session:  # another task finds it done
        other = enhance.record_failure(session, bundle_id, "local", "timed out", task_id="t-2")
    assert (first.status, first.message, first.skipped) == ("failed", "timed out", False)
    assert (again.status, again.message, again.skipped) == ("failed", "timed out", False)
    assert (other.status, other.skipped) == ("failed", True)
    assert _state(db_url, bundle_id) == ("failed", [("failed", "t-1")])
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(EnhancementLog)) == 1


def test_the_retry_delay_grows_is_capped_and_is_fixed_by_task_and_attempt() -> None:
    policy = EnhancePolicy(backoff=2.0, backoff_max=10.0)
    delays = [policy.retry_delay("task-a", retries) for retries in range(6)]
    for retries, delay in enumerate(delays):
        ceiling = min(10.0, 2.0 * 2**retries)
        assert ceiling / 2 <= delay <= ceiling
    assert delays == [policy.retry_delay("task-a", r) for r in range(6)]  # reproducible
    others = {round(policy.retry_delay(f"task-{n}", 0), 6) for n in range(50)}
    assert len(others) == 50  # jitter: fifty tasks failing together retry at fifty times
    assert policy.retry_delay("task-a", 10_000) <= 10.0


def test_the_policy_reads_the_environment_and_refuses_nonsense() -> None:
    policy = EnhancePolicy.from_env({
        "REGISTRY_ENHANCE_MAX_RETRIES": "2", "REGISTRY_ENHANCE_BACKOFF": "0.05",
        "REGISTRY_ENHANCE_RATE_LIMIT": "", "REGISTRY_ENHANCE_SOFT_TIME_LIMIT": "3",
    })
    assert (policy.max_retries, policy.backoff, policy.rate_limit) == (2, 0.05, None)
    assert (policy.soft_time_limit, policy.time_limit) == (3.0, 18.0)
    assert EnhancePolicy.from_env({}) == EnhancePolicy()
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(ValueError):
            EnhancePolicy.from_env({"REGISTRY_ENHANCE_BACKOFF": bad})


def test_a_refusal_is_the_outcome_even_when_outages_are_retried(
    one_bundle: tuple[str, int]
) -> None:
    """Only errors that may pass are handed back for a retry: a provider that refuses
    the bundle (``EnhancementError``) fails it at once, whatever the caller retries."""
    db_url, bundle_id = one_bundle
    refusing = enhance.get_provider("fail:")  # "" is part of every slug
    with session_scope(db_url) as session:
        outcome = enhance.enhance_bundle(session, bundle_id, refusing, task_id="t-1",
                                         reraise=enhance.TRANSIENT_ERRORS)
    assert (outcome.status, outcome.message.split(":")[0]) == ("failed", "EnhancementError")
    assert _state(db_url, bundle_id) == ("failed", [("failed", "t-1")])
