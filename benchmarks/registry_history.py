"""What the registry's git-history reads cost, against what a sync already does, same run.

    .venv/bin/python benchmarks/registry_history.py [--bundles 100] [--commits 2000]
    .venv/bin/python benchmarks/registry_history.py --repo PATH   # a real collection

One repository (built with ``git fast-import``: ``--bundles`` bundles, then ``--commits``
commits each adding a task to one bundle, a day apart; or a clone of ``--repo``) is
read six ways:

1. ``parse_collection`` of its checkout: what every sync already pays (the baseline);
2. ``bundle_last_commits``: what recording each bundle's last commit date adds to a sync;
3. ``task_growth``: one analytics map task (first-parent walk, every robot version parsed);
4. ``git log --raw`` alone: the walk's git floor;
5. ``task_growth`` resumed from the state of ``HEAD~10`` (a re-run after 10 new commits);
6. ``task_growth`` resumed from the state of ``HEAD`` (a re-run with nothing new).

Then ``GET /analytics`` (the page anyone may load) for a stored report of 37,493 months
(a commit of the year 5138, stored before months were capped) against one of 12 months.

Printed as medians and ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from registry import history
from registry.gitsync import git_env
from registry.parsing import parse_collection
from registry.samples import TEMPLATES, render_robot

START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def _runbook(bundle: int, tasks: int) -> bytes:
    task_type = type(TEMPLATES[0].runbook[0])
    names = [task_type(name=f"Task {bundle}-{n}", doc="Checks.", tags=("access:read-only",))
             for n in range(tasks)]
    return render_robot(doc="Bench bundle.", author="bench", display_name=f"Bundle {bundle}",
                        supports="Kubernetes", tasks=names, variables=[]).encode()


def build_repo(path: Path, bundles: int, commits: int) -> None:
    """``bundles`` bundles in one commit, then ``commits`` commits of one new task each."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)], check=True,
                   env=git_env())
    tasks = [1] * bundles
    stream: list[bytes] = []

    def commit(index: int, changed: list[int]) -> None:
        when = int((START + dt.timedelta(days=index)).timestamp())
        message = f"commit {index}".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        stream.append(b"data %d\n%s\n" % (len(message), message))
        for bundle in changed:
            body = _runbook(bundle, tasks[bundle])
            stream.append(f"M 100644 inline codebundles/b{bundle:04d}/runbook.robot\n"
                          .encode())
            stream.append(b"data %d\n%s\n" % (len(body), body))

    commit(0, list(range(bundles)))
    for index in range(1, commits + 1):
        bundle = (index * 7919) % bundles  # a fixed spread over the bundles
        tasks[bundle] += 1
        commit(index, [bundle])
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream),
                   check=True, env=git_env())
    subprocess.run(["git", "checkout", "--quiet", "main"], cwd=path, check=True, env=git_env())


