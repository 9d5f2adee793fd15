"""The normalised tag index (``bundle_tags``) behind the exact ``tag``/``platform`` filters.

A bundle's tags live in its JSON columns (``tasks[*].tags``, ``support_tags``); matching
their text with ``LIKE`` also hits task names, docs and longer tags. So each tag is also
stored as its own row, trimmed and lower-cased, rewritten with the bundle in the same
transaction (:func:`sync_bundle_tags`); the migration that added the index filled it in
for the bundles already stored (``migrations/versions/v0003_bundle_tags.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry.models import BundleTag, CodeBundle

__all__ = [
    "bundle_tag_pairs",
    "normalise_tag",
    "sync_bundle_tags",
]


def normalise_tag(tag: str) -> str:
    """The stored and compared form: surrounding spaces dropped, lower case."""
    return tag.strip().lower()


def bundle_tag_pairs(support_tags: Any, tasks: Any) -> set[tuple[str, str]]:
    """``(kind, tag)`` pairs of a bundle's JSON columns, normalised, blanks dropped.

    Tolerates whatever an older version stored (``None``, non-string entries).
    """
    pairs: set[tuple[str, str]] = set()
    for task in tasks if isinstance(tasks, list) else []:
        task_tags = task.get("tags") if isinstance(task, dict) else None
        pairs.update(("task", tag) for tag in _normalised(task_tags))
    pairs.update(("support", tag) for tag in _normalised(support_tags))
    return pairs


def _normalised(tags: Any) -> Iterable[str]:
    if not isinstance(tags, list):
        return ()
    return (normal for tag in tags if isinstance(tag, str) and (normal := normalise_tag(tag)))


def sync_bundle_tags(bundle: CodeBundle) -> None:
    """Make ``bundle.tag_rows`` match its JSON columns: add the new, delete the stale."""
    wanted = bundle_tag_pairs(bundle.support_tags, bundle.tasks)
    current = {(row.kind, row.tag): row for row in bundle.tag_rows}
    for key, row in current.items():
        if key not in wanted:
            bundle.tag_rows.remove(row)  # delete-orphan: the row is deleted at flush
    for kind, tag in sorted(wanted - current.keys()):
        bundle.tag_rows.append(BundleTag(kind=kind, tag=tag))
