"""The flake8 plugin (entry point ``CSF``): the findings of ``celery-safe check``, in flake8.

flake8 hands a plugin one file at a time, in several processes, but a file's findings
depend on other modules (a task imported for a canvas, a helper that joins). So each
process keeps the project index ``check`` uses (:class:`~.resolve.ModuleResolver`: the
modules a file imports, read on demand; one that several files use is read once per
process) and both share the findings cache on disk (:mod:`.cache`): a file unchanged since
the last run of either, with nothing it depends on changed, is not analysed again,
whichever process meets it. A file the engine's text pre-filter rules out is answered
before the cache (flake8 has parsed it already, so there is nothing to save).

What is the same for every file of a folder (its config, the cache of that config, the
pre-filter's words) is found once per folder and flake8 options, not once per file: the
plugin's own cost per file is then a dictionary lookup, the text test and the cache.

The config is the one ``check`` reads for the file's project (``[tool.celery-safe]``:
task decorators, size limit, select/ignore, target Celery), plus ``--celery-task-decorators``
and ``--celery-version`` (as ``check --celery``). flake8
decides what is shown (``# noqa``, ``--select``, ``--extend-ignore``). Opt-in codes
(catalogue ``default: false``, CSF9xx) are on flake8's default ignore list and, as
bugbear does for B9, run only when named at least as precisely as ``CSF9`` in flake8's
``--select``/``--extend-select`` (``--select=CSF`` alone does not), or when the
project's table turns them on for ``check`` too.
"""

from __future__ import annotations

import ast
import atexit
import multiprocessing
import multiprocessing.util
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from ... import __version__, catalogue
from ...celery_internals import default_target
from ..cache import FindingsCache, default_cache_dir, engine_key
from ..config import Config, ConfigError, load_config
from ..engine import check_tree, paused_gc, prefilter_words, wakes
from ..findings import Finding
from ..resolve import ModuleResolver
from ..supersede import winners

__all__ = ["Plugin", "named_opt_in", "named_superseded"]

#: How long a prefix must be to name an opt-in code: ``CSF9`` (bugbear: ``B9``).
NAMING_PREFIX = 4

#: One resolver and cache per config, for the life of this flake8 process.
_RUNS: dict[Config, FindingsCache] = {}


class _Folder(NamedTuple):
    """What the files of one folder share, under one set of flake8 options."""

    config: Config
    cache: FindingsCache
    #: the pre-filter's words for ``config`` (:func:`~.engine.prefilter_words`)
    words: tuple[str, ...]


#: (the file's folder, the plugin's options) -> :class:`_Folder`
_Codes = tuple[str, ...]
_FolderKey = tuple[str, _Codes, _Codes, str | None, _Codes, _Codes]
_FOLDERS: dict[_FolderKey, _Folder] = {}


def _opt_in_codes() -> tuple[str, ...]:
    return tuple(e.code for e in catalogue.all_codes().values() if not e.default)


def named_opt_in(codes: Iterable[str]) -> tuple[str, ...]:
    """The opt-in codes that ``codes`` (flake8's select and extend-select) name: a prefix
    of at least ``CSF9``, so ``CSF`` or ``C`` turn on only the codes on by default."""
    chosen = {c.strip().upper() for c in codes if len(c.strip()) >= NAMING_PREFIX}
    return tuple(
        code
        for code in _opt_in_codes()
        if any(code[:size] in chosen for size in range(NAMING_PREFIX, len(code) + 1))
    )