def median_seconds(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=100)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--repo", type=Path, help="a collection's git repository (cloned)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="registry-history-") as scratch:
        repo = Path(scratch) / "repo"
        started = time.perf_counter()
        if args.repo:
            subprocess.run(["git", "-c", "protocol.file.allow=always", "clone", "--quiet",
                            str(args.repo), str(repo)], check=True,
                           env=git_env())
        else:
            build_repo(repo, args.bundles, args.commits)
        unbounded = history.WalkBudget(commits=10**9, bytes=10**15, seconds=1e9)
        growth = history.task_growth(repo, budget=unbounded)
        total = sum(c.added - c.removed for c in growth.months.values())
        parsed = parse_collection(repo)
        print(f"repository: {args.repo or 'generated'}, {len(parsed.bundles)} bundles, "
              f"{growth.commits} commits changing a robot file, {len(growth.months)} months "
              f"(made in {time.perf_counter() - started:.2f} s); median of {args.repeat}")
        stored = sum(len(bundle.tasks) for bundle in parsed.bundles)
        print(f"tasks: {total} by the history walk, {stored} in the bundles parsed at HEAD "
              f"({len(parsed.errors)} bundle(s) refused); {growth.unreadable} unreadable "
              "version(s)")
        if not args.repo:
            assert growth.commits == args.commits + 1 and growth.unreadable == 0
            assert total == stored == args.bundles + args.commits, total
        floor = ["git", "log", "--reverse", "--first-parent", "--raw", "-z", "HEAD"]
        behind = (history.task_growth(repo, "HEAD~10", budget=unbounded).state
                  if growth.commits > 10 else None)
        head = growth.state
        rows = [
            ("parse_collection (a sync's parse)", lambda: parse_collection(repo)),
            ("bundle_last_commits (freshness)", lambda: history.bundle_last_commits(repo)),
            ("task_growth (one analytics map)", lambda: history.task_growth(
                repo, budget=unbounded)),
            ("git log --raw alone (walk floor)", lambda: subprocess.run(
                floor, cwd=repo, capture_output=True, check=True, env=git_env())),
            ("task_growth resumed, 10 new commits", lambda: history.task_growth(
                repo, since=behind)),
            ("task_growth resumed, nothing new", lambda: history.task_growth(
                repo, since=head)),
        ]
        timings = {label: median_seconds(call, args.repeat) for label, call in rows}
    base = timings[rows[0][0]]
    for label, seconds in timings.items():
        print(f"  {label:<36} {seconds * 1000:9.1f} ms  {seconds / base:6.2f}x the parse")
    walk, floor_s = timings[rows[2][0]], timings[rows[3][0]]
    print(f"task_growth is {walk / floor_s:.1f}x its git floor; "
          f"{walk / max(growth.commits, 1) * 1e6:.0f} us per commit")
    ten, none = timings[rows[4][0]], timings[rows[5][0]]
    print(f"a re-run after 10 new commits costs {ten / walk:.3f}x the full walk "
          f"({ten * 1e6 / 10:.0f} us per new commit); with nothing new {none / walk:.3f}x")
    page(args.repeat)
    return 0


def page(repeat: int) -> None:
    """``GET /analytics`` of a report of 37,493 months, uncapped (as before) and capped,
    against one of 12 months (same run)."""
    from fastapi.testclient import TestClient
    from registry import analytics
    from registry.api import create_app
    from registry.db import create_schema, make_engine, session_scope

    def cost(months: int, cap: int) -> tuple[float, int]:
        with tempfile.TemporaryDirectory(prefix="registry-analytics-") as scratch:
            url = f"sqlite:///{scratch}/r.db"
            create_schema(make_engine(url))
            rows = [{"month": f"{2000 + n // 12:04d}-{n % 12 + 1:02d}", "added": 1,
                     "removed": 0, "total": n + 1} for n in range(months)]
            with session_scope(url) as session:
                analytics.save_report(session, {"months": rows, "collections": [],
                                                "errors": [], "added": months, "removed": 0,
                                                "total": months})
            client = TestClient(create_app(url))
            kept, analytics.MAX_MONTHS = analytics.MAX_MONTHS, cap
            try:
                size = len(client.get("/analytics").content)
                return median_seconds(lambda: client.get("/analytics"), repeat), size
            finally:
                analytics.MAX_MONTHS = kept

    cap = analytics.MAX_MONTHS
    (small, small_size) = cost(12, cap)
    (before, before_size) = cost(37_493, 10**9)
    (after, after_size) = cost(37_493, cap)
    print(f"GET /analytics, a stored report of 12 months: {small * 1000:.1f} ms, "
          f"{small_size} bytes")
    print(f"  37,493 months uncapped (before): {before * 1000:.1f} ms, {before_size} bytes; "
          f"read as the newest {cap}: {after * 1000:.1f} ms, {after_size} bytes "
          f"({before / after:.1f}x faster, {after / small:.1f}x the 12-month page)")


if __name__ == "__main__":
    raise SystemExit(main())
