"""Lint configuration, one loader for ``check``, ``fix`` and the flake8 plugin.

Read from ``[tool.celery-safe]`` in ``pyproject.toml``; the command-line options of
``check`` and ``fix`` (:func:`add_options`) go on top::

    [tool.celery-safe]
    select = ["CSF1"]                     # only these codes (default: every default-on code)
    extend-select = ["CSF901"]            # add codes, opt-in CSF9xx included
    ignore = ["CSF105"]                   # turn codes off (longest prefix wins)
    task-decorators = ["myproj.jobs.job"] # extra decorators that register Celery tasks
    exclude = ["migrations", "tests/fixtures"]   # gitignore-style patterns
    max-file-size = 5_000_000             # bytes; a larger file is CSF000, not read
    celery = "5.4"                        # the Celery the project deploys (default: installed)

``select`` restricts and ``extend-select`` adds, as in flake8 and Ruff.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import catalogue
from ..canvas.text import short_value
from ..celery_internals import UnsupportedCelery, default_target, target_celery

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "Config",
    "ConfigError",
    "add_options",
    "config_from_args",
    "find_pyproject",
    "load_config",
]

#: About files rather than code: reported whatever the selection, unless ignored by name.
FILE_CODES = ("CSF000", "CSF999")

#: Bytes: larger than any hand-written module, small enough that ast + analysis fit in memory.
DEFAULT_MAX_FILE_SIZE = 5_000_000


class ConfigError(ValueError):
    """A ``[tool.celery-safe]`` table or option that cannot be understood (names the bad key)."""


@dataclass(frozen=True)
class Config:
    """What the engine reports and which files it reads.

    ``select``/``extend_select``/``ignore`` hold codes or code prefixes. An empty
    ``select`` means "the codes that are on by default".
    """

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    task_decorators: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    root: Path | None = field(default=None, compare=False)
    #: The Celery the checks model (``celery = "5.4"``); None: the installed one.
    celery: tuple[int, int, int] | None = None

    @property
    def target(self) -> tuple[int, int, int]:
        """The Celery version whose behaviour the version-dependent checks follow."""
        return self.celery if self.celery is not None else default_target()

    def enabled(self, code: str) -> bool:
        """Selected (``select`` or ``extend-select``) and not ignored by a longer prefix.

        As in flake8, the longest matching prefix wins: ``ignore=["CSF1"]`` with
        ``select=["CSF101"]`` keeps CSF101 on. Without ``select``, the codes on by
        default are selected; opt-in codes (CSF9xx) only when named. CSF000 and
        CSF999 (a file not checked) are never deselected, only ignored by name.
        """
        if code in FILE_CODES:
            return code not in self.ignore
        chosen = max(
            (len(p) for p in (*self.select, *self.extend_select) if code.startswith(p)),
            default=-1,
        )
        dropped = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        if chosen > dropped:
            return True
        if dropped >= 0 or self.select:
            return False  # ignored, or not among the codes ``select`` restricts to
        try:
            return catalogue.get(code).default
        except KeyError:
            return True

    def merged(
        self,
        *,
        select: Iterable[str] = (),
        extend_select: Iterable[str] = (),
        ignore: Iterable[str] = (),
        task_decorators: Iterable[str] = (),
        exclude: Iterable[str] = (),
        max_file_size: int | None = None,
        celery: str | None = None,
    ) -> Config:
        """This config with command-line values on top: ``select`` and ``celery`` replace,
        the rest add."""
        chosen = _codes(select, "select")
        return replace(
            self,
            select=chosen or self.select,
            extend_select=self.extend_select + _codes(extend_select, "extend-select"),
            ignore=self.ignore + _codes(ignore, "ignore"),
            task_decorators=self.task_decorators + tuple(task_decorators),
            exclude=self.exclude + tuple(exclude),
            max_file_size=self.max_file_size if max_file_size is None else max_file_size,
            celery=self.celery if celery is None else _celery(celery, "--celery"),
        )

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], root: Path | None = None) -> Config:
        """Build from a ``[tool.celery-safe]`` table; unknown keys are an error."""
        known = {
            "select", "extend-select", "ignore", "task-decorators", "exclude", "max-file-size",
            "celery",
        }
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(
                f"[tool.celery-safe]: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        size = table.get("max-file-size", DEFAULT_MAX_FILE_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ConfigError(
                f"[tool.celery-safe] max-file-size must be a positive number of bytes, got {size!r}"
            )
        return cls(
            select=_codes(_strings(table, "select"), "select"),
            extend_select=_codes(_strings(table, "extend-select"), "extend-select"),
            ignore=_codes(_strings(table, "ignore"), "ignore"),
            task_decorators=_strings(table, "task-decorators"),
            exclude=_strings(table, "exclude"),
            max_file_size=size,
            root=root,
            celery=_celery(table["celery"], "[tool.celery-safe] celery") if "celery" in table
            else None,
        )


def _celery(value: object, where: str) -> tuple[int, int, int]:
    """A target Celery version, or a :class:`ConfigError` naming the supported range."""
    if not isinstance(value, str):
        raise ConfigError(
            f"{where} must be a version string such as \"5.4\", got {short_value(value)}"
        )
    try:
        return target_celery(value)
    except UnsupportedCelery as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _strings(table: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.celery-safe] {key} must be a list of strings, got {value!r}")
    return tuple(value)


def _codes(values: Iterable[str], key: str) -> tuple[str, ...]:
    codes = tuple(v.strip().upper() for v in values if v.strip())
    bad = [c for c in codes if not c.startswith("CSF")]
    if bad:
        raise ConfigError(
            f"{key}: {', '.join(bad)} is not a CSF code or prefix (e.g. CSF101, CSF1)"
        )
    return codes


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents) if start.is_dir() else start.parents:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None) -> Config:
    """The ``[tool.celery-safe]`` config governing ``start`` (default: the cwd).

    Like Ruff, the nearest ``pyproject.toml`` that has the table wins: a sub-project's
    own pyproject without it (``examples/registry/pyproject.toml``) does not hide the
    repository's configuration.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

    folder: Path | None = (start or Path.cwd()).resolve()
    while folder is not None:
        pyproject = find_pyproject(folder)
        if pyproject is None:
            return Config()
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{pyproject}: {exc}") from exc
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "celery-safe" in tool:
            table = tool["celery-safe"]
            if not isinstance(table, dict):
                raise ConfigError(f"{pyproject}: [tool.celery-safe] must be a table")
            return Config.from_mapping(table, root=pyproject.parent)
        parent = pyproject.parent.parent
        folder = parent if parent != pyproject.parent else None
    return Config()


