"""``celery-safe graph``: a workflow as Mermaid, DOT, SVG or PNG, or what a sent one did.

    celery-safe graph module:attr [--format mermaid|dot|svg|png] [-o FILE]
    celery-safe graph --trace TASK_ID --app module:app [-o FILE.svg]

``attr`` names a canvas, or a function taking no argument that returns one. Problems
found by validation are printed on stderr and make the exit code 1; the graph is
printed anyway, since seeing it is how one finds what is wrong. ``--trace`` reads the
run ending with ``TASK_ID`` back from the app's result backend and draws it as SVG.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from celery import Celery
from celery.canvas import Signature
from celery.result import AsyncResult

from ..canvas.problems import format_problems
from ..canvas.text import short_value
from ..output_file import write_output
from .explain import explain
from .render import to_dot, to_mermaid
from .svg import to_svg
from .trace import trace
from .validate import validate

__all__ = ["graph_main", "load_app", "load_canvas", "why_main"]


def _imported(target: str, what: str) -> Any:
    """The object ``module:attr`` names (attr may be dotted)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected module:{what}, got {target!r}")
    value: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def load_canvas(target: str) -> Signature:
    """Import ``module:attr`` and return the canvas it names or builds."""
    value = _imported(target, "attr")
    if not isinstance(value, Signature) and callable(value):
        value = value()
    if not isinstance(value, Signature):
        raise TypeError(f"{target} is not a Celery canvas (got {type(value).__name__})")
    return value


def _draw_png(dot_source: str, output: str | None) -> int:
    dot = shutil.which("dot")
    if dot is None:
        print(
            "celery-safe graph: --format png needs graphviz's `dot` on the PATH "
            "(e.g. `apt-get install graphviz`); use --format dot or mermaid instead",
            file=sys.stderr,
        )
        return 2
    if output is None:
        print("celery-safe graph: --format png needs --output FILE", file=sys.stderr)
        return 2
    done = subprocess.run([dot, "-Tpng"], input=dot_source.encode(), capture_output=True)
    if done.returncode != 0:
        print(f"celery-safe graph: dot failed: {done.stderr.decode()}", file=sys.stderr)
        return 2
    return _write(done.stdout, output)


