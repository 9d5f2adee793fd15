"""``celery-safe check-app module:app [--inspect] [--format text|json|sarif]``.

Exit codes like ``check``: 0 no problems, 1 problems, 2 the app could not be loaded
(or the arguments are wrong). ``--inspect`` also asks the live workers which queues
they consume (``inspect active_queues``, ``--timeout`` seconds) and adds CSF405.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from .. import catalogue
from ..canvas.problems import Problem, render_path
from . import check_app, live_workers

__all__ = ["check_app_main", "render"]


def _text(problems: Sequence[Problem], target: str) -> str:
    lines = [f"{target}: {p.where}: {p.code} {p.message}\n    fix: {p.fix}" for p in problems]
    lines.append(f"Found {len(problems)} problem(s) in {target}." if problems else "No problems.")
    return "\n".join(lines) + "\n"


def _json(problems: Sequence[Problem], target: str) -> str:
    rows = [
        {"code": p.code, "app": target, "where": render_path(p.path), "path": list(p.path),
         "task": p.task, "message": p.message, "fix": p.fix}
        for p in problems
    ]
    return json.dumps(rows, indent=2) + "\n"


def _sarif(problems: Sequence[Problem], target: str, source: str | None) -> str:
    codes = sorted({p.code for p in problems} | {c for c in catalogue.all_codes() if c[3] == "4"})
    entries = [catalogue.get(code) for code in codes]
    index = {entry.code: i for i, entry in enumerate(entries)}
    results: list[dict[str, Any]] = []
    for p in problems:
        result: dict[str, Any] = {
            "ruleId": p.code, "ruleIndex": index[p.code], "level": "error",
            "message": {"text": p.message},
            "locations": [{"logicalLocations": [
                {"fullyQualifiedName": f"{target}/{render_path(p.path)}", "kind": "object"}
            ]}],
        }
        if source:  # code scanning wants a file: the module that defines the app
            result["locations"][0]["physicalLocation"] = {
                "artifactLocation": {"uri": source}, "region": {"startLine": 1},
            }
        results.append(result)
    try:
        version = metadata.version("celery-safe")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "0"
    rules = [
        {"id": e.code, "name": e.name, "shortDescription": {"text": e.message},
         "fullDescription": {"text": e.section("What it does")},
         "help": {"text": e.fix, "markdown": e.docs}}
        for e in entries
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "celery-safe", "version": version,
                                      "informationUri": "https://pypi.org/project/celery-safe/",
                                      "rules": rules}},
                  "results": results}],
    }
    return json.dumps(log, indent=2) + "\n"


def render(problems: Sequence[Problem], target: str, fmt: str, source: str | None = None) -> str:
    """``problems`` of the app ``target`` as text, JSON or SARIF 2.1.0."""
    if fmt == "json":
        return _json(problems, target)
    if fmt == "sarif":
        return _sarif(problems, target, source)
    return _text(problems, target)


def _source_of(target: str) -> str | None:
    import os

    module = sys.modules.get(target.partition(":")[0])
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return None
    relative = os.path.relpath(path)
    return (path if relative.startswith("..") else relative).replace(os.sep, "/")


def check_app_main(argv: Sequence[str]) -> int:
    """The ``check-app`` verb."""
    from ..workflows.cli import load_app, seconds_option

    parser = argparse.ArgumentParser(prog="celery-safe check-app")
    parser.add_argument("app", help="module:attr naming a Celery app, e.g. proj.celery:app")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--inspect", action="store_true",
                        help="also ask live workers which queues they consume (CSF405)")
    parser.add_argument("--timeout", type=seconds_option, default=1.0,
                        help="seconds to wait for workers' replies with --inspect (default 1)")
    parser.add_argument("--ignore", default="", help="comma-separated codes not to report")
    args = parser.parse_args(list(argv))
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # module:app names a module of the current directory, as celery -A
    try:
        app = load_app(args.app)
    except (Exception, SystemExit) as exc:  # the user's module ran: an error, sys.exit...
        print(f"celery-safe check-app: cannot load {args.app}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    ignore = [code.strip() for code in args.ignore.split(",") if code.strip()]
    try:
        workers = live_workers(app, timeout=args.timeout) if args.inspect else None
        problems = check_app(app, workers=workers, ignore=ignore)
    except Exception as exc:  # a task module that fails to import, a broker that refuses...
        print(f"celery-safe check-app: cannot check {args.app}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    if workers == {}:
        print(f"celery-safe check-app: no worker answered within {args.timeout:g} s",
              file=sys.stderr)
    sys.stdout.write(render(problems, args.app, args.format, _source_of(args.app)))
    return 1 if problems else 0
