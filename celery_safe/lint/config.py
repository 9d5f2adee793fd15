"""Lint configuration: which codes run, what else counts as a task, what to skip.

Read from ``[tool.celery-safe]`` in ``pyproject.toml``::

    [tool.celery-safe]
    select = ["CSF9"]                     # turn on opt-in codes (prefixes allowed)
    ignore = ["CSF105"]                   # turn codes off
    task-decorators = ["myproj.jobs.job"] # extra decorators that register Celery tasks
    exclude = ["migrations", "tests/fixtures"]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import catalogue

__all__ = ["Config", "ConfigError", "find_pyproject", "load_config"]


class ConfigError(ValueError):
    """A ``[tool.celery-safe]`` table that cannot be understood (names the bad key)."""


@dataclass(frozen=True)
class Config:
    """What the engine reports. ``select``/``ignore`` hold codes or code prefixes."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    task_decorators: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    root: Path | None = field(default=None, compare=False)

    def enabled(self, code: str) -> bool:
        """On when selected explicitly, else when on by default and not ignored.

        The longest matching prefix wins, as in flake8: ``ignore=["CSF1"]`` with
        ``select=["CSF101"]`` keeps CSF101 on.
        """
        chosen = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        dropped = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        if chosen > dropped:
            return True
        if dropped >= 0:
            return False
        try:
            return catalogue.get(code).default
        except KeyError:
            return True

    def merged(
        self,
        *,
        select: Iterable[str] = (),
        ignore: Iterable[str] = (),
        task_decorators: Iterable[str] = (),
        exclude: Iterable[str] = (),
    ) -> Config:
        """This config with command-line values added on top."""
        return replace(
            self,
            select=self.select + _codes(select, "select"),
            ignore=self.ignore + _codes(ignore, "ignore"),
            task_decorators=self.task_decorators + tuple(task_decorators),
            exclude=self.exclude + tuple(exclude),
        )

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], root: Path | None = None) -> Config:
        """Build from a ``[tool.celery-safe]`` table; unknown keys are an error."""
        known = {"select", "ignore", "task-decorators", "exclude"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(
                f"[tool.celery-safe]: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(
            select=_codes(_strings(table, "select"), "select"),
            ignore=_codes(_strings(table, "ignore"), "ignore"),
            task_decorators=_strings(table, "task-decorators"),
            exclude=_strings(table, "exclude"),
            root=root,
        )


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
        except (OSError, tomllib.TOMLDecodeError) as exc:
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
