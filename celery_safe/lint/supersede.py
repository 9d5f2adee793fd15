"""One defect, one finding: a code that supersedes another at the same call wins there.

Some defects fit several codes: a join passing ``disable_sync_subtasks=False`` inside a
task is a join in a task (CSF101) and a join with Celery's guard turned off (CSF102); a
join inside ``with allow_join_result():`` is reported on the block (CSF103). The catalogue
says which code wins (a page's front matter ``supersedes: CSF101``); the engine applies it
to every rule alike, after the rules have run:

* a finding is *about* calls: its own node, the join a join finding describes
  (``JoinDetail.join_span``, in this file) and the joins a CSF103 block covers;
* a finding whose code another finding supersedes, about one of the same calls, is
  dropped: its fix, if any, is the winner's (the winner carries the same detail);
* selection follows the winner: ``--ignore CSF102`` hides CSF102 and does not bring the
  CSF101 back; only a code named in full in ``--select``/``--extend-select`` while
  its winner is off is shown where the winner would be (``--select CSF101``).

So that ignoring a winner cannot resurface what it supersedes, a winner's detection runs
whenever a code it supersedes is enabled (:func:`runs`), and its findings are kept only
when it is enabled itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from .. import catalogue
from .config import Config
from .findings import AllowJoinDetail, Finding, JoinDetail, Span

__all__ = ["about", "kept", "runs", "winners"]


@cache
def winners(code: str) -> tuple[str, ...]:
    """The codes that supersede ``code``, directly or through another code."""
    found: list[str] = []
    todo = list(catalogue.superseded_by(code))
    while todo:
        winner = todo.pop()
        if winner not in found and winner != code:
            found.append(winner)
            todo += catalogue.superseded_by(winner)
    return tuple(sorted(found))


def _named(config: Config, code: str) -> bool:
    """``code`` is named in full in ``select``/``extend-select`` (not by a prefix)."""
    return code in config.select or code in config.extend_select


def _shown_anyway(config: Config, code: str, winner: str) -> bool:
    """The user asked for ``code`` by name and turned its ``winner`` off."""
    return _named(config, code) and not config.enabled(winner)


def runs(config: Config, code: str) -> bool:
    """Whether ``code``'s detection runs: it is enabled, or it supersedes an enabled
    code that is not shown anyway (its findings then only drop that code's)."""
    if config.enabled(code):
        return True
    return any(
        config.enabled(loser) and not _shown_anyway(config, loser, code)
        for loser in _losers(code)
    )


@cache
def _losers(code: str) -> tuple[str, ...]:
    """The codes ``code`` supersedes, directly or through another code."""
    return tuple(
        other for other in catalogue.all_codes() if code in winners(other)
    )


def about(finding: Finding) -> frozenset[Span]:
    """The calls (and nodes) of this file ``finding`` is about."""
    spans = {finding.span}
    detail = finding.detail
    if isinstance(detail, JoinDetail) and detail.join_span and not detail.join_path:
        spans.add(detail.join_span)
    elif isinstance(detail, AllowJoinDetail):
        spans.update(detail.joins)
    return frozenset(spans)


def kept(findings: Iterable[Finding], config: Config) -> list[Finding]:
    """``findings`` (of every code that :func:`runs`) without those a finding of a
    superseding code describes, and without those of codes not enabled."""
    found = list(findings)
    calls: dict[str, set[Span]] = {}
    for finding in found:
        calls.setdefault(finding.code, set()).update(about(finding))
    result: list[Finding] = []
    for finding in found:
        if not config.enabled(finding.code):
            continue  # ran only as a winner
        mine = about(finding)
        beaten = any(
            not mine.isdisjoint(calls.get(winner, ()))
            and not _shown_anyway(config, finding.code, winner)
            for winner in winners(finding.code)
        )
        if not beaten:
            result.append(finding)
    return result
