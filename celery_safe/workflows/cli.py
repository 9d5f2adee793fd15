"""``celery-safe graph module:attr``: print a workflow as Mermaid or DOT, or draw a PNG.

``attr`` names a canvas, or a function taking no argument that returns one. Problems
found by validation are printed on stderr and make the exit code 1; the graph is
printed anyway, since seeing it is how one finds what is wrong.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from celery.canvas import Signature

from ..canvas.problems import format_problems
from .render import to_dot, to_mermaid
from .validate import validate

__all__ = ["graph_main", "load_canvas"]


def load_canvas(target: str) -> Signature:
    """Import ``module:attr`` (attr may be dotted) and return the canvas it names or builds."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected module:attr, got {target!r}")
    value: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        value = getattr(value, part)
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
    done = subprocess.run(
        [dot, "-Tpng", "-o", output], input=dot_source.encode(), capture_output=True
    )
    if done.returncode != 0:
        print(f"celery-safe graph: dot failed: {done.stderr.decode()}", file=sys.stderr)
        return 2
    return 0


def graph_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="celery-safe graph", description="Print a workflow as a graph."
    )
    parser.add_argument("target", help="module:attr naming a canvas or a function returning one")
    parser.add_argument("--format", choices=("mermaid", "dot", "png"), default="mermaid")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    args = parser.parse_args(list(argv))
    sys.path.insert(0, str(Path.cwd()))
    try:
        canvas = load_canvas(args.target)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        print(f"celery-safe graph: cannot load {args.target}: {exc}", file=sys.stderr)
        return 2
    problems = validate(canvas)
    if args.format == "png":
        status = _draw_png(to_dot(canvas), args.output)
    else:
        text = to_mermaid(canvas) if args.format == "mermaid" else to_dot(canvas)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        status = 0
    if problems:
        print(format_problems(problems, args.target), file=sys.stderr)
        return status or 1
    return status
