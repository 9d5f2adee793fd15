"""The ``celery-safe`` command: one command, several verbs; each verb imports only what it needs."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: what ``celery-safe --help`` prints (plain text: no reST markup reaches a terminal)
USAGE = """\
usage: celery-safe COMMAND [ARGS...]

  celery-safe check PATH...        lint (exit 1 on findings)            needs celery-safe[lint]
  celery-safe fix PATH... [--diff] rewrite old tasks with libcst codemods needs celery-safe[lint]
  celery-safe explain CODE         a rule's page (--list: every code)
  celery-safe graph module:attr    a workflow as Mermaid or DOT
  celery-safe check-app module:app deployment problems of an app [--inspect] (exit 1 on any)
  celery-safe why TASK_ID --app module:app   what a sent workflow is doing, and why
  celery-safe --version            the installed version

check and fix share one config loader and option set (--select, --extend-select,
--ignore, --exclude, --force-exclude, --task-decorator, --max-file-size;
[tool.celery-safe] in pyproject.toml) and one file walker. COMMAND --help for its options.
"""

#: what the ``[lint]`` extra installs: a verb failing to import one of them names the extra
LINT_EXTRA = frozenset({"libcst", "flake8", "pathspec", "tomli"})

#: exit status of a command whose reader went away (like a process killed by SIGPIPE)
BROKEN_PIPE = 128 + 13

#: verb -> (module, function); the function takes the verb's argv and returns an exit code.
VERBS: dict[str, tuple[str, str]] = {
    "check": ("celery_safe.lint.front.cli", "check_main"),
    "fix": ("celery_safe.lint.front.fix_cli", "fix_main"),
    "explain": ("celery_safe.cli", "explain_main"),
    "graph": ("celery_safe.workflows.cli", "graph_main"),
    "check-app": ("celery_safe.deployment.cli", "check_app_main"),
    "why": ("celery_safe.workflows.cli", "why_main"),
}


def explain_main(argv: Sequence[str]) -> int:
    """Print a rule's page; ``explain --list`` lists every code."""
    from . import catalogue

    parser = argparse.ArgumentParser(prog="celery-safe explain")
    parser.add_argument("code", nargs="?", help="a CSF code, e.g. CSF101")
    parser.add_argument("--list", action="store_true", help="list every code")
    args = parser.parse_args(list(argv))
    if args.list and args.code is not None:
        parser.error(f"give a code or --list, not both (got {args.code!r} and --list)")
    if args.list or args.code is None:
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
    over, under = entry.supersedes, catalogue.superseded_by(entry.code)
    if over:
        print(f"Supersedes {', '.join(over)} at the same call: one defect, one finding.")
    if under:
        print(f"Superseded by {', '.join(under)} at the same call: not reported where "
              f"{'they are' if len(under) > 1 else 'it is'}, unless named in --select while "
              f"{'they are' if len(under) > 1 else 'it is'} off.")
    if over or under:
        print()
    from .lint.docs import render_page

    print(render_page(entry.code), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; a closed stdout (``celery-safe explain --list | head -1``) ends quietly."""
    try:
        code = _run(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # inside the try: a pipe closed early fails here, not at exit
    except BrokenPipeError:
        # Python's own advice: point stdout at devnull so the interpreter's final flush
        # cannot raise again and print a traceback nobody asked for.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE
    return code


def _version() -> str:
    from . import __version__

    return __version__


def _run(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"celery-safe {_version()}")
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        known = ", ".join(VERBS)
        print(f"celery-safe: unknown command {verb!r}; use one of: {known}", file=sys.stderr)
        return 2
    module_name, function_name = VERBS[verb]
    try:  # the extra's modules may be imported late (pathspec only when a tree is walked)
        module = importlib.import_module(module_name)
        code: int = getattr(module, function_name)(rest)
    except ModuleNotFoundError as exc:
        if exc.name not in LINT_EXTRA:
            raise
        print(
            f"celery-safe {verb}: needs the linter's dependencies ({exc.name} is not installed);"
            " install them with: pip install 'celery-safe[lint]'",
            file=sys.stderr,
        )
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
