"""Full-text search over bundles: ranked, stemmed, on SQLite (FTS5) and PostgreSQL.

Each bundle has one :class:`~registry.models.BundleSearch` row, the text a person
searches for split into weighted fields (name; platforms; tags; description and docs;
task names and docs), rewritten with the bundle in the same transaction
(:func:`sync_bundle_search`). The database keeps its own index of that row with triggers
made by the revision ``0009_bundle_search``: an FTS5 table ``bundle_search_fts``
(Porter stemming, ranked with BM25) on SQLite, a ``tsvector`` table of the same name
(English stemming, ``ts_rank``) on PostgreSQL.

A query of up to :data:`ALL_WORDS_UP_TO` words needs every word; a longer one (a
question: "how do I restart a crashing pod") is ranked by any of its words, common
words dropped. :func:`match` answers ``(bundle_id, rank)`` rows, lower rank first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, select, text
from sqlalchemy.orm import Session

from registry.models import BundleSearch, BundleTag, CodeBundle

__all__ = [
    "ALL_WORDS_UP_TO",
    "FIELDS",
    "STOP_WORDS",
    "SearchQuery",
    "match",
    "parse_query",
    "search_fields",
    "suggest_words",
    "sync_bundle_search",
]

#: Queries of at most this many words need them all; longer ones are ranked any-word.
ALL_WORDS_UP_TO = 3
#: The indexed fields, most telling first, with their BM25 weights on SQLite (the
#: PostgreSQL revision gives them the weights A, B, B, C, D in the same order).
FIELDS = {"name": 10.0, "platforms": 6.0, "tags": 4.0, "description": 2.0, "tasks": 1.0}
#: Words too common to rank by in a longer, any-word query (PostgreSQL's English
#: configuration drops its own list in every query).
_STOP = ("a an and are as at be by can do does for from how i in is it me my of on or "
         "should the this to what when where which why with you your")
STOP_WORDS = frozenset(_STOP.split(" "))
#: What a word is: letters and digits (``_`` and punctuation separate words, as in
#: both databases' tokenisers).
_WORD = re.compile(r"[^\W_]+")


def search_fields(
    *, slug: str | None, display_name: str | None, description: str | None,
    doc: str | None, support_tags: Any, tasks: Any,
) -> dict[str, str]:
    """A bundle's searchable text by field; tolerates what older versions stored."""
    task_text, tags = [], []
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict):
            continue
        task_text += [str(task.get("name") or ""), str(task.get("doc") or "")]
        task_tags = task.get("tags")
        tags += [t for t in task_tags if isinstance(t, str)] if isinstance(task_tags, list) else []
    platforms = support_tags if isinstance(support_tags, list) else []
    return {
        # Slugs are words joined by hyphens: index the words.
        "name": f"{display_name or ''} {(slug or '').replace('-', ' ')}",
        "platforms": " ".join(p for p in platforms if isinstance(p, str)),
        "tags": " ".join(tags),
        "description": f"{description or ''}\n{doc or ''}",
        "tasks": "\n".join(task_text),
    }


def sync_bundle_search(bundle: CodeBundle) -> None:
    """Make the bundle's search row match its fields (the database's triggers index it)."""
    fields = search_fields(
        slug=bundle.slug, display_name=bundle.display_name, description=bundle.description,
        doc=bundle.doc, support_tags=bundle.support_tags, tasks=bundle.tasks)
    if bundle.search_row is None:
        bundle.search_row = BundleSearch(**fields)
    else:
        for name, value in fields.items():
            setattr(bundle.search_row, name, value)


@dataclass(frozen=True)
class SearchQuery:
    """The words of a query, and whether a bundle needs all of them (``every``)."""

    words: tuple[str, ...]
    every: bool

    def any_word(self) -> SearchQuery:
        """The same words, ranked by any of them (common words dropped when others remain)."""
        kept = tuple(w for w in self.words if w not in STOP_WORDS) or self.words
        return SearchQuery(kept, every=False)


def parse_query(raw: str) -> SearchQuery | None:
    """The query's words, lower-cased (``None``: no word at all, only punctuation)."""
    words = tuple(dict.fromkeys(w.lower() for w in _WORD.findall(raw)))
    if not words:
        return None
    wanted = SearchQuery(words, every=True)
    return wanted if len(words) <= ALL_WORDS_UP_TO else wanted.any_word()


def match(session: Session, wanted: SearchQuery) -> Any:
    """A subquery of ``(bundle_id, rank)``: the bundles matching, lower rank better."""
    joiner = " AND " if wanted.every else " OR "
    if session.get_bind().dialect.name == "postgresql":
        # websearch_to_tsquery never refuses its input; "or" is its any-word operator.
        statement = text(
            "SELECT f.bundle_id AS bundle_id, -ts_rank(f.document, q.query) AS rank "
            "FROM bundle_search_fts AS f, "
            "websearch_to_tsquery('english', :terms) AS q(query) "
            "WHERE f.document @@ q.query"
        ).bindparams(terms=(" " if wanted.every else " or ").join(wanted.words))
    else:
        weights = ", ".join(str(w) for w in FIELDS.values())
        # Each word quoted: FTS5 reads it as a plain term, never as its query syntax.
        statement = text(
            f"SELECT rowid AS bundle_id, bm25(bundle_search_fts, {weights}) AS rank "
            "FROM bundle_search_fts WHERE bundle_search_fts MATCH :terms"
        ).bindparams(terms=joiner.join(f'"{w}"' for w in wanted.words))
    return statement.columns(bundle_id=Integer, rank=Float).subquery("matched")


def suggest_words(session: Session, words: Iterable[str]) -> list[str]:
    """Each word replaced by the closest word the registry knows (names, platforms, tags),
    or kept; an empty list when no word has a close replacement."""
    known: set[str] = set()
    for (tag,) in session.execute(select(BundleTag.tag).distinct()):
        known.update(_WORD.findall(tag))
    for slug, name in session.execute(select(CodeBundle.slug, CodeBundle.display_name)):
        known.update(_WORD.findall(f"{slug} {name}".lower()))
    changed, suggestion = False, []
    for word in words:
        close = [] if word in known else difflib.get_close_matches(word, known, n=1, cutoff=0.7)
        changed = changed or bool(close)
        suggestion.append(close[0] if close else word)
    return suggestion if changed else []
