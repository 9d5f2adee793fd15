"""What a full-text search costs next to the substring search it replaced.

    python benchmarks/registry_search.py [--sizes 1000,10000] [--repeat 30]

For each size, a fresh SQLite registry of that many bundles (words drawn from a fixed
vocabulary, seeded) is written through the pipeline's own ``upsert_bundles`` (which
keeps ``bundle_search`` and, through triggers, the FTS5 index). Then each query runs
``--repeat`` times as ``query.list_bundles(search=...)`` (FTS5, ranked, a page of 20)
and as the previous release's search, every word ``LIKE '%word%'`` over six columns
(the baseline, measured in the same run): p50 of each and their ratio.
Writing cost is reported too: seconds per 1,000 bundles stored.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "registry"))

from registry import query
from registry.db import session_scope
from registry.models import CodeBundle, Collection
from registry.parsing import ParsedBundle
from registry.store import upsert_bundles
from sqlalchemy import String, cast, func, or_, select

_VOCABULARY = ("restart pod deployment namespace kubernetes replica event bucket policy "
               "vacuum analyze replication lag backup node pool alarm instance cluster cost "
               "certificate ingress dns latency queue worker memory disk cpu log trace")
WORDS = _VOCABULARY.split(" ")
QUERIES = ("restart pod", "EKS", "vacuum analyze", "how do I restart a crashing pod",
           "certificate")


def _bundle(rng: random.Random, index: int) -> ParsedBundle:
    words = [rng.choice(WORDS) for _ in range(12)]
    tasks = [{"name": " ".join(words[i:i + 3]).title(), "doc": " ".join(words[i + 3:i + 6]),
              "tags": [f"access:{rng.choice(('read-only', 'read-write'))}", words[i]],
              "kind": "runbook"} for i in (0, 6)]
    supports = rng.sample(["Kubernetes", "EKS", "GKE", "AKS", "AWS", "GCP", "Azure"], 2)
    doc = " ".join(rng.choice(WORDS) for _ in range(20))
    return ParsedBundle(
        slug=f"bundle-{index}", display_name=" ".join(words[:3]).title(), description=doc,
        doc=doc, author="bench", support_tags=supports, kinds=["runbook"], tasks=tasks,
        user_variables=[], access_level="unknown",
        content_hash=hashlib.sha256(f"{index}{words}".encode()).hexdigest())


def _like_search(url: str, search: str) -> int:
    """The previous release's search: every word somewhere, as a substring, no rank."""
    with session_scope(url) as session:
        filters = [or_(*(func.lower(column).contains(word.lower(), autoescape=True)
                         for column in (CodeBundle.slug, CodeBundle.display_name,
                                        CodeBundle.doc, CodeBundle.description,
                                        CodeBundle.author, cast(CodeBundle.tasks, String))))
                   for word in search.split()]
        base = select(CodeBundle).join(Collection).where(*filters)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        list(session.scalars(base.order_by(Collection.slug, CodeBundle.slug).limit(20)))
        return total


def _fts_search(url: str, search: str) -> int:
    with session_scope(url) as session:
        return int(query.list_bundles(session, search=search, limit=20)["total"])


def _p50(search: Callable[[str, str], int], url: str, text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        search(url, text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="registry-search-") as tmp:
            url = f"sqlite:///{tmp}/r.db"
            rng = random.Random(size)
            start = time.perf_counter()
            with session_scope(url) as session:
                session.add(Collection(slug="bench", name="Bench", git_url="file:///bench"))
                session.flush()
                upsert_bundles(session, "bench", [_bundle(rng, i) for i in range(size)])
            stored = time.perf_counter() - start
            print(f"{size} bundles: stored in {stored:.1f} s "
                  f"({stored / size * 1000:.2f} s per 1,000)")
            for text in QUERIES:
                fts = _p50(_fts_search, url, text, args.repeat)
                like = _p50(_like_search, url, text, args.repeat)
                print(f"  {text!r:36} full text {fts * 1000:7.2f} ms ({_fts_search(url, text)} "
                      f"found)  LIKE {like * 1000:7.2f} ms ({_like_search(url, text)} found)"
                      f"  ratio {fts / like:.2f}")


if __name__ == "__main__":
    main()
