"""``celery-safe``: one command, four verbs; each verb imports only what it needs.

    celery-safe check PATH...        lint (exit 1 on findings)
    celery-safe fix PATH... [--diff] rewrite old tasks with libcst codemods
    celery-safe explain CODE         a rule's page
    celery-safe graph module:attr    a workflow as Mermaid or DOT
    celery-safe why TASK_ID --app module:app   what a sent workflow is doing, and why

check and fix share one config loader and option set (--select, --extend-select,
--ignore, --exclude, --force-exclude, --task-decorator, --max-file-size;
[tool.celery-safe] in pyproject.toml) and one file walker (celery_safe.lint.files).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: verb -> (module, function); the function takes the verb's argv and returns an exit code.
VERBS: dict[str, tuple[str, str]] = {
    "check": ("celery_safe.lint.cli", "check_main"),
    "fix": ("celery_safe.lint.fix_cli", "fix_main"),
    "explain": ("celery_safe.cli", "explain_main"),
    "graph": ("celery_safe.workflows.cli", "graph_main"),
    "why": ("celery_safe.workflows.cli", "why_main"),
}


def explain_main(argv: Sequence[str]) -> int:
    """Print a rule's page; ``explain --list`` lists every code."""
    from . import catalogue

    parser = argparse.ArgumentParser(prog="celery-safe explain")
    parser.add_argument("code", nargs="?", help="a CSF code, e.g. CSF101")
    parser.add_argument("--list", action="store_true", help="list every code")
    args = parser.parse_args(list(argv))
    if args.list or not args.code:
        for entry in catalogue.all_codes().values():
            flag = "" if entry.default else "  (off by default)"
            print(f"{entry.code}  {entry.name:<34} [{entry.scope}]{flag}")
        return 0
    try:
        entry = catalogue.get(args.code)
    except KeyError as exc:
        print(f"celery-safe explain: {exc.args[0]}", file=sys.stderr)
        return 2
    print(f"# {entry.code} {entry.name}\n")
    print(f"Message: {entry.message}\nFix: {entry.fix}\n")
    from .lint.docs import render_page

    print(render_page(entry.code), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        known = ", ".join(VERBS)
        print(f"celery-safe: unknown command {verb!r}; use one of: {known}", file=sys.stderr)
        return 2
    module_name, function_name = VERBS[verb]
    function = getattr(importlib.import_module(module_name), function_name)
    code: int = function(rest)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
