"""``python -m registry``: the demo, the pipeline, the queries, the API and the workers.

    python -m registry demo                      # sample data, 2 workers, full run, summary
    python -m registry populate --broker redis://localhost:6379/0
    python -m registry list --platform Kubernetes --access-level read-write
    python -m registry show k8s-collection/k8s-namespace-health
    python -m registry list --sort -date         # most recently changed bundles first
    python -m registry analytics --workers 2     # task growth per month (a map_reduce)
    python -m registry serve                     # web pages and JSON API on :8000
    python -m registry run collection k8s-collection --wait   # an operator's action

Options that choose *where* (``--home``, ``--db``, ``--broker``, ``--result-backend``)
are exported as ``REGISTRY_*`` environment variables before the Celery app is imported,
so this process and every worker it starts agree on one configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from registry.config import Settings, UnsafeHomeError, load_settings, private_home

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "main", "web_url"]

#: Where ``python -m registry serve`` listens unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def web_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """The home page's URL for ``serve --host HOST --port PORT``."""
    return f"http://{host}:{port}/"

_ENV_OPTIONS = {
    "home": "REGISTRY_HOME",
    "db": "REGISTRY_DB_URL",
    "broker": "REGISTRY_BROKER_URL",
    "result_backend": "REGISTRY_RESULT_BACKEND",
}


def _where_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("where")
    group.add_argument("--home", help="data folder (env REGISTRY_HOME, default ./var/registry)")
    group.add_argument("--db", help="SQLAlchemy database URL (env REGISTRY_DB_URL)")
    group.add_argument(
        "--broker",
        help="broker URL, e.g. redis://localhost:6379/0 (env REGISTRY_BROKER_URL; "
        "default: the embedded SQLite broker under HOME/celery)",
    )
    group.add_argument(
        "--result-backend", help="result backend URL (default: the broker's Redis)"
    )
    return parent


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``low`` (a count of things)."""

    def parse(text: str) -> int:
        value = int(text)  # not a number: argparse says "invalid integer value"
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _port(text: str) -> int:
    """An argparse type: a TCP port (0: any free one)."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 0-65535, got {value}")
    return value


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    where = _where_options()
    parser = argparse.ArgumentParser(
        prog="python -m registry", description="A CodeBundle registry built on celery-safe."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    demo = verbs.add_parser(
        "demo", parents=[where], help="sample data, worker processes, the whole pipeline"
    )
    demo.add_argument("--collections", type=_at_least(1), default=3)
    demo.add_argument("--bundles", type=_at_least(1), default=4, help="bundles per collection")
    demo.add_argument("--workers", type=_at_least(1), default=2, help="worker processes to start")
    demo.add_argument("--bad-inputs", action="store_true", help="add every kind of bad input")
    demo.add_argument(
        "--keep", action="store_true",
        help="keep the previous demo's data (the run then shows an idempotent re-run)",
    )
    demo.add_argument("--timeout", type=_seconds, default=120.0)

    init = verbs.add_parser("init", parents=[where], help="create the schema and sample data")
    init.add_argument("--collections", type=_at_least(1), default=3)
    init.add_argument("--bundles", type=_at_least(1), default=4, help="bundles per collection")
    init.add_argument("--bad-inputs", action="store_true")

    populate = verbs.add_parser(
        "populate", parents=[where], help="run the pipeline on running workers"
    )
    populate.add_argument(
        "--collections-file", type=Path, help="default: HOME/collections.yaml"
    )
    populate.add_argument(
        "--workers", type=_at_least(0), default=0,
        help="also start this many local worker processes for the run (default: none; "
        "start them with `python -m registry worker`)",
    )
    populate.add_argument("--timeout", type=_seconds, default=600.0)
    populate.add_argument("--json", action="store_true", help="print the summary as JSON")

    listing = verbs.add_parser("list", parents=[where], help="list and search bundles")
    listing.add_argument(
        "--tag", action="append",
        help="a whole task tag, case-insensitive; repeat to require several",
    )
    listing.add_argument(
        "--platform", action="append",
        help="a whole 'Metadata Supports' entry, case-insensitive; repeat to require several",
    )
    listing.add_argument("--access-level", choices=["read-only", "read-write", "unknown"])
    listing.add_argument("--collection")
    listing.add_argument("--search")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument(
        "--sort", help="name, date (last commit) or tasks; a leading - reverses "
        "(default: by collection, then bundle)",
    )
    listing.add_argument("--json", action="store_true")

    growth = verbs.add_parser(
        "analytics", parents=[where],
        help="task growth per month across collections, from their git history",
    )
    growth.add_argument(
        "--in-process", action="store_true",
        help="run the workflow in this process (celery_safe's run_workflow), no workers",
    )
    growth.add_argument(
        "--workers", type=_at_least(0), default=0,
        help="also start this many local worker processes for the run",
    )
    growth.add_argument("--timeout", type=_seconds, default=600.0)
    growth.add_argument("--json", action="store_true", help="print the report as JSON")

    show = verbs.add_parser("show", parents=[where], help="one bundle: COLLECTION/BUNDLE")
    show.add_argument("ref", metavar="COLLECTION/BUNDLE")
    show.add_argument("--json", action="store_true")

    health = verbs.add_parser("health", parents=[where], help="database and data health")
    health.add_argument("--json", action="store_true")

    serve = verbs.add_parser(
        "serve", parents=[where], help="the web pages and the HTTP JSON API"
    )
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT)

    run = verbs.add_parser(
        "run", parents=[where],
        help="send an operator's action (sync, collection SLUG, enhance, schedule NAME)",
        description="Send one action's validated workflow and print its run id at once; "
        "the same actions as the admin API (registry.operations).")
    run.add_argument("action", choices=["sync", "collection", "enhance", "schedule"])
    run.add_argument("target", nargs="?", help="the collection's slug or the entry's name")
    run.add_argument("--wait", action="store_true", help="print its progress until it ends")
    run.add_argument("--timeout", type=_seconds, default=600.0)
    run.add_argument("--json", action="store_true", help="print the ended run as JSON")

    worker = verbs.add_parser("worker", parents=[where], help="run a Celery worker here")
    worker.add_argument("--concurrency", type=_at_least(1), default=2)
    worker.add_argument("--pool", default="prefork")
    worker.add_argument("--beat", action="store_true", help="also run the beat schedule")
    worker.add_argument("--loglevel", default="INFO")
    return parser


