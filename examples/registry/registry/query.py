"""Read-side queries shared by the CLI and the HTTP API; results are plain dicts."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, case, false, func, or_, select, text
from sqlalchemy.orm import Session, selectinload

from registry import search as fulltext
from registry.models import BundleTag, CodeBundle, Collection
from registry.redact import redact
from registry.tags import normalise_tag

__all__ = [
    "MAX_FILTER_CHARS",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_SEARCH_CHARS",
    "MAX_SEARCH_WORDS",
    "MAX_TAG_FILTERS",
    "SORTS",
    "QueryInputError",
    "bundle_detail",
    "bundle_summary",
    "collection_dict",
    "collection_exists",
    "facets",
    "get_bundle",
    "get_collection_info",
    "health",
    "list_bundles",
    "list_collections",
    "stats",
    "suggestions",
]

MAX_LIMIT = 200
#: Bounds on one ``list_bundles`` request: what a client may ask for is what it may cost.
MAX_OFFSET = 1_000_000
MAX_SEARCH_WORDS = 8
MAX_SEARCH_CHARS = 200
MAX_TAG_FILTERS = 10  # values of ``tag``, and of ``platform``
MAX_FILTER_CHARS = 100  # one tag, platform or collection value
ACCESS_LEVELS = ("read-only", "read-write", "unknown")
#: ``sort`` values: a key, ascending, or descending with a leading ``-``.
SORTS = ("name", "-name", "date", "-date", "tasks", "-tasks")


class QueryInputError(ValueError):
    """A query parameter was refused; ``parameter`` names it (the API answers 422)."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


