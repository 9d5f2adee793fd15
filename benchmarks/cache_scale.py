"""Does a large findings cache slow down a small ``check``? This tree vs another commit.

A project of ``--entries`` empty modules (default 100,000, in folders of 1,000) plus one
small task module, ``target.py``; its findings cache is filled as ``check`` would leave it
after checking every module (the entries are copies of ``target.py``'s real entry, under
each module's path, so the cache is large, ~1 kB an entry, without analysing 100k
files). Then, after one untimed run of each tree (its bytecode written), per round and per tree,
each a fresh process (imports not timed):

- ``check target.py`` with an empty cache folder (the yardstick);
- ``check target.py`` with the large cache, ``target.py`` edited since (a miss: it is
  analysed and its entry written, as after an edit);
- the same again, unchanged (a hit).

Printed: wall and CPU seconds and the process's peak RSS, min / median of the rounds, and
each large-cache run's ratio to the empty-cache run of the same round.
The ``celery_safe`` package of ``--base`` is taken with ``git archive``, as in
``lint_versus.py``; its cache is built by its own code (its own format).

    .venv/bin/python benchmarks/cache_scale.py [--base main] [--entries 100000] [--runs 5]
        [--where var/bench]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from lint_versus import REPO, archived, run  # same folder: run as a script

TARGET = '''\
from celery import shared_task

from .helpers import wait_all


@shared_task
def fetch(i):
    return i


@shared_task
def refresh(ids):
    return wait_all([fetch.delay(i) for i in ids])
'''

HELPERS = "def wait_all(results):\n    return [r.get() for r in results]\n"

#: Fills the cache: ``target.py``'s real entry, copied under every empty module's path,
#: written by the tree's own ``FindingsCache`` at the end of the run, as ``check`` writes.
BUILD = r"""
import sys
from pathlib import Path
import celery_safe
from celery_safe.lint.cache import FindingsCache
from celery_safe.lint.config import Config
from celery_safe.lint.resolve import ModuleResolver
from celery_safe.lint.front.cli import check_file
folder, package, tree = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
assert Path(celery_safe.__file__).is_relative_to(tree), celery_safe.__file__
config = Config()
resolver = ModuleResolver(config.task_decorators, config.max_file_size)
cache = FindingsCache.for_run(config, resolver, folder, batch=True)
target = package / "target.py"
check_file(target, config, resolver, cache)
((root, entries),) = cache._pending.items()  # private: what check keeps until its end
entry = entries.pop(str(target.absolute()))
for path in sorted(package.glob("d*/m*.py")):
    entries[str(path)] = {**entry, "path": str(path)}
cache.close()
print(len(entries))
"""

#: One ``check`` of one file, after the imports: wall, CPU seconds, peak RSS (MB).
CHECK = r"""
import os, resource, sys, time
from celery_safe.cli import main
os.environ["CELERY_SAFE_CACHE_DIR"] = sys.argv[1]
wall, cpu = time.perf_counter(), time.process_time()
code = main(["check", sys.argv[2], "--output", os.devnull])
assert code == 1, code
print(time.perf_counter() - wall, time.process_time() - cpu,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def project(where: Path, count: int) -> Path:
    """``where/proj/app``: ``count`` empty modules in folders of 1,000, and the target."""
    package = where / "proj" / "app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "target.py").write_text(TARGET)
    for start in range(0, count, 1000):
        folder = package / f"d{start // 1000:03d}"
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for n in range(start, min(start + 1000, count)):
            (folder / f"m{n:06d}.py").touch()
    return package


def cache_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def summary(values: list[float], unit: str, digits: int = 3) -> str:
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--where", type=Path, default=None,
                        help="folder for the project and caches (default: the system's temp)")
    options = parser.parse_args()
    if options.where is not None:
        options.where = options.where.absolute()
        options.where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=options.where) as folder:  # mkdtemp: 0700
        where = Path(folder)
        base = where / "base"
        base.mkdir()
        archived(options.base, base)
        trees = {options.base: base, "this tree": REPO}
        package = project(where, options.entries)
        target = package / "target.py"
        large = {}
        for side, tree in trees.items():
            large[side] = where / f"cache-{len(large)}"
            (count,) = run(tree, BUILD, [str(large[side]), str(package), str(tree)])
            print(f"{side:>12}: cache of {count:.0f} entries,"
                  f" {cache_bytes(large[side]) / 1e6:.1f} MB")
        rows: dict[str, dict[str, list[list[float]]]] = {
            side: {"empty": [], "miss": [], "hit": []} for side in trees
        }
        for side, tree in trees.items():  # untimed: each tree's bytecode written first
            run(tree, CHECK, [str(where / f"warm-{len(side)}"), str(target)])
        for round_ in range(options.runs):
            for side, tree in trees.items():
                target.write_text(TARGET + f"# round {round_}\n")  # a miss for both caches
                empty = where / f"empty-{side.replace(' ', '-')}-{round_}"
                rows[side]["empty"].append(run(tree, CHECK, [str(empty), str(target)]))
                rows[side]["miss"].append(run(tree, CHECK, [str(large[side]), str(target)]))
                rows[side]["hit"].append(run(tree, CHECK, [str(large[side]), str(target)]))
        print(f"one-file check, min / median of {options.runs} rounds")
        for side in trees:
            empty = rows[side]["empty"]
            print(f"{side:>12}: empty cache: wall {summary([r[0] for r in empty], 's')},"
                  f" CPU {summary([r[1] for r in empty], 's')},"
                  f" peak RSS {summary([r[2] for r in empty], 'MB', 0)}")
            for kind in ("miss", "hit"):
                mine = rows[side][kind]
                ratios = [[a / b for a, b in zip(m, e, strict=True)]
                          for m, e in zip(mine, empty, strict=True)]  # fmt: skip
                print(
                    f"{'':>12}  large, {kind}: wall {summary([r[0] for r in mine], 's')},"
                    f" CPU {summary([r[1] for r in mine], 's')},"
                    f" peak RSS {summary([r[2] for r in mine], 'MB', 0)}"
                    f" | ratio to empty: wall {summary([r[0] for r in ratios], 'x', 2)},"
                    f" CPU {summary([r[1] for r in ratios], 'x', 2)},"
                    f" RSS {summary([r[2] for r in ratios], 'x', 2)}"
                )
        for side in trees:
            print(f"{side:>12}: large cache now {cache_bytes(large[side]) / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