def _failure(exc: BaseException) -> str:
    """What went wrong loading module:attr, in one line."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: the module exited ({exc.code}) while imported"
    return f"{type(exc).__name__}: {exc}"


def load_app(target: str) -> Celery:
    """Import ``module:attr`` naming a Celery app."""
    value = _imported(target, "app")
    if not isinstance(value, Celery):
        raise TypeError(f"{target} is not a Celery app (got {type(value).__name__})")
    return value


def _write(data: str | bytes, output: str | None) -> int:
    """Print ``data``, or write it to ``output`` (never through a link): exit status."""
    if not output:
        sys.stdout.write(data if isinstance(data, str) else data.decode())
        return 0
    try:
        write_output(output, data)
    except OSError as exc:
        print(f"celery-safe graph: cannot write {output}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    return 0


#: Celery sends a task's id as AMQP's ``correlation_id``, a short string: py-amqp cannot
#: encode one longer than 255 bytes, so no task sent through RabbitMQ has a longer id.
_MAX_TASK_ID_BYTES = 255


def _bad_task_id(task_id: str) -> str | None:
    """Why no sent task can have ``task_id`` (None: it may), checked before an app is
    loaded or a backend asked: the id is shown escaped and shortened, never raw."""
    shown = short_value(task_id)
    if not task_id.strip():
        return f"the task id is empty ({shown})"
    if not task_id.isprintable():
        return (f"the task id {shown} holds control characters or bytes that are not "
                "text: no task id does")
    size = len(task_id.encode("utf-8"))  # printable: no lone surrogates left
    if size > _MAX_TASK_ID_BYTES:
        return (f"the task id {shown} is {size} bytes: why reads ids of at most "
                f"{_MAX_TASK_ID_BYTES} bytes (Celery sends it as AMQP's correlation_id, "
                "a short string)")
    return None


def _trace_main(task_id: str, app_target: str | None, output: str | None) -> int:
    bad = _bad_task_id(task_id)
    if bad is not None:
        print(f"celery-safe graph: --trace: {bad}", file=sys.stderr)
        return 2
    if not app_target:
        print("celery-safe graph: --trace needs --app module:app", file=sys.stderr)
        return 2
    try:
        app = load_app(app_target)
    except (Exception, SystemExit) as exc:  # the user's module ran: anything can fail
        print(f"celery-safe graph: cannot load {app_target}: {_failure(exc)}", file=sys.stderr)
        return 2
    run = trace(AsyncResult(task_id, app=app), app=app)
    if _write(to_svg(run), output):
        return 2
    print(f"{run.done}/{run.total} steps done, {run.state}", file=sys.stderr)
    return 1 if run.state == "FAILURE" else 0


def graph_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="celery-safe graph", description="Print a workflow, or a sent one's run, as a graph."
    )
    parser.add_argument(
        "target", nargs="?", help="module:attr naming a canvas or a function returning one"
    )
    parser.add_argument("--format", choices=("mermaid", "dot", "svg", "png"), default="mermaid")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    parser.add_argument("--trace", metavar="TASK_ID", help="draw what the run ending here did")
    parser.add_argument("--app", metavar="MODULE:APP", help="the app whose backend --trace reads")
    args = parser.parse_args(list(argv))
    sys.path.insert(0, str(Path.cwd()))
    if args.trace is not None:
        return _trace_main(args.trace, args.app, args.output)
    if not args.target:
        parser.error("give module:attr, or --trace TASK_ID --app module:app")
    try:
        canvas = load_canvas(args.target)
    except (Exception, SystemExit) as exc:  # the user's module ran: anything can fail
        print(f"celery-safe graph: cannot load {args.target}: {_failure(exc)}", file=sys.stderr)
        return 2
    problems = validate(canvas)
    if args.format == "png":
        status = _draw_png(to_dot(canvas), args.output)
    else:
        render = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}[args.format]
        status = _write(render(canvas), args.output)
    if problems:
        print(format_problems(problems, args.target), file=sys.stderr)
        return status or 1
    return status


#: The longest ``why`` waits for workers to answer: an hour is already a stuck command.
_MAX_TIMEOUT = 3600.0


def seconds_option(text: str) -> float:
    """``--timeout``: a finite number of seconds above 0 (``inf`` made ``inspect`` wait
    forever; ``nan``, ``0`` or ``-1`` asked the workers nothing)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= _MAX_TIMEOUT:  # False for nan too
        raise argparse.ArgumentTypeError(
            f"{short_value(text)} is not a number of seconds above 0 and at most {_MAX_TIMEOUT:g}"
        )
    return value


def why_main(argv: Sequence[str]) -> int:
    """``celery-safe why TASK_ID --app module:app``: print what the run ending in
    TASK_ID is doing and why; exit 0 when it succeeded or is under way, 1 when it failed,
    is stuck or nothing is known about TASK_ID (never sent, or forgotten), 2 on a usage
    error."""
    parser = argparse.ArgumentParser(
        prog="celery-safe why", description="Say what a sent workflow is doing, and why."
    )
    parser.add_argument("task_id", help="the id of the workflow's last task (its result's id)")
    parser.add_argument("--app", metavar="MODULE:APP", required=True,
                        help="the app whose result backend and workers the run used")
    parser.add_argument("--timeout", type=seconds_option, default=1.0,
                        help="seconds the workers get to answer (default 1)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for a person (default); json: the run's state in a "
                             "person's words and Celery's, its reasons and steps")
    args = parser.parse_args(list(argv))
    bad = _bad_task_id(args.task_id)
    if bad is not None:
        print(f"celery-safe why: {bad}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path.cwd()))
    try:
        app = load_app(args.app)
    except (Exception, SystemExit) as exc:  # the user's module ran: anything can fail
        print(f"celery-safe why: cannot load {args.app}: {_failure(exc)}", file=sys.stderr)
        return 2
    explanation = explain(AsyncResult(args.task_id, app=app), app=app, timeout=args.timeout)
    if args.format == "json":
        print(json.dumps(explanation.as_dict(), indent=2))
    else:
        print(explanation)
    return 1 if explanation.state in ("failed", "stuck", "unknown") else 0