def _code_list(text: str) -> list[str]:
    return [part for part in text.replace(" ", ",").split(",") if part]


def _size(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of bytes: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of bytes")
    return value


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options ``check`` and ``fix`` share: paths, selection, files, task decorators."""
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument(
        "--select", type=_code_list, action="extend", default=[],
        help="only these codes or prefixes (replaces the config's select)",
    )  # fmt: skip
    parser.add_argument(
        "--extend-select", type=_code_list, action="extend", default=[],
        help="add these codes or prefixes (opt-in CSF9xx too)",
    )  # fmt: skip
    parser.add_argument(
        "--ignore", type=_code_list, action="extend", default=[],
        help="codes or prefixes to turn off",
    )  # fmt: skip
    parser.add_argument(
        "--exclude", action="append", default=[],
        help="gitignore-style pattern of paths to skip (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--force-exclude", action="store_true",
        help="apply excludes and .gitignore to paths named on the command line too",
    )  # fmt: skip
    parser.add_argument(
        "--task-decorator", action="append", default=[],
        help="qualified name of an extra decorator that registers Celery tasks (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--celery", default=None, metavar="VERSION",
        help="the Celery version the project runs (e.g. 5.4), for the checks whose answer "
        "depends on it (default: the installed Celery, else the newest supported)",
    )  # fmt: skip
    parser.add_argument(
        "--max-file-size", type=_size, default=None, metavar="BYTES",
        help=f"larger files are reported (CSF000), not read (default {DEFAULT_MAX_FILE_SIZE})",
    )  # fmt: skip


def _relative_to_root(pattern: str, root: Path) -> str:
    """A command-line ``--exclude`` path is relative to the cwd; config ones to ``root``."""
    if "/" not in pattern.rstrip("/"):
        return pattern
    try:
        return (Path.cwd() / pattern).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return pattern


def config_from_args(args: argparse.Namespace) -> Config:
    """The config governing the first path, with the command line's options on top."""
    first: Path = args.paths[0]
    config = load_config(first if first.is_dir() else first.parent)
    root = config.root or Path.cwd()
    return replace(
        config.merged(
            select=args.select,
            extend_select=args.extend_select,
            ignore=args.ignore,
            exclude=[_relative_to_root(pattern, root) for pattern in args.exclude],
            task_decorators=args.task_decorator,
            max_file_size=args.max_file_size,
            celery=args.celery,
        ),
        root=root,
    )