def named_superseded(options: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The superseded codes flake8's ``--select``/``--extend-select`` name in full, and
    those of their winners flake8 will not show (``--ignore CSF102 --select CSF101``).

    ``check --select CSF101`` shows CSF101 where an unselected CSF102 would supersede it
    (:mod:`..supersede`); flake8 decides what is shown after the plugin, so the plugin
    asks flake8's own decision engine which winners are off and tells the engine.
    """
    named = {
        c.strip().upper()
        for c in [*(getattr(options, "select", None) or ()),
                  *(getattr(options, "extend_select", None) or ())]
    }  # fmt: skip
    explicit = tuple(sorted(c for c in named if c in catalogue.all_codes() and winners(c)))
    if not explicit:
        return (), ()
    try:
        from flake8.style_guide import Decision, DecisionEngine

        decide = DecisionEngine(options)
        hidden = {
            w for c in explicit for w in winners(c) if decide.decision_for(w) != Decision.Selected
        }
    except Exception:  # why: an older flake8's engine, or options it cannot read
        return explicit, ()
    return explicit, tuple(sorted(hidden))


@lru_cache(maxsize=256)
def _project_config(folder: Path) -> Config:
    return _config_at(folder.resolve())


@lru_cache(maxsize=1024)
def _config_at(folder: Path) -> Config:
    """``load_config(folder)`` for a resolved folder, asked once per folder of a run: a
    folder without ``pyproject.toml`` is governed as its parent is, so the files of a
    project's folders share one walk up and one read of each pyproject."""
    if folder.parent == folder or (folder / "pyproject.toml").is_file():
        return load_config(folder)
    return _config_at(folder.parent)


def _cache_for(config: Config) -> FindingsCache:
    if config not in _RUNS:
        resolver = ModuleResolver(config.task_decorators, config.max_file_size)
        _RUNS[config] = FindingsCache.for_run(
            config, resolver, default_cache_dir(), _warn, batch=True
        )
        _write_at_exit()
    return _RUNS[config]


#: The process whose exit writes the entries its files computed (see ``_write_at_exit``).
_EXIT_HOOKED: int | None = None


def _write_at_exit() -> None:
    """Have this process write its computed entries when it ends, once per process.

    Why at the end: flake8 gives no end of run to a plugin, and a file written per file
    (a new file renamed into place) cost as much as analysing a small module. Each
    process writes its entries into the project's pack once (:meth:`.FindingsCache.flush`,
    locked against its siblings ending at the same time). flake8's workers are
    ``multiprocessing`` children, which end through ``os._exit`` without ``atexit``: their
    hook is a ``multiprocessing`` finalizer, which a pool worker runs as it ends (after
    ``pool.close()``). A process killed first loses its entries, never findings.
    """
    global _EXIT_HOOKED
    if os.getpid() == _EXIT_HOOKED:
        return
    _EXIT_HOOKED = os.getpid()
    if multiprocessing.parent_process() is not None:
        multiprocessing.util.Finalize(None, _write_runs, exitpriority=1)
    else:
        atexit.register(_write_runs)


def _write_runs() -> None:
    """Write (and let go) the entries the caches of this process computed."""
    if os.getpid() != _EXIT_HOOKED:
        return  # a hook a forked process inherited: its parent writes its own
    for cache in _RUNS.values():
        cache.close()


def _warn(text: str) -> None:
    print(text, file=sys.stderr)


class Plugin:
    """``flake8`` tree plugin: yields ``(line, col, "CSF101 message", type)``."""

    name = "celery-safe"
    version = __version__  # the distribution's (pyproject reads it), without a metadata scan
    #: ``--celery-task-decorators``
    task_decorators: tuple[str, ...] = ()
    #: opt-in codes flake8's options name explicitly
    named: tuple[str, ...] = ()
    #: ``--celery-version``: the Celery the project runs (None: the config's or installed)
    celery: str | None = None
    #: superseded codes flake8's ``--select`` names in full, and their winners flake8
    #: does not show: given to the engine as ``check --select`` would (``.supersede``)
    explicit: tuple[str, ...] = ()
    hidden_winners: tuple[str, ...] = ()

    def __init__(self, tree: ast.Module, filename: str = "<stdin>", lines: Sequence[str] = ()):
        self.tree = tree
        self.filename = filename
        self.lines = list(lines) if lines else None

    @classmethod
    def add_options(cls, manager: Any) -> None:
        manager.add_option(
            "--celery-task-decorators",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="Extra decorators (qualified names, e.g. myproj.jobs.job) that register "
            "Celery tasks, for celery-safe's CSF codes.",
        )
        manager.add_option(
            "--celery-version",
            default=None,
            parse_from_config=True,
            help="The Celery version the project runs (e.g. 5.4) for celery-safe's "
            "version-dependent CSF checks (default: [tool.celery-safe] celery, else the "
            "installed Celery, else the newest supported).",
        )
        opt_in = _opt_in_codes()
        if opt_in:
            manager.extend_default_ignore(opt_in)

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.task_decorators = tuple(getattr(options, "celery_task_decorators", None) or ())
        cls.celery = getattr(options, "celery_version", None)  # "" is refused, as check does
        cls.named = named_opt_in(
            [*(getattr(options, "select", None) or ()),
             *(getattr(options, "extend_select", None) or ())]
        )  # fmt: skip
        cls.explicit, cls.hidden_winners = named_superseded(options)
        _write_runs()  # a new run: files may have changed since the last one in this process
        _RUNS.clear()
        _FOLDERS.clear()
        _project_config.cache_clear()
        _config_at.cache_clear()
        # the per-process answers every worker's first file would look for, found here:
        # flake8 forks its workers after this call, so they inherit them (-j 1: the same cost)
        default_target()
        if default_cache_dir() is not None:
            engine_key()

    def config(self) -> Config:
        """``check``'s config for this file's project, with flake8's options on top."""
        return self._folder().config

    def _folder(self) -> _Folder:
        cls = type(self)
        # why the options are in the key: tests (and a host) may set them between files
        key = (os.path.dirname(os.path.abspath(self.filename)), cls.task_decorators, cls.named,
               cls.celery, cls.explicit, cls.hidden_winners)  # fmt: skip
        folder = _FOLDERS.get(key)
        if folder is None or _RUNS.get(folder.config) is not folder.cache:
            config = self._config()
            folder = _Folder(config, _cache_for(config), prefilter_words(config, True))
            _FOLDERS[key] = folder
        return folder

    def _config(self) -> Config:
        project = _project_config(Path(self.filename).absolute().parent)
        extra = [code for code in self.named if not project.enabled(code)]
        extra += [c for c in self.explicit if c not in (*project.select, *project.extend_select)]
        hidden = [code for code in self.hidden_winners if project.enabled(code)]
        decorators = [d for d in self.task_decorators if d not in project.task_decorators]
        if not extra and not hidden and not decorators and self.celery is None:
            return project  # the same config, so the same cache entries, as ``check``
        return project.merged(
            extend_select=extra, ignore=hidden, task_decorators=decorators, celery=self.celery
        )

    def findings(self) -> list[Finding]:
        config, cache, words = self._folder()
        path = Path(self.filename)

        def compute() -> list[Finding]:
            elsewhere = cache.resolver.for_file(path)
            try:
                return check_tree(
                    self.tree, self.filename, self.lines, config, noqa=False,
                    tasks_elsewhere=elsewhere,
                )  # fmt: skip
            finally:
                # why now, not at the next file: flake8 runs its collector on other work
                # before then, and the modules only this file read would be walked by it
                cache.resolver.release()

        if self.lines is None:
            return compute()
        source = "".join(self.lines)
        if not wakes(source, words):  # ``might_report``, its words found once per folder
            # why bail before the cache: flake8 has parsed the file already, so the text
            # test answers sooner than an entry could be read, and half of a project's
            # files stop here (check_tree would return [] at the same test)
            return []
        return cache.findings(path, source, compute)

    def run(self) -> Iterator[tuple[int, int, str, type[Plugin]]]:
        try:
            with paused_gc():  # as in check: the project's trees are many objects, no cycles
                found = self.findings()
        except ConfigError as exc:  # flake8 prints its own error as one message, not a trace
            from flake8.exceptions import ExecutionError

            raise ExecutionError(f"celery-safe: {exc}") from None
        for finding in found:
            yield finding.line, finding.col, finding.message, type(self)