def _check_text(parameter: str, value: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise QueryInputError(parameter, f"at most {max_chars} characters, got {len(value)}")
    for ch in value:
        if unicodedata.category(ch) == "Cc":
            raise QueryInputError(
                parameter, f"contains the control character U+{ord(ch):04X}; refused"
            )


def _check_filters(
    *, tag: TagFilter, platform: TagFilter, collection: str | None, search: str | None,
    limit: int, offset: int,
) -> None:
    """Refuse what the database would misread (NUL ends a LIKE pattern there) or what
    would cost more than a page's worth of work."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryInputError("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise QueryInputError("offset", f"must be between 0 and {MAX_OFFSET}, got {offset}")
    for parameter, values in (("tag", tag), ("platform", platform)):
        listed = [] if values is None else [values] if isinstance(values, str) else list(values)
        if len(listed) > MAX_TAG_FILTERS:
            raise QueryInputError(
                parameter, f"at most {MAX_TAG_FILTERS} values, got {len(listed)}"
            )
        for value in listed:
            _check_text(parameter, value, MAX_FILTER_CHARS)
    if collection is not None:
        _check_text("collection", collection, MAX_FILTER_CHARS)
    if search is not None:
        words = len(search.split())
        if words > MAX_SEARCH_WORDS:
            raise QueryInputError("search", f"at most {MAX_SEARCH_WORDS} words, got {words}")
        _check_text("search", search, MAX_SEARCH_CHARS)


def _iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes, which were stored as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.isoformat()


def collection_dict(collection: Collection, *, bundle_count: int | None = None) -> dict[str, Any]:
    return {
        "slug": collection.slug, "name": collection.name,
        "git_url": redact(collection.git_url),
        "git_ref": collection.git_ref, "owner": collection.owner,
        "owner_email": collection.owner_email, "description": collection.description,
        "status": collection.status,
        "last_error": redact(collection.last_error) if collection.last_error else None,
        "last_commit": collection.last_commit,
        "last_synced_at": _iso(collection.last_synced_at),
        "bundle_count": bundle_count if bundle_count is not None else len(collection.bundles),
    }


def effective_access_level(bundle: CodeBundle) -> str:
    """The declared level, or the enhancer's when the tags said nothing."""
    if bundle.access_level == "unknown" and bundle.ai_access_level:
        return bundle.ai_access_level
    return bundle.access_level


def bundle_summary(bundle: CodeBundle) -> dict[str, Any]:
    return {
        "id": bundle.id, "collection": bundle.collection.slug, "slug": bundle.slug,
        "display_name": bundle.display_name, "description": bundle.description,
        "author": bundle.author, "support_tags": list(bundle.support_tags or []),
        "kinds": list(bundle.kinds or []), "task_count": len(bundle.tasks or []),
        "access_level": effective_access_level(bundle),
        "enhancement_status": bundle.enhancement_status,
        "last_commit_at": _iso(bundle.last_commit_at), "source_url": bundle.source_url,
    }


def bundle_detail(bundle: CodeBundle) -> dict[str, Any]:
    return {
        **bundle_summary(bundle),
        "doc": bundle.doc, "tasks": list(bundle.tasks or []),
        "user_variables": list(bundle.user_variables or []), "readme": bundle.readme,
        "diagnostics": list(bundle.diagnostics or []),
        "meta": bundle.meta or {}, "content_hash": bundle.content_hash,
        "declared_access_level": bundle.access_level,
        "ai_description": bundle.ai_description, "ai_access_level": bundle.ai_access_level,
        "iam_hints": bundle.iam_hints, "enhanced_at": _iso(bundle.enhanced_at),
        "updated_at": _iso(bundle.updated_at),
    }


#: What the ``tag`` and ``platform`` filters accept: one value or several (all required).
TagFilter = str | Sequence[str] | None


def _tag_values(values: TagFilter) -> list[str]:
    """The normalised, non-blank values of a tag filter, duplicates dropped."""
    if values is None:
        return []
    listed = [values] if isinstance(values, str) else list(values)
    return list(dict.fromkeys(n for v in listed if (n := normalise_tag(v))))


def _has_tag(kind: str, tag: str) -> Any:
    """The bundle has exactly this (normalised) tag of this kind: an indexed lookup."""
    return CodeBundle.id.in_(
        select(BundleTag.bundle_id).where(BundleTag.kind == kind, BundleTag.tag == tag)
    )


def _bundle_filters(
    *, tag: TagFilter, platform: TagFilter, access_level: str | None, collection: str | None,
) -> list[Any]:
    filters: list[Any] = []
    if collection:
        filters.append(Collection.slug == collection)
    filters.extend(_has_tag("support", value) for value in _tag_values(platform))
    filters.extend(_has_tag("task", value) for value in _tag_values(tag))
    if access_level:
        if access_level not in ACCESS_LEVELS:
            raise ValueError(
                f"access_level must be one of {', '.join(ACCESS_LEVELS)}, got {access_level!r}"
            )
        filters.append(or_(
            CodeBundle.access_level == access_level,
            (CodeBundle.access_level == "unknown") & (CodeBundle.ai_access_level == access_level),
        ))
    return filters


def check_sort(sort: str | None) -> None:
    """Refuse a ``sort`` value that is not one of :data:`SORTS`, naming them."""
    if sort is not None and sort not in SORTS:
        raise QueryInputError(
            "sort", f"must be one of {', '.join(SORTS)}, got {sort[:40]!r}")


def _order_by(sort: str | None) -> list[Any]:
    """The ``ORDER BY`` of a sort; ties always go by collection then bundle slug (unique).

    ``name`` is the name shown (display name, else slug), case-insensitively; ``date``
    puts bundles without a known date last either way; ``tasks`` is the task count.
    """
    ties = [Collection.slug, CodeBundle.slug]
    if sort is None:
        return ties
    key = sort.removeprefix("-")
    descending = sort.startswith("-")
    if key == "name":
        shown = func.coalesce(func.nullif(CodeBundle.display_name, ""), CodeBundle.slug)
        column: Any = func.lower(shown)
        first: list[Any] = []
    elif key == "date":
        column = CodeBundle.last_commit_at
        first = [CodeBundle.last_commit_at.is_(None)]  # false (known) before true
    else:
        column = CodeBundle.task_count
        first = []
    return [*first, column.desc() if descending else column.asc(), *ties]


def _effective_level() -> Any:
    """:func:`effective_access_level` in SQL."""
    return case(
        ((CodeBundle.access_level == "unknown")
         & (func.coalesce(CodeBundle.ai_access_level, "") != ""), CodeBundle.ai_access_level),
        else_=CodeBundle.access_level)


def _matching(
    session: Session, *, tag: TagFilter, platform: TagFilter, access_level: str | None,
    collection: str | None, search: str | None, any_word: bool = False,
) -> tuple[Select[Any], Any]:
    """The filtered bundles, and the full-text match's ``(bundle_id, rank)`` (or ``None``)."""
    filters = _bundle_filters(tag=tag, platform=platform, access_level=access_level,
                              collection=collection)
    base = select(CodeBundle).join(Collection).where(*filters)
    if search is None or not search.strip():
        return base, None
    wanted = fulltext.parse_query(search)
    if wanted is None:  # punctuation only: nothing to look for, nothing found
        return base.where(false()), None
    matched = fulltext.match(session, wanted.any_word() if any_word else wanted)
    return base.join(matched, matched.c.bundle_id == CodeBundle.id), matched


def list_bundles(
    session: Session, *, tag: TagFilter = None, platform: TagFilter = None,
    access_level: str | None = None, collection: str | None = None, search: str | None = None,
    limit: int = 50, offset: int = 0, sort: str | None = None, with_facets: bool = False,
) -> dict[str, Any]:
    """Filtered, paginated bundles: ``{"total", "limit", "offset", "match", "items": [...]}``.

    ``tag`` matches a whole task tag (``access:read-only``, ``data:config``) and
    ``platform`` a whole support tag, exactly but case-insensitively (both sides trimmed
    and lower-cased), never a substring, a task name or doc text. Either may be a list:
    the bundle must then have every one.

    ``search`` is full text (:mod:`registry.search`): stemmed words over name, platforms,
    tags, description, docs and task names, best match first unless ``sort`` is given.
    Up to three words need every word (``match: "all"``); when none has them all, or the
    query is longer, any word will do, ranked (``match: "any"``).
    ``sort`` is one of :data:`SORTS` (default: by rank, else collection then bundle slug).
    ``with_facets`` adds ``facets``: see :func:`facets`.
    """
    _check_filters(tag=tag, platform=platform, collection=collection, search=search,
                   limit=limit, offset=offset)
    check_sort(sort)
    chosen: dict[str, Any] = {"tag": tag, "platform": platform, "access_level": access_level,
                              "collection": collection, "search": search}
    base, matched = _matching(session, **chosen)
    total = _count(session, base)
    mode = None
    if matched is not None:
        mode = "all"
        wanted = fulltext.parse_query(search or "")
        if total == 0 and wanted is not None and wanted.every and len(wanted.words) > 1:
            base, matched = _matching(session, **chosen, any_word=True)
            total, mode = _count(session, base), "any"
        elif wanted is not None and not wanted.every:
            mode = "any"
    order = _order_by(sort)
    if matched is not None and sort is None:
        order = [matched.c.rank, *order]
    rows = session.scalars(
        base.options(selectinload(CodeBundle.collection)).order_by(*order)
        .limit(limit).offset(offset)
    )
    found: dict[str, Any] = {"total": total, "limit": limit, "offset": offset, "sort": sort,
                             "match": mode, "items": [bundle_summary(b) for b in rows]}
    if with_facets:
        found["facets"] = facets(session, base)
    return found


def _count(session: Session, base: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(base.subquery())) or 0


#: At most this many values of each facet, the most frequent first.
FACET_VALUES = 12


def facets(session: Session, base: Select[Any]) -> dict[str, list[tuple[str, int]]]:
    """Counts of the bundles ``base`` selects by platform, tag, access level and
    collection: ``{"platform": [(value, count), ...], ...}``, most frequent first."""
    ids = base.with_only_columns(CodeBundle.id).scalar_subquery()

    def tag_counts(kind: str) -> list[tuple[str, int]]:
        count = func.count()
        return [(value, n) for value, n in session.execute(
            select(BundleTag.tag, count)
            .where(BundleTag.kind == kind, BundleTag.bundle_id.in_(ids))
            .group_by(BundleTag.tag).order_by(count.desc(), BundleTag.tag).limit(FACET_VALUES))]

    def column_counts(column: Any) -> list[tuple[str, int]]:
        count = func.count()
        return [(str(value), n) for value, n in session.execute(
            select(column, count).select_from(CodeBundle).join(Collection)
            .where(CodeBundle.id.in_(ids))
            .group_by(column).order_by(count.desc(), column).limit(FACET_VALUES))]

    return {"platform": tag_counts("support"), "tag": tag_counts("task"),
            "access_level": column_counts(_effective_level()),
            "collection": column_counts(Collection.slug)}


def suggestions(session: Session, search: str) -> list[str]:
    """Queries to try instead of ``search`` when it found nothing: each word replaced by
    the closest word the registry knows, when there is one."""
    wanted = fulltext.parse_query(search)
    if wanted is None:
        return []
    close = fulltext.suggest_words(session, wanted.words)
    return [" ".join(close)] if close else []


def get_bundle(session: Session, collection_slug: str, bundle_slug: str) -> dict[str, Any] | None:
    bundle = session.scalar(
        select(CodeBundle).join(Collection)
        .where(Collection.slug == collection_slug, CodeBundle.slug == bundle_slug)
    )
    return bundle_detail(bundle) if bundle is not None else None


def list_collections(session: Session) -> list[dict[str, Any]]:
    counts = dict(session.execute(
        select(CodeBundle.collection_id, func.count()).group_by(CodeBundle.collection_id)
    ).all())
    return [collection_dict(c, bundle_count=counts.get(c.id, 0))
            for c in session.scalars(select(Collection).order_by(Collection.slug))]


def collection_exists(session: Session, slug: str) -> bool:
    return session.scalar(select(Collection.id).where(Collection.slug == slug)) is not None


def get_collection_info(session: Session, slug: str) -> dict[str, Any] | None:
    collection = session.scalar(select(Collection).where(Collection.slug == slug))
    if collection is None:
        return None
    info = collection_dict(collection)
    info["bundles"] = [bundle_summary(b) for b in collection.bundles]
    return info


def stats(session: Session) -> dict[str, int]:
    """Counts for the summary: collections, bundles, tasks, enhanced, failed, pending."""
    by_status = dict(session.execute(
        select(CodeBundle.enhancement_status, func.count()).group_by(CodeBundle.enhancement_status)
    ).all())
    task_lists = session.scalars(select(CodeBundle.tasks))
    return {
        "collections": session.scalar(select(func.count()).select_from(Collection)) or 0,
        "collections_with_errors": session.scalar(
            select(func.count()).select_from(Collection)
            .where(Collection.status.in_(("error", "partial")))
        ) or 0,
        "bundles": sum(by_status.values()),
        "tasks": sum(len(tasks or []) for tasks in task_lists),
        "enhanced": by_status.get("completed", 0),
        "failed": by_status.get("failed", 0),
        "pending": by_status.get("pending", 0),
    }


def health(session: Session) -> dict[str, Any]:
    """Database reachability and freshness; ``status`` is ``ok``, ``degraded`` or ``error``."""
    try:
        session.execute(text("SELECT 1"))
        return _health(session)
    except Exception as exc:  # report, don't raise: health must answer
        return {"status": "error", "database": f"unreachable: {type(exc).__name__}: {exc}"}


def _health(session: Session) -> dict[str, Any]:
    counts = stats(session)
    last_sync = session.scalar(select(func.max(Collection.last_synced_at)))
    errors = [
        {"collection": slug, "error": redact(error) if error else error}
        for slug, error in session.execute(
            select(Collection.slug, Collection.last_error)
            .where(Collection.status.in_(("error", "partial"))).order_by(Collection.slug)
        ).all()
    ]
    return {
        "status": "degraded" if errors or counts["failed"] else "ok",
        "database": "ok",
        "last_synced_at": _iso(last_sync),
        "collection_errors": errors,
        **{k: counts[k] for k in ("collections", "bundles", "pending", "failed")},
    }
