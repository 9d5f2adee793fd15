"""What hostile registry input costs now, against the unbounded way in the same run.

    .venv/bin/python benchmarks/registry_hostile.py          # the full run
    .venv/bin/python benchmarks/registry_hostile.py --tiny   # every row at a tiny size

1. ``collections.yaml`` of 10,000 entries: ``yaml.safe_load`` (pure Python, what the
   registry used) vs ``load_collections`` (bounded, libyaml); 100,000 entries are refused.
2. A "billion laughs" ``meta.yaml``: expanding 9**6 strings with ``json.dumps`` (what the
   sync did, inside its write lock) vs refusing the 9**10 one.
3. The HTTP API: a 990-word search run without the bounds (straight through the query
   function) vs the costliest accepted search, and ``/health`` p50 idle vs under four
   clients sending that search (uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "registry" / "tests"))

from api_support import serving
from registry import query
from registry.api import create_app
from registry.config import load_settings
from registry.db import session_scope
from registry.parsing import META_LIMITS
from registry.safeyaml import YamlInputError, load_yaml
from registry.samples import generate_sample_collections
from registry.service import run_in_process
from registry.sources import load_collections
from sqlalchemy import func, select


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def entries(count: int) -> str:
    return "codecollections:\n" + "".join(
        f"- name: Collection {i}\n  slug: c{i}\n  git_url: https://git.example.com/c{i}.git\n"
        f"  git_ref: main\n  owner: team-{i % 7}\n  description: bundles of team {i % 7}\n"
        for i in range(count)
    )


def laughs(levels: int) -> str:
    lines = ["l0: &l0 [" + ",".join(["lol"] * 9) + "]"]
    lines += [f"l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def yaml_costs(tmp: Path, count: int = 10_000, laughs_levels: int = 6) -> None:
    path = tmp / "collections.yaml"
    path.write_text(entries(count))
    pure = timed(lambda: yaml.safe_load(path.read_text()))
    ours = timed(lambda: load_collections(path))
    print(f"{count:,} entries ({path.stat().st_size / 1e6:.1f} MB): safe_load {pure:.2f} s, "
          f"load_collections {ours:.2f} s, ratio {pure / ours:.1f}x")
    path.write_text(entries(100_000))
    refused = timed(lambda: load_collections(path))
    print(f"100,000 entries ({path.stat().st_size / 1e6:.1f} MB): refused in {refused:.2f} s "
          f"({load_collections(path).errors[0].message[:60]}...)")
    naive = timed(lambda: json.dumps(yaml.safe_load(laughs(laughs_levels))))
    text = laughs(9)

    def refuse() -> None:
        try:
            load_yaml(text, META_LIMITS)
        except YamlInputError:
            return
        raise AssertionError("the laughs were not refused")

    refusal = timed(refuse)
    print(f"billion laughs: json.dumps of 9**{laughs_levels} strings {naive:.2f} s; "
          f"the {len(text)}-byte 9**10 file refused in {refusal * 1000:.1f} ms")


def api_costs(tmp: Path, size: tuple[int, int] = (6, 8), requests: int = 500,
              samples_per_p50: int = 30, word_count: int = 990) -> None:
    settings = load_settings(environ={}, home=str(tmp / "home"))
    samples = generate_sample_collections(tmp / "samples", collections=size[0],
                                          bundles_per_collection=size[1])
    run_in_process(settings.db_url, samples, settings.workdir)
    words = " ".join(f"w{i}" for i in range(word_count))
    costly = " ".join(f"zz{i}" for i in range(query.MAX_SEARCH_WORDS))
    with session_scope(settings.db_url) as session:
        def search(text: str) -> None:
            # the query list_bundles runs, without its limits on the words (checked first)
            base, _ = query._matching(session, tag=None, platform=None, access_level=None,
                                      collection=None, search=text)
            session.scalar(select(func.count()).select_from(base.subquery()))

        rounds = 3 if samples_per_p50 > 5 else 1
        unbounded = min(timed(lambda: search(words)) for _ in range(rounds))
        bounded = min(timed(lambda: search(costly)) for _ in range(rounds))
    print(f"search: {word_count} words {unbounded * 1000:.0f} ms unbounded; the costliest accepted "
          f"({query.MAX_SEARCH_WORDS} words) {bounded * 1000:.1f} ms, "
          f"ratio {unbounded / bounded:.0f}x")
    params = {"search": costly, "tag": [f"t{i}" for i in range(query.MAX_TAG_FILTERS)]}
    with serving(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as http:
        def health() -> float:
            return timed(lambda: http.get("/health").raise_for_status())

        idle = statistics.median(health() for _ in range(samples_per_p50))
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=url, timeout=60) as own:
                for _ in range(requests):
                    if stop.is_set():
                        return
                    own.get("/bundles", params=params).raise_for_status()

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        loaded = statistics.median(health() for _ in range(samples_per_p50))
        stop.set()
        for thread in threads:
            thread.join()
    print(f"/health p50: idle {idle * 1000:.1f} ms, under 4 clients of the costliest search "
          f"{loaded * 1000:.1f} ms, ratio {loaded / idle:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="every row at a tiny size (keeps the script working; figures mean"
                        " nothing)")
    tiny = parser.parse_args().tiny
    with tempfile.TemporaryDirectory() as folder:
        if tiny:
            yaml_costs(Path(folder), count=1_000, laughs_levels=4)
            api_costs(Path(folder), size=(1, 2), requests=5, samples_per_p50=3, word_count=99)
        else:
            yaml_costs(Path(folder))
            api_costs(Path(folder))


if __name__ == "__main__":
    main()
