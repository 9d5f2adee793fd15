"""End-to-end time of the registry pipeline on real workers: embedded SQLite vs Redis.

    python benchmarks/registry_pipeline.py [--sizes 3x4,6x8] [--repeat 2]

For each size N collections x M bundles, on a fresh registry each time, with 2 worker processes
(``--workers``, each ``--concurrency`` pool processes), it measures:

- ``wall``: from sending the workflow to holding its summary (the client's own clock);
- ``compute``: the sum of every registry task's run time, recorded by the workers
  (``REGISTRY_TASK_TIMINGS``); Celery's ``chord_unlock`` is reported apart;
- ``wall / (compute / concurrency)``: 1.0 would be perfect parallel use of the pool;
  what is above it is messaging, polling and the steps that cannot overlap;
- ``baseline``: the same work in one process without Celery
  (``registry.service.run_in_process``), measured in the same run.

Redis is used when reachable at ``CELERY_SAFE_REDIS_URL`` (default
``redis://127.0.0.1:6379``), in the database that URL names, else database 7; otherwise
that row is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from registry.samples import generate_sample_collections
from registry.service import run_in_process
from registry.workers import LocalWorkers

_REDIS = urlparse(os.environ.get("CELERY_SAFE_REDIS_URL", "redis://127.0.0.1:6379"))
REDIS_URL = f"{_REDIS.scheme}://{_REDIS.netloc}"
REDIS_DB = int(_REDIS.path.strip("/") or 7)


def _redis_reachable() -> bool:
    parsed = urlparse(REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def _env(home: Path, broker: str | None) -> dict[str, str]:
    return {
        "REGISTRY_HOME": str(home),
        "REGISTRY_DB_URL": f"sqlite:///{home / 'registry.db'}",
        "REGISTRY_BROKER_URL": broker or "",
        "REGISTRY_RESULT_BACKEND": "",
        "REGISTRY_TASK_TIMINGS": str(home / "task-timings.tsv"),
        # A queue of its own: tests sharing this Redis database are left alone.
        "REGISTRY_QUEUE": f"registry-bench-{uuid.uuid4().hex}",
    }


def _populate(collections: Path, env: Mapping[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "registry", "populate", "--json",
         "--collections-file", str(collections), "--timeout", "300"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout
    summary: dict[str, object] = json.loads(out)
    return summary


def _task_seconds(path: Path) -> tuple[float, float, int]:
    """(registry task seconds, chord_unlock seconds, registry task count) from the log."""
    compute = unlock = 0.0
    count = 0
    for line in path.read_text().splitlines():
        name, seconds = line.split("\t")
        if name.startswith("registry."):
            compute += float(seconds)
            count += 1
        else:
            unlock += float(seconds)
    return compute, unlock, count


def measure(
    label: str, broker: str | None, args: argparse.Namespace, scratch: Path
) -> dict[str, float]:  # args.collections / args.bundles: the size being measured
    """Median figures of ``args.repeat`` fresh runs on ``broker`` (None: embedded)."""
    rows: list[dict[str, float]] = []
    for attempt in range(args.repeat):
        home = scratch / f"{label}-{args.collections}x{args.bundles}-{attempt}"
        collections = generate_sample_collections(
            home / "samples", collections=args.collections,
            bundles_per_collection=args.bundles,
        )
        env = _env(home, broker)
        with LocalWorkers(args.workers, concurrency=args.concurrency, env=env) as workers:
            summary = _populate(collections, env)
            concurrency = workers.concurrency
        compute, unlock, count = _task_seconds(Path(env["REGISTRY_TASK_TIMINGS"]))
        wall = float(summary["seconds"])  # type: ignore[arg-type]
        rows.append({
            "wall": wall, "compute": compute, "unlock": unlock, "tasks": count,
            "ratio": wall / (compute / concurrency), "enhanced": summary["enhanced"],  # type: ignore[dict-item]
        })
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def baseline(args: argparse.Namespace, scratch: Path) -> float:
    """Median seconds of the same pipeline in one process, without Celery."""
    times = []
    for attempt in range(args.repeat):
        home = scratch / f"inprocess-{args.collections}x{args.bundles}-{attempt}"
        collections = generate_sample_collections(
            home / "samples", collections=args.collections,
            bundles_per_collection=args.bundles,
        )
        summary = run_in_process(
            f"sqlite:///{home / 'registry.db'}", collections, home / "checkouts"
        )
        times.append(float(summary["compute_seconds"]))
    return statistics.median(times)


def _sizes(text: str) -> list[tuple[int, int]]:
    """``3x4,6x8`` -> [(3, 4), (6, 8)]: collections x bundles per collection."""
    sizes = []
    for item in text.split(","):
        try:
            collections, bundles = (int(part) for part in item.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"size {item!r} is not NxM, e.g. 3x4") from None
        if collections < 1 or bundles < 1:
            raise argparse.ArgumentTypeError(f"size {item!r} must be at least 1x1")
        sizes.append((collections, bundles))
    return sizes


def report(
    args: argparse.Namespace, in_process: float, results: dict[str, dict[str, float]]
) -> None:
    pool = args.workers * args.concurrency
    print(f"registry pipeline: {args.collections} collections x {args.bundles} bundles, "
          f"{args.workers} worker processes x {args.concurrency} pool process(es), "
          f"median of {args.repeat} fresh runs")
    print(f"  in-process baseline (no Celery): {in_process:.3f} s")
    print(f"  {'broker':<9} {'wall s':>7} {'tasks':>6} {'compute s':>10} "
          f"{'unlock s':>9} {'wall/(compute/' + str(pool) + ')':>20} {'wall/baseline':>14}")
    for label, row in results.items():
        print(f"  {label:<9} {row['wall']:>7.3f} {row['tasks']:>6.0f} {row['compute']:>10.3f} "
              f"{row['unlock']:>9.3f} {row['ratio']:>20.2f} {row['wall'] / in_process:>14.2f}")
    if "redis" not in results:
        print(f"  redis     skipped: not reachable at {REDIS_URL}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=_sizes("3x4,6x8"),
                        help="comma-separated NxM: N collections x M bundles each")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per worker")
    parser.add_argument("--repeat", type=int, default=2, help="fresh runs per row (median)")
    args = parser.parse_args()

    for collections, bundles in args.sizes:
        args.collections, args.bundles = collections, bundles
        with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
            scratch = Path(tmp)
            in_process = baseline(args, scratch)
            results = {"embedded": measure("embedded", None, args, scratch)}
            if _redis_reachable():
                results["redis"] = measure("redis", f"{REDIS_URL}/{REDIS_DB}", args, scratch)
        report(args, in_process, results)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
