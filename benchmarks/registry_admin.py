"""What an admin request costs next to the run it starts: the request only sends.

    python benchmarks/registry_admin.py [--sizes 1x2,6x8] [--requests 20]

For each size N collections x M bundles, in a fresh registry (embedded broker) and a
process of its own (the Celery app reads its configuration when imported):

- one ``POST /admin/sync`` with 2 worker processes (``--workers``) running, timed until
  ``GET /runs/{id}`` says finished (the client's clock): the first run, which stores and
  enhances every bundle;
- then, the workers stopped, ``POST /admin/sync`` ``--requests`` times (FastAPI's
  ``TestClient``: the app's whole handling, auth, validation, the run record and the
  send, without a network): p50 and p95 of the request time, each run left queued.

The request must not grow with the work (nothing runs inside it): it reads
collections.yaml and validates a workflow with one step per collection, the run does
everything else.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOKEN = "benchmark-admin-token"


def _child(size: str, requests: int, workers: int) -> dict[str, Any]:
    """One size, in this process: its environment was set by the parent."""
    from fastapi.testclient import TestClient
    from registry.api import create_app
    from registry.config import load_settings
    from registry.samples import generate_sample_collections
    from registry.workers import LocalWorkers

    collections, bundles = (int(part) for part in size.split("x"))
    settings = load_settings()
    generate_sample_collections(settings.home, collections=collections,
                                bundles_per_collection=bundles)
    client = TestClient(create_app(settings))
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def post() -> tuple[str, float]:
        started = time.perf_counter()
        response = client.post("/admin/sync", headers=auth)
        elapsed = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"POST /admin/sync: {response.status_code} {response.text}")
        return str(response.json()["run_id"]), elapsed

    def wait(run_id: str) -> dict[str, Any]:
        while True:
            run: dict[str, Any] = client.get(f"/runs/{run_id}").json()
            if run["status"] != "running":
                return run
            time.sleep(0.05)

    # Import the Celery side and warm the app up with a request that sends nothing.
    client.post("/admin/collections/no-such-collection/sync", headers=auth)
    with LocalWorkers(workers):  # the first run: every bundle stored and enhanced
        one_started = time.perf_counter()
        run_id, _ = post()
        finished = wait(run_id)
        one_run = time.perf_counter() - one_started
    if finished["status"] != "finished":
        raise RuntimeError(f"the timed run ended {finished['status']}: {finished['errors']}")
    # No worker from here on: the requests below only queue their runs.
    seconds = sorted(post()[1] for _ in range(requests))
    return {
        "size": size, "requests": requests,
        "p50_ms": statistics.median(seconds) * 1000,
        "p95_ms": seconds[max(0, round(0.95 * len(seconds)) - 1)] * 1000,
        "one_run_s": one_run,
        "steps": finished["progress"]["total"], "enhanced": finished["result"]["enhanced"],
    }


def _measure(size: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    home = scratch / size
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update({"REGISTRY_HOME": str(home), "REGISTRY_DB_URL": f"sqlite:///{home}/registry.db",
                "REGISTRY_ADMIN_TOKEN": TOKEN, "REGISTRY_ENHANCER": "local"})
    done = subprocess.run(
        [sys.executable, __file__, "--child", size, "--requests", str(args.requests),
         "--workers", str(args.workers)],
        env=env, cwd=scratch, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"size {size} failed:\n{done.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1x2,6x8",
                        help="comma-separated NxM: N collections x M bundles each")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per size")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.requests, args.workers)))
        return 0
    print(f"admin API: one run of POST /admin/sync on {args.workers} worker processes, then "
          f"{args.requests} requests with no worker running (embedded broker)")
    print(f"  {'size':<6} {'request p50 ms':>15} {'p95 ms':>7} {'run s':>7} {'steps':>6} "
          f"{'enhanced':>9} {'p50/run':>8}")
    with tempfile.TemporaryDirectory(prefix="registry-admin-bench-") as tmp:
        for size in args.sizes.split(","):
            row = _measure(size.strip(), args, Path(tmp))
            ratio = row["p50_ms"] / 1000 / row["one_run_s"]
            print(f"  {row['size']:<6} {row['p50_ms']:>15.1f} {row['p95_ms']:>7.1f} "
                  f"{row['one_run_s']:>7.2f} {row['steps']:>6} {row['enhanced']:>9} "
                  f"{ratio:>8.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