def _export(args: argparse.Namespace) -> Settings:
    """Put the ``--home``/``--db``/``--broker`` choices into the environment, then load."""
    for option, variable in _ENV_OPTIONS.items():
        value = getattr(args, option, None)
        if value:
            os.environ[variable] = str(Path(value).absolute()) if option == "home" else value
    return load_settings()


#: The verbs that send work to a broker and wait on a result backend.
_SENDS = frozenset({"populate", "run", "analytics"})


def _unreachable_servers(settings: Settings) -> str | None:
    """Why the broker or the Redis result backend cannot be reached (``None``: both
    answer), found before anything is sent: Celery would retry, then die with a
    traceback about its result store."""
    from registry.celery_app import app
    from registry.redact import redact, redact_url

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as exc:  # kombu's OperationalError and the transports' own errors
        return (f"the broker {redact_url(str(settings.broker_url))} cannot be reached: "
                f"{redact(str(exc))}")
    client = getattr(app.backend, "client", None)  # the Redis result backend's
    if client is not None and hasattr(client, "ping"):
        try:
            client.ping()
        except Exception as exc:
            backend = settings.result_backend or settings.broker_url
            return (f"the result backend {redact_url(str(backend))} cannot be reached: "
                    f"{redact(str(exc))}")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = _export(args)
    try:
        private_home(settings.home)
    except UnsafeHomeError as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a parent that cannot be written, a file where a folder goes...
        print(f"registry: cannot use {settings.home} as the registry home: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    command = _COMMANDS[args.verb]
    from sqlalchemy import exc as db_errors

    from registry.redact import redact, redact_url

    if args.verb in _SENDS and settings.broker_url is not None:
        unreachable = _unreachable_servers(settings)
        if unreachable:
            print(f"error: {unreachable}", file=sys.stderr)
            return 1
    try:
        return command(args, settings)
    except (db_errors.ArgumentError, db_errors.NoSuchModuleError) as exc:
        print(f"error: --db (REGISTRY_DB_URL) {redact_url(settings.db_url)!r} is not a "
              f"database URL SQLAlchemy can use: {redact(str(exc))}", file=sys.stderr)
        return 2
    except db_errors.OperationalError as exc:
        why = str(exc.orig or exc).strip().splitlines()[0]
        print(f"error: the database {redact_url(settings.db_url)} cannot be used: "
              f"{redact(why)}", file=sys.stderr)
        return 1


# --- pipeline -------------------------------------------------------------------------


def _init(args: argparse.Namespace, settings: Settings) -> int:
    made = [p for p in (settings.collections_file, settings.home / "samples") if p.exists()]
    if made:  # replacing them could lose a collections.yaml of one's own
        from registry import db

        db.create_schema(db.make_engine(settings.db_url))
        print(f"schema at head; no sample data written: {' and '.join(map(str, made))} "
              "already exist (`init` writes sample data into a new home only)")
        return 0
    path = _generate_samples(settings, args.collections, args.bundles, args.bad_inputs)
    print(f"sample collections written: {path}")
    return 0


def _generate_samples(
    settings: Settings, collections: int, bundles: int, bad_inputs: bool
) -> Path:
    from registry import db, samples

    db.create_schema(db.make_engine(settings.db_url))
    generated = samples.generate_sample_collections(
        settings.home / "samples", collections=collections,
        bundles_per_collection=bundles, bad_inputs=bad_inputs,
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(generated, settings.collections_file)
    return settings.collections_file


def _not_demo_data(settings: Settings) -> str | None:
    """Why HOME's data may not be the demo's to delete (``None``: it is, or there is none).

    The demo's (or ``init``'s) ``collections.yaml`` is a copy of ``samples/collections.yaml``;
    a home holding anything else (a file of one's own, a registry populated from
    elsewhere) is left alone.
    """
    home, ours = settings.home, settings.collections_file
    present = [p for p in (ours, home / "registry.db", home / "samples", settings.workdir,
                           home / "celery") if p.exists() or p.is_symlink()]
    if not present:
        return None
    sample = home / "samples" / "collections.yaml"
    with contextlib.suppress(OSError):
        if ours.is_file() and sample.is_file() and ours.read_bytes() == sample.read_bytes():
            return None
    held = ", ".join(p.name for p in present)
    return (f"the demo starts by deleting its earlier data in {home}, but what is there "
            f"({held}) was not made by a demo or `init`: it may be yours. Run the demo with "
            "another --home (e.g. --home var/demo), or with --keep to run on it as it is")


def _wipe_demo_data(settings: Settings) -> None:
    """Remove only what a demo creates under HOME, so each demo starts fresh."""
    for folder in (settings.home / "samples", settings.workdir, settings.home / "celery"):
        shutil.rmtree(folder, ignore_errors=True)
    settings.collections_file.unlink(missing_ok=True)
    default_db = settings.home / "registry.db"
    if settings.db_url == f"sqlite:///{default_db}":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{default_db}{suffix}").unlink(missing_ok=True)


def _broker_label(settings: Settings) -> str:
    if settings.broker_url is None:
        return f"embedded SQLite broker and results ({settings.home / 'celery'})"
    return f"{settings.broker_url} (results: {settings.result_backend or settings.broker_url})"


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    started = time.perf_counter()
    if not args.keep:
        refused = _not_demo_data(settings)
        if refused:
            print(f"error: {refused}", file=sys.stderr)
            return 2
        _wipe_demo_data(settings)
    if not settings.collections_file.exists():
        _generate_samples(settings, args.collections, args.bundles, args.bad_inputs)
    print(f"registry home   {settings.home}")
    print(f"sample data     {settings.collections_file}")
    print(f"broker          {_broker_label(settings)}")
    from registry.workers import LocalWorkers

    with LocalWorkers(args.workers) as workers:
        print(f"workers         {len(workers.workers)} worker processes, "
              f"{workers.concurrency} pool processes, ready in "
              f"{time.perf_counter() - started:.1f} s")
        code = _run_and_report(settings, settings.collections_file, args.timeout, as_json=False)
    print(f"demo finished in {time.perf_counter() - started:.1f} s")
    from registry import runs

    url = web_url()
    latest = runs.latest_runs(settings.db_url, limit=1)
    print(f"web UI          {url} (after `python -m registry serve`)")
    if latest:
        print(f"this run        {url}runs/{latest[0]['id']}")
    print("next: python -m registry list --access-level read-write | "
          "python -m registry show COLLECTION/BUNDLE | python -m registry serve")
    return code


def _populate(args: argparse.Namespace, settings: Settings) -> int:
    path = args.collections_file or settings.collections_file
    if not path.exists():
        print(f"error: {path} does not exist (run `python -m registry init` or pass "
              "--collections-file)", file=sys.stderr)
        return 2
    if args.workers:
        from registry.workers import LocalWorkers

        with LocalWorkers(args.workers):
            return _run_and_report(settings, path, args.timeout, as_json=args.json)
    return _run_and_report(settings, path, args.timeout, as_json=args.json)


def _say_why(settings: Settings, run_id: str, *, only_if: str = "") -> None:
    """Print the run's state and its reasons (``explain``) on stderr; with ``only_if``,
    only when the state says it."""
    from registry import runs
    from registry.celery_app import app

    run = runs.get_run(settings.db_url, run_id)
    if run is None:
        return
    observed = runs.observe_run(settings.db_url, run, app)
    if only_if not in observed.headline:
        return
    print(f"run {run_id[:8]}: {observed.headline}", file=sys.stderr, flush=True)
    for reason in observed.reasons:
        print(f"  - {reason}", file=sys.stderr, flush=True)


def _run_and_report(settings: Settings, path: Path, timeout: float, *, as_json: bool) -> int:
    from celery.exceptions import TimeoutError as CeleryTimeoutError

    from registry import runs
    from registry.pipeline import collection_slugs, run_pipeline, workflow_graph
    from registry.sources import CollectionsFileError, read_collections_text

    try:
        text = read_collections_text(path)
    except CollectionsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sent: list[str] = []

    def record(workflow: Any, result: Any) -> None:
        sent.append(runs.record_run(settings.db_url, workflow, result, collection_slugs(text)))
        _say_why(settings, sent[-1], only_if="no worker")  # instead of waiting silently

    started = time.perf_counter()
    try:
        run = run_pipeline(text, timeout=timeout, on_sent=record)
    except BaseException as exc:
        if sent:
            _say_why(settings, sent[0])  # where the run was when the wait ended
        if sent:  # the run's page says how it ended, then the error propagates
            runs.finish_run(settings.db_url, sent[0], seconds=time.perf_counter() - started,
                            error=f"{type(exc).__name__}: {exc}")
        if isinstance(exc, CeleryTimeoutError):
            print(f"error: the run did not finish within {timeout:g} s (--timeout); its "
                  "workers may still finish it", file=sys.stderr)
            return 1
        raise
    summary = run.summary
    runs.finish_run(settings.db_url, run.workflow_id, seconds=run.seconds, summary=summary)
    if as_json:
        print(json.dumps({"workflow_id": run.workflow_id, "seconds": run.seconds, **summary},
                         indent=2, sort_keys=True))
        return 0
    print(format_summary(summary, run.seconds))
    graphs = workflow_graph(text, summary.get("enhanced_ids") or []).split("\n\n")
    titles = ["the workflow sent",
              "the whole run, launch_enhancements replaced by the chord it became"]
    for title, graph in zip(titles, graphs, strict=False):
        print(f"\n{title} (Mermaid):\n```mermaid\n{graph.rstrip()}\n```")
    return 0


def format_summary(summary: dict[str, Any], seconds: float) -> str:
    """The human summary: collections, bundles, tasks, enhanced, failed, and each error."""
    bundles = summary["bundles"]
    totals = summary.get("totals") or {}
    lines = [
        f"\npipeline finished in {seconds:.2f} s",
        f"  collections  {summary['collections_synced']} synced, "
        f"{summary['collections_failed']} failed",
        f"  bundles      {sum(bundles.values()) - bundles['removed']} parsed "
        f"({bundles['created']} new, {bundles['updated']} updated, "
        f"{bundles['unchanged']} unchanged, {bundles['removed']} removed)",
        f"  tasks        {totals.get('tasks', '?')} robot tasks in "
        f"{totals.get('bundles', '?')} stored bundles",
        f"  enhanced     {summary['enhanced']} completed, {summary['enhance_failed']} failed",
        f"  failed       {len(summary['errors'])} item(s)",
    ]
    lines.extend(f"    - {error}" for error in summary["errors"])
    return "\n".join(lines)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from registry import operations
    from registry.celery_app import app
    from registry.db import session_scope
    from registry.follow import follow_run

    needs_target = args.action in ("collection", "schedule")
    if needs_target != bool(args.target):
        print(f"error: `run {args.action}` takes "
              f"{'a' if needs_target else 'no'} target", file=sys.stderr)
        return 2
    try:
        if args.action == "sync":
            action = operations.sync_all(settings)
        elif args.action == "collection":
            with session_scope(settings.db_url) as session:
                action = operations.sync_collection(session, args.target)
        elif args.action == "enhance":
            action = operations.reenhance()
        else:
            action = operations.run_schedule_entry(app, args.target)
        sent = operations.send(action, settings.db_url)
    except (operations.ActionRefused, operations.SendFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"sent {action.label} as run {sent.run_id}", flush=True)
    if not args.wait:
        return 0
    ended = follow_run(settings.db_url, sent.run_id, app, timeout=args.timeout,
                       emit=lambda line: print(line, flush=True))
    if args.json:
        _print(ended)
    return 0 if ended["status"] == "finished" else 1


# --- queries --------------------------------------------------------------------------


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from registry import query
    from registry.db import session_scope

    try:
        with session_scope(settings.db_url) as session:
            page = query.list_bundles(
                session, tag=args.tag, platform=args.platform, access_level=args.access_level,
                collection=args.collection, search=args.search, limit=args.limit,
                sort=args.sort,
            )
    except query.QueryInputError as exc:
        print(f"error: --{exc.parameter}: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        _print(page)
        return 0
    for bundle in page["items"]:
        name = f"{bundle['collection']}/{bundle['slug']}"
        print(f"{name:<50} {bundle['access_level']:<11} {bundle['enhancement_status']:<10} "
              f"{bundle['display_name']}")
    print(f"{len(page['items'])} of {page['total']} bundle(s)")
    return 0


def _analytics(args: argparse.Namespace, settings: Settings) -> int:
    from registry.analytics_cli import run_analytics

    return run_analytics(settings, in_process=args.in_process, workers=args.workers,
                         timeout=args.timeout, as_json=args.json)


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from registry import query
    from registry.db import session_scope

    collection, _, slug = args.ref.partition("/")
    if not collection or not slug:
        print(f"error: expected COLLECTION/BUNDLE, got {args.ref!r}", file=sys.stderr)
        return 2
    with session_scope(settings.db_url) as session:
        bundle = query.get_bundle(session, collection, slug)
    if bundle is None:
        print(f"error: no bundle {args.ref!r}", file=sys.stderr)
        return 1
    _print(bundle)
    return 0


def _health(args: argparse.Namespace, settings: Settings) -> int:
    from registry import query
    from registry.db import session_scope

    with session_scope(settings.db_url) as session:
        report = query.health(session)
    _print(report)
    return 0 if report.get("status") == "ok" else 1


# --- processes ------------------------------------------------------------------------


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from registry.api import serve
    from registry.redact import redact_url

    # Said first: run from another folder, the default home is a new, empty ./var/registry.
    print(f"registry home   {settings.home.resolve()} (--home or REGISTRY_HOME to change)\n"
          f"database        {redact_url(settings.db_url)}", flush=True)
    serve(args.host, args.port, settings)
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from registry.workers import worker_command

    command = worker_command(
        concurrency=args.concurrency, pool=args.pool, loglevel=args.loglevel, beat=args.beat
    )
    if args.beat:
        command += ["-s", str(settings.home / "celerybeat-schedule")]
    settings.home.mkdir(parents=True, exist_ok=True)
    os.execv(command[0], command)
    return 0  # not reached


_COMMANDS = {
    "demo": _demo,
    "init": _init,
    "populate": _populate,
    "run": _run,
    "list": _list,
    "analytics": _analytics,
    "show": _show,
    "health": _health,
    "serve": _serve,
    "worker": _worker,
}
