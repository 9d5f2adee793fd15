"""Cross-module lookup for ``celery-safe check``: ``from proj.tasks import add``.

Finds the imported module's file the way Python would from the importing file's
package root (the folder above its top-most package), parses it once, indexes it
(statements only) and returns the ``def`` the name refers to: a task, so canvas rules
can check links whose tasks live elsewhere, or a helper function, analysed on demand
so CSF104 follows joins into other modules. ``check`` and the flake8 plugin share it
(one per run, or per flake8 process). It records what each file's analysis depended on
(:attr:`ModuleResolver.asked`, :attr:`ModuleResolver.digests`), so the findings cache
(:mod:`.cache`) knows when a file's findings go stale.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .config import DEFAULT_MAX_FILE_SIZE
from .files import UNREADABLE, Unreadable, digest, read_bytes
from .interp.analysis import let_go
from .interp.index import FunctionInfo, ModuleIndex, build_index
from .interp.serializers import json_only
from .interp.workerimports import ProjectSource, WorkerImports, worker_imports
from .interp.workerlost import WorkerLostScan

__all__ = ["ModuleResolver", "ScanInputs", "ScanStore", "TaskLookup", "listing", "stamp_of"]

#: ``qualified name -> definition`` (``None``: nothing we can see).
TaskLookup = Callable[[str], "FunctionInfo | None"]


def _package_root(path: Path) -> Path:
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


#: How many re-exports (``from .x import *`` in a package) are followed to a class.
_REEXPORT_HOPS = 3
#: How many folders above an importer may be a namespace package's root.
_NAMESPACE_DEPTH = 6


def _file_of(base: Path, parts: list[str]) -> Path | None:
    target = base.joinpath(*parts)
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


#: A file's identity as a scan read it: (size, mtime, ctime, inode); None: absent.
FileStamp = tuple[int, int, int, int] | None


def stamp_of(path: Path | str) -> FileStamp:
    """The file's stamp (a link followed, as reading it does); None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


@dataclass
class ScanInputs:
    """What a project scan read, so its answer is reused only while all of it is unchanged
    (the findings cache keeps the answer: :class:`ScanStore`)."""

    #: the scan's walk of its root (:func:`listing`)
    listing: str
    #: other files looked at, by path: their stamps when looked at (None: absent)
    files: dict[str, FileStamp] = field(default_factory=dict)
    #: folders walked besides the root (a package's submodules): their :func:`listing`
    walks: dict[str, str] = field(default_factory=dict)
    #: modules parsed (through the index): their imports and their own imports' files
    #: are checked as a findings entry's are
    parsed: set[Path] = field(default_factory=set)


class ScanStore(Protocol):
    """Where a project scan's answer outlives the process (the findings cache's folder)."""

    def load(self, kind: str, root: Path, resolver: ModuleResolver) -> tuple[Any, str] | None:
        """The stored answer (as JSON) of that scan and its key, when what it read is
        unchanged; None otherwise."""

    def save(self, kind: str, root: Path, answer: Any, inputs: ScanInputs,
             resolver: ModuleResolver) -> str:
        """Keep the answer (JSON); its key (the same for the same inputs and answer)."""


class ModuleResolver:
    """Shared by all files of one run: a module several files use is read and indexed
    once; one only a single file uses is let go when the next file begins.

    Why let go: an index holds its module's syntax tree, tens of thousands of objects
    that every full collection of the host's garbage collector walks (flake8's, for the
    whole run). Most modules a file looks into serve that file only (measured on celery
    and kombu: each of the 15 modules looked into was used by one file), so keeping
    them made flake8's collections cost more than parsing them again. A module asked
    for by a second file is kept from then on.
    """

    def __init__(
        self, task_decorators: Sequence[str] = (), max_file_size: int = DEFAULT_MAX_FILE_SIZE
    ) -> None:
        self.task_decorators = tuple(task_decorators)
        self.max_file_size = max_file_size
        self._indexes: dict[Path, ModuleIndex | None] = {}
        self._files: dict[tuple[str, Path], Path | None] = {}
        self._classes: dict[tuple[str, Path], tuple[ModuleIndex, str] | None] = {}
        #: importer -> the modules looked up on its behalf (its own lookups, not transitive)
        self.asked: dict[Path, set[str]] = {}
        #: each module file parsed -> :func:`~.files.digest` of the bytes parsed
        self.digests: dict[Path, str] = {}
        #: which file's analysis (a count of :meth:`for_file` calls) last used an index
        self._file = 0
        self._used_by: dict[Path, int] = {}
        #: modules used by more than one file: kept for the rest of the run
        self._shared: set[Path] = set()
        #: importers whose findings depend on every file of their project (a name nothing
        #: registers): the findings cache tracks no such thing, so it keeps none of theirs
        self.project_wide: set[Path] = set()
        #: where scans' answers are kept between runs (set by the findings cache)
        self.store: ScanStore | None = None
        #: (scan kind, root) -> its answer in this run (computed, or a stored one)
        self._answers: dict[tuple[str, Path], Any] = {}
        #: (scan kind, root) -> the key of its answer in the store (None: not storable)
        self.scan_keys: dict[tuple[str, Path], str | None] = {}
        #: importer -> the scans (kind, root) its project-wide answers came from
        self.scans_used: dict[Path, set[tuple[str, Path]]] = {}
        #: (folder, with deployment files) -> :func:`listing`, walked once per run
        self._listings: dict[tuple[Path, bool], str] = {}
        #: project root -> what its text says of ``reject_on_worker_lost`` (static CSF402;
        #: its askers' findings are project-wide, not kept by the findings cache)
        self._worker_lost: dict[Path, WorkerLostScan] = {}
        #: folder -> its ``resolve()``: the files of one folder resolve it once
        self._real_folders: dict[Path, Path] = {}
        #: folder -> the folder above its top-most package (:meth:`package_root`)
        self._roots: dict[Path, Path] = {}

    def real(self, path: Path) -> Path:
        """``path.resolve()``, with its folder resolved once per run.

        Why: ``resolve()`` looks at every folder above the file (a system call each);
        ``check`` resolves each file it analyses twice (its lookups, its cache entry).
        A file that is not a link resolves to its folder's real path plus its name.
        """
        folder, name = path.parent, path.name
        if name in ("", "..") or os.path.islink(path):
            return path.resolve()
        if folder not in self._real_folders:
            self._real_folders[folder] = folder.resolve()
        return self._real_folders[folder] / name

    def package_root(self, path: Path) -> Path:
        """The folder above the top-most package holding ``path`` (its project, as the
        findings cache groups entries); asked once per folder in a run."""
        folder = path.parent
        if folder not in self._roots:
            self._roots[folder] = _package_root(path)
        return self._roots[folder]

    def for_file(self, path: Path) -> TaskLookup:
        """What ``path``'s analysis sees of the other modules; a new file begins, so the
        indexes only earlier files used are let go (see the class docstring)."""
        self._file += 1
        self.release()
        return _Lookup(self, self.real(path))

    def release(self) -> None:
        """Let go now of the indexes only the files so far used, as the next
        :meth:`for_file` would (a module asked for again is read again, and kept).

        Why a host calls it when a file's analysis ends: flake8 checks other files (and
        runs its collector) before the next one reaches the plugin; dropped while
        collection is paused, an index's cycles are freed by the first young collection
        instead of being promoted and walked by the older ones first.
        """
        unshared = [p for p, index in self._indexes.items()
                    if index is not None and p not in self._shared]  # fmt: skip
        for gone in unshared:
            del self._indexes[gone]
        if unshared:
            self._classes.clear()  # its entries hold indexes

    def close(self) -> None:
        """The run is over: the modules kept are let go, their cycles broken (see
        :func:`~.interp.analysis.let_go`), so nothing of them waits for the collector."""
        for index in self._indexes.values():
            if index is not None:
                let_go(index)
        self._indexes.clear()
        self._classes.clear()

    def makes_tasks(self, qualified: str, importer: Path) -> bool:
        """Is ``qualified`` a project decorator (alias or factory) of Celery tasks?"""
        module, _, name = qualified.rpartition(".")
        candidate = self._module_file(module, importer) if module and name else None
        if candidate is None or candidate == importer:
            return False
        index = self._index(candidate)
        return index is not None and name in index.task_decorators

    def class_method(self, qualified: str, method: str, importer: Path) -> FunctionInfo | None:
        """``method`` of the class ``qualified`` names, seen from ``importer``."""
        home = self.class_home(qualified, importer)
        return home[0].method(home[1], method) if home is not None else None

    def class_home(self, qualified: str, importer: Path) -> tuple[ModuleIndex, str] | None:
        """The module defining the class ``qualified`` names, and its name there.

        Follows what packages do with their classes: a re-export
        (``from .saved_run import SavedRun`` in ``models/__init__.py``) or a star import
        (``from .saved_run import *``), a few hops at most.
        """
        key = (qualified, importer)
        if key not in self._classes:
            self._classes[key] = None  # a cycle of re-exports finds nothing
            self._classes[key] = self._class_home(qualified, importer, 0)
        return self._classes[key]

    def _class_home(
        self, qualified: str, importer: Path, hops: int
    ) -> tuple[ModuleIndex, str] | None:
        module, _, name = qualified.rpartition(".")
        candidate = self._module_file(module, importer) if module and name else None
        if candidate is None or candidate == importer:
            return None
        index = self._index(candidate)
        if index is None:
            return None
        if name in index.classes:
            return index, name
        if hops >= _REEXPORT_HOPS:
            return None
        imported = index.imports.names.get(name)
        if imported is not None:
            return self._class_home(imported, candidate, hops + 1)
        for star in index.imports.stars:
            found = self._class_home(f"{star}.{name}" if star.strip(".") else star + name,
                                     candidate, hops + 1)
            if found is not None:
                return found
        return None

    def definition(self, qualified: str, importer: Path) -> FunctionInfo | None:
        """The task or top-level function ``qualified`` names, seen from ``importer``."""
        module, _, name = qualified.rpartition(".")
        if not module or not name:
            return None
        candidate = self._module_file(module, importer)
        if candidate is None or candidate == importer:
            return None
        index = self._index(candidate)
        if index is None:
            return None
        return index.task_names.get(name) or index.top_level.get(name)

    def module_index(self, module: str, importer: Path) -> ModuleIndex | None:
        """The index (and tree) of the module ``import module`` in ``importer`` finds."""
        candidate = self._module_file(module, importer)
        return None if candidate is None or candidate == importer else self._index(candidate)

    def task_named(
        self, name: str, importer: Path, imported: Sequence[str] = ()
    ) -> FunctionInfo | None:
        """The task Celery registers as ``name`` (``send_task("shop.tasks.add")``): the
        default name of a task in the module ``shop.tasks`` (as ``importer`` finds it) or
        an explicit ``name=`` there, else an explicit one in a module of ``imported``."""
        module, _, function = name.rpartition(".")
        for where in (module, *imported) if module and function else imported:
            candidate = self._module_file(where, importer)
            if candidate is None or candidate == importer:
                continue
            index = self._index(candidate)
            found = index.task_registered_as(name, where) if index is not None else None
            if found is not None:
                return found
        return None

    def task_named_in_project(self, name: str, importer: Path) -> FunctionInfo | None:
        """The task registered as ``name`` by an explicit ``name=`` (or a task class's
        ``name = ...``) in any module of ``importer``'s project: a beat schedule's
        module imports no task module, yet Celery's registry holds them all.

        The project's files are scanned once per run for such names (only when a beat
        entry is not found otherwise; the answer is kept in the findings cache while the
        project's files are unchanged: :meth:`_scanned`). A module found is a dependency
        of ``importer`` (the findings cache); so is the scan's answer (``importer`` goes
        in :attr:`project_wide`, with the scan's key): a task whose name is added later is
        checked in the next run.
        """
        root = _package_root(importer)
        self._project_wide(importer, "names", root)
        for path in self._names(root).get(name, ()):
            module = self.module_name(path)
            if not module or self._module_file(module, importer) != path:
                continue  # why: not reachable by its name; the cache could not track it
            index = self._index(path)
            found = index.task_registered_as(name, None) if index is not None else None
            if found is not None:
                return found
        return None

    def names_unknown(self, name: str, importer: Path) -> bool:
        """Whether some file of ``importer``'s project other than ``importer`` may register
        ``name`` in a way no index sees: it assigns the string ``name`` to a constant
        (``TASK = "shop.tasks.add"``) or writes it as a ``name=``, a task decorator takes a name
        that is not a literal (``name=f"{PREFIX}.add"``), or ``gen_task_name`` is
        overridden. Scanned once per project root per run (like
        :meth:`task_named_in_project`). The answer depends on every file of the project:
        ``importer`` goes in :attr:`project_wide`, and its findings are cached only with
        the key of the scan's answer (:attr:`scans_used`), valid while no file of the
        project changes (a stale finding would outlive the registration that clears it)."""
        root = _package_root(importer)
        written, unknown = self._strings(root, importer)
        return unknown or any(path != importer for path in written.get(name, ()))

    def never_imported(
        self, defined_in: Path, importer: Path
    ) -> tuple[WorkerImports, str, str] | None:
        """The worker's imports, the module's name and why, when the worker of
        ``importer``'s project never imports the module at ``defined_in`` (the tasks it
        defines are unregistered there); None when it does or that is not known
        (:mod:`.interp.workerimports`). Computed once per project root per run. Either
        answer rests on every file of the project: ``importer`` goes in
        :attr:`project_wide` (as :meth:`names_unknown`), so its findings are kept only
        with the worker scan's key, and a file that changes what the worker imports
        invalidates them (a finding that goes, or a silence that does)."""
        root = _package_root(importer)
        module = _Project.name(root, defined_in)
        if module is None:
            return None
        worker = self._worker(root)
        self._project_wide(importer, "worker", root)
        if worker is None or module in worker.modules:
            return None
        return worker, module, worker.why_not(module)

    def sends_json(self, importer: Path) -> bool:
        """Whether every task of ``importer``'s project is sent with Celery's default
        serializer, JSON: no file of the project writes a serializer setting or option
        other than the literal ``"json"`` (``task_serializer``, ``CELERY_TASK_SERIALIZER``,
        ``serializer=`` of a task or a call), teaches kombu's JSON new types
        (``register_type``) or touches ``kombu.serialization``, loads its configuration
        from somewhere no scan reads (``config_from_envvar``, ``conf.update(**...)``), or
        gives its app another task class (``task_cls``, ``app.Task = ...``).
        Scanned once per repository (else package root) per run; like
        :meth:`names_unknown`, the answer
        depends on every file of the project: ``importer`` goes in :attr:`project_wide`."""
        root = _repository_root(importer)
        self._project_wide(importer, "json", root)
        answer: bool = self._scanned("json", root, lambda _: _scan_json(root, self.max_file_size))
        return answer

    def worker_lost(self, importer: Path) -> WorkerLostScan:
        """What the text of ``importer``'s project (its package root) says of a lost
        worker's protection (:mod:`.interp.workerlost`): every ``.py`` file and every
        configuration or deployment file, read once per root per run. Like
        :meth:`names_unknown`, it depends on every file: ``importer`` goes in
        :attr:`project_wide`."""
        self.project_wide.add(importer)
        root = _package_root(importer)
        if root not in self._worker_lost:
            self._worker_lost[root] = _scan_worker_lost(root, self.max_file_size)
        return self._worker_lost[root]

    def bare_task_names(self, importer: Path) -> frozenset[str] | None:
        """The names without a dot a task of ``importer``'s project may be registered under:
        every ``name="..."`` written without a dot (a task's default name always has one);
        None when some file names tasks in a way no scan reads. Depends on every file of
        the project, as :meth:`names_unknown` (``importer`` goes in :attr:`project_wide`)."""
        root = _package_root(importer)
        if self._strings(root, importer)[1]:
            return None
        self._project_wide(importer, "names", root)
        return frozenset(name for name in self._names(root) if "." not in name)

    # -- project scans, their answers kept in the findings cache -----------------------
    def _project_wide(self, importer: Path, kind: str, root: Path) -> None:
        """``importer``'s findings rest on the answer of that scan of the whole project."""
        self.project_wide.add(importer)
        self.scans_used.setdefault(importer, set()).add((kind, root))

    def _names(self, root: Path) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = self._scanned(
            "names", root, lambda _: _scan_names(root, self.max_file_size))
        return found

    def _strings(self, root: Path, importer: Path) -> tuple[dict[str, list[Path]], bool]:
        self._project_wide(importer, "strings", root)
        found: tuple[dict[str, list[Path]], bool] = self._scanned(
            "strings", root, lambda _: _scan_strings(root, self.max_file_size))
        return found

    def _worker(self, root: Path) -> WorkerImports | None:
        self.stored("worker", root)  # site-packages: known at once (see there)
        found: WorkerImports | None = self._scanned(
            "worker", root, lambda inputs: _worker_of(root, self, inputs))
        return found

    @staticmethod
    def _one_project(root: Path) -> bool:
        """Not a folder of installed distributions (``*.dist-info`` beside the packages:
        site-packages holds many projects, and no one worker's)."""
        try:
            return not any(entry.name.endswith(".dist-info") for entry in os.scandir(root))
        except OSError:
            return False

    def _scanned(self, kind: str, root: Path, scan: Callable[[ScanInputs | None], Any]) -> Any:
        """The answer of a project scan, once per (kind, root) in a run: the store's when
        every file it read is unchanged, else scanned (the files stamped before they are
        read, so an edit made during the scan is seen by the next run) and stored."""
        key = (kind, root)
        if key in self._answers:
            return self._answers[key]
        if self.stored(kind, root) is not None:
            return self._answers[key]
        inputs = ScanInputs(self.listing(root, kind == "worker")) if self.store else None
        answer = scan(inputs)
        self._answers[key] = answer
        self.scan_keys[key] = None
        if self.store is not None and inputs is not None:
            encode = _CODECS[kind][0]
            self.scan_keys[key] = self.store.save(kind, root, encode(answer), inputs, self)
        return answer

    def stored(self, kind: str, root: Path) -> str | None:
        """The key of that scan's answer in this run, taken from the store when it is not
        known yet and every file it read is unchanged; None: none is known (not scanned yet,
        or not storable)."""
        key = (kind, root)
        if key in self.scan_keys:
            return self.scan_keys[key]
        if kind == "worker" and not self._one_project(root):
            self._answers[key] = None  # site-packages is no one worker's: no scan
            self.scan_keys[key] = _INSTALLED
            return _INSTALLED
        if self.store is None or kind not in _CODECS:
            return None
        found = self.store.load(kind, root, self)
        if found is None:
            return None
        try:
            self._answers[key] = _CODECS[kind][1](found[0])
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            return None  # a damaged answer: scanned again
        self.scan_keys[key] = found[1]
        return found[1]

    def listing(self, folder: Path, deployment: bool = False) -> str:
        """:func:`listing` of ``folder``, walked once per run."""
        key = (folder, deployment)
        if key not in self._listings:
            self._listings[key] = listing(folder, deployment)
        return self._listings[key]

    @staticmethod
    def module_name(path: Path) -> str:
        """The import path of the module at ``path`` (``shop.tasks``), from its package root."""
        relative = path.with_suffix("").relative_to(_package_root(path))
        parts = list(relative.parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def module_file(self, module: str, importer: Path) -> Path | None:
        """The file ``import module`` in ``importer`` finds (resolved), or ``None``."""
        return self._module_file(module, importer)

    def _module_file(self, module: str, importer: Path) -> Path | None:
        self.asked.setdefault(importer, set()).add(module)
        key = (module, importer.parent)
        if key not in self._files:
            self._files[key] = self._find_module_file(module, importer)
        return self._files[key]

    def _find_module_file(self, module: str, importer: Path) -> Path | None:
        if module.startswith("."):
            level = len(module) - len(module.lstrip("."))
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            parts = [p for p in module[level:].split(".") if p]
        else:
            base = _package_root(importer)
            parts = module.split(".")
        found = _file_of(base, parts)
        if found is not None or module.startswith("."):
            return found
        # PEP 420 namespace packages (folders without __init__.py): the project's root
        # may be any folder above the importer, as on sys.path
        folder = importer.parent
        for _ in range(_NAMESPACE_DEPTH):
            if folder != base:
                found = _file_of(folder, parts)
                if found is not None:
                    return found
            if folder.parent == folder:
                break
            folder = folder.parent
        return None

    def _index(self, path: Path) -> ModuleIndex | None:
        """The module's index, with an analysis attached (run lazily, per function)."""
        if self._used_by.setdefault(path, self._file) != self._file:
            self._shared.add(path)  # a second file uses it
        if path not in self._indexes:
            self._indexes[path] = None
            try:
                data = read_bytes(path, self.max_file_size)  # never a FIFO or a device
            except (OSError, Unreadable):
                self.digests[path] = UNREADABLE
                return None
            self.digests[path] = digest(data)
            try:
                tree = ast.parse(data, filename=str(path))
                lookup = _Lookup(self, path)
                index = build_index(tree, self.task_decorators, lookup.makes_tasks)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return None
            index.path, index.tree = str(path), tree  # analysed only if a helper is used
            index.external = lookup
            index.link_task_classes()
            self._indexes[path] = index
        return self._indexes[path]


#: ``name="shop.add"`` / ``name = 'shop.add'``: an explicit task name, as written.
_EXPLICIT_NAME = re.compile(rb"""\bname\s*=\s*(['"])([\w.:-]+)\1""")
#: Folders never scanned for task names (virtual environments, caches, builds).
_NOT_PROJECT = frozenset({"node_modules", "site-packages", "__pycache__", "build", "dist",
                          "venv", "env"})
#: At most this many files are scanned (a schedule in a huge tree stays partly unknown).
_MAX_SCANNED = 20_000


def _scan_names(root: Path, max_file_size: int) -> dict[str, list[Path]]:
    """Explicit task names written in the ``.py`` files under ``root``."""
    names: dict[str, list[Path]] = {}
    scanned = 0
    for folder, dirs, files in os.walk(root):  # never follows links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT)
        for file in sorted(files):
            if not file.endswith(".py") or scanned >= _MAX_SCANNED:
                continue
            scanned += 1
            path = Path(folder, file)
            try:
                data = read_bytes(path, max_file_size)
            except (OSError, Unreadable):
                continue
            for match in _EXPLICIT_NAME.finditer(data):
                name = match.group(2).decode("ascii", "replace")
                names.setdefault(name, []).append(path.resolve())
    return names


#: a dotted string a module may register a task by: a constant (``TASK = "shop.tasks.add"``,
#: at the start of a line) or an explicit name (``name="shop.tasks.add"``)
_NAMING = re.compile(
    rb"""(?:^[ \t]*[A-Za-z_]\w*[ \t]*(?::[^=\n]*)?=|\bname[ \t]*=)[ \t]*"""
    rb"""(['"])([A-Za-z_]\w*(?:\.\w+)+)\1""",
    re.M,
)
#: task names no scan can read: a task decorator's non-literal ``name=``, a name built
#: from a literal (``name="shop.tasks.%s" % job``, ``+``, ``.format``: in a loop of
#: ``app.task(name=...)(f)``, or a Task class's ``name = "shop." + "x"``), or Celery's
#: ``gen_task_name`` overridden (a method, or assigned: ``app.gen_task_name = f``)
_NAMES_UNKNOWN = re.compile(
    rb"""task\([^)]*\bname\s*=\s*(?![\s'"])|\bdef\s+gen_task_name\b"""
    rb"""|\bgen_task_name[ \t]*=(?!=)"""
    rb"""|\bname[ \t]*=[ \t]*(['"])[A-Za-z_][\w.%{}]*\.[\w.%{}]*\1[ \t]*(?:[%+]|\.[ \t]*\w)"""
)


#: a Task class registered by hand (``app.register_task(Klass())``) whose ``name`` attribute
#: is not a literal (``name = PREFIX + ".x"``): a name no scan reads
_REGISTERS_CLASS = re.compile(rb"""\bregister_task\(|\btasks\.register\(""")
_NAME_ATTRIBUTE = re.compile(rb"""^[ \t]+name[ \t]*(?::[^=\n]*)?=[ \t]*(?![\s'"#])""", re.M)


def _scan_strings(root: Path, max_file_size: int) -> tuple[dict[str, list[Path]], bool]:
    """The dotted names the ``.py`` files under ``root`` may register tasks by
    (:data:`_NAMING`, by file), and whether any file names tasks in a way no scan reads
    (:data:`_NAMES_UNKNOWN`)."""
    written: dict[str, list[Path]] = {}
    unknown = False
    for path, data in _project_sources(root, max_file_size):
        if data is None:
            return written, True  # why: an unread file may register anything
        unknown = unknown or _NAMES_UNKNOWN.search(data) is not None or (
            _REGISTERS_CLASS.search(data) is not None
            and _NAME_ATTRIBUTE.search(data) is not None
        )
        for match in _NAMING.finditer(data):
            name = match.group(2).decode("ascii", "replace")
            written.setdefault(name, []).append(path.resolve())
    return written, unknown


def _project_sources(root: Path, max_file_size: int) -> Iterator[tuple[Path, bytes | None]]:
    """Each ``.py`` file under ``root`` (folders of other projects, builds and caches
    skipped; links to folders never followed) with its bytes; ``None`` for a file that
    cannot be read, and once, at the end, when the tree has more files than are read."""
    scanned = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT)
        for file in sorted(files):
            if not file.endswith(".py"):
                continue
            scanned += 1
            if scanned > _MAX_SCANNED:
                yield root, None  # why: a tree too large to read is not known
                return
            path = Path(folder, file)
            try:
                yield path, read_bytes(path, max_file_size)
            except (OSError, Unreadable):
                yield path, None


def listing(root: Path, deployment: bool = False) -> str:
    """A digest of what a project scan of ``root`` walks: each ``.py`` file (and with
    ``deployment``, each deployment file :func:`_worker_of` reads) under the folders the
    scans enter, by path, with its stamp (:func:`stamp_of`). A file added, removed,
    renamed or written changes it; cheaper than the scan by far (no file is read)."""
    rows: list[object] = []
    for folder, dirs, files in os.walk(root):  # never follows links to folders, as the scans
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT)
        for file in sorted(files):
            if file.endswith(".py") or (deployment and _DEPLOYMENT.match(file)):
                path = os.path.join(folder, file)
                rows.append([os.path.relpath(path, root), stamp_of(path)])
    text = json.dumps([str(root), rows])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _paths_out(found: dict[str, list[Path]]) -> dict[str, list[str]]:
    return {name: [str(p) for p in paths] for name, paths in found.items()}


def _paths_in(data: Any) -> dict[str, list[Path]]:
    if not isinstance(data, dict):
        raise TypeError("not a mapping")
    return {str(name): [Path(str(p)) for p in paths] for name, paths in data.items()}


def _worker_out(worker: WorkerImports | None) -> Any:
    if worker is None:
        return None
    return {"app": worker.app, "modules": sorted(worker.modules),
            "discovered": [list(pair) for pair in worker.discovered]}


def _worker_in(data: Any) -> WorkerImports | None:
    if data is None:
        return None
    discovered = tuple((str(package), None if name is None else str(name))
                       for package, name in data["discovered"])
    return WorkerImports(str(data["app"]), frozenset(str(m) for m in data["modules"]),
                         discovered)


#: The key of the worker scan's answer for a folder of installed distributions (not known,
#: without a scan): it stays so while the folder holds ``*.dist-info``.
_INSTALLED = "installed distributions"

#: scan kind -> (its answer as JSON, the answer from JSON)
_CODECS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "names": (_paths_out, _paths_in),
    "strings": (lambda a: [_paths_out(a[0]), a[1]],
                lambda d: (_paths_in(d[0]), bool(d[1])) if isinstance(d[1], bool) else
                _raise(TypeError("not a flag"))),
    "json": (bool, lambda d: d if isinstance(d, bool) else _raise(TypeError("not a flag"))),
    "worker": (_worker_out, _worker_in),
}


def _raise(exc: Exception) -> Any:
    raise exc


#: How many folders above a package root a repository's root is looked for.
_REPOSITORY_DEPTH = 6


def _repository_root(importer: Path) -> Path:
    """The folder of the git repository holding ``importer``'s package (its settings may
    sit in a folder beside the package, not under it), else its package root."""
    root = folder = _package_root(importer)
    for _ in range(_REPOSITORY_DEPTH):
        if (folder / ".git").exists():
            return folder
        if folder.parent == folder:
            break
        folder = folder.parent
    return root


def _scan_json(root: Path, max_file_size: int) -> bool:
    """Whether the ``.py`` files under ``root`` leave every task on JSON (see
    :meth:`ModuleResolver.sends_json`)."""
    # why all: an unread file (or one past the limit) may set any serializer
    return all(data is not None and json_only(data)
               for _, data in _project_sources(root, max_file_size))


#: ``Celery`` written in a file: a module that may make an app (or a subclass of it)
_MAKES_APP = re.compile(rb"\bCelery\b")
_INSTALLED_APPS = re.compile(rb"^\s*INSTALLED_APPS\s*[:+]?=", re.M)
#: a worker command line importing more modules than the app says (a deployment file)
_CLI_INCLUDE = re.compile(rb"celery\b[^\n]*\s(?:-I|--include)\b")
_DEPLOYMENT = re.compile(r"(?i)^(procfile|makefile|dockerfile.*|.*\.(sh|ya?ml|ini|cfg|toml|conf|"
                         r"service|env|json|txt))$")


#: a file of environment settings (``.env``, ``.env.production``, ``prod.env``)
_ENV_FILE = re.compile(r"(?i)^(\.env(\..*)?|.*\.env)$")


def _scan_worker_lost(root: Path, max_file_size: int) -> WorkerLostScan:
    """The ``.py``, configuration and deployment files under ``root`` read into a
    :class:`WorkerLostScan`, until one leaves it unknown (as does a tree too large to
    read)."""
    scan = WorkerLostScan()
    scanned = 0
    for folder, dirs, files in os.walk(root):  # never follows links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT)
        for file in sorted(files):
            python = file.endswith(".py")
            if not (python or _DEPLOYMENT.match(file) or _ENV_FILE.match(file)):
                continue
            scanned += 1
            if scanned > _MAX_SCANNED:
                scan.unknown("the project has too many files to read")
                return scan
            path = Path(folder, file)
            try:
                data: bytes | None = read_bytes(path, max_file_size)
            except (OSError, Unreadable):
                data = None
            scan.add(path.relative_to(root).as_posix(), data, python)
            if scan.reason is not None:
                return scan  # why: unknown already; the other files cannot change that
    return scan


def _names_celery(path: Path, data: bytes) -> bool:
    """Whether the module uses the name ``Celery`` other than to import it (it makes an
    app, or subclasses Celery); a module that cannot be parsed may."""
    try:
        tree = ast.parse(data, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return any(
        (isinstance(node, ast.Name) and node.id == "Celery")
        or (isinstance(node, ast.Attribute) and node.attr == "Celery")
        for node in ast.walk(tree)
    )


def _is_test(path: Path) -> bool:
    name = path.name
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or any(part in ("tests", "test") for part in path.parts))


def _worker_of(
    root: Path, resolver: ModuleResolver, inputs: ScanInputs | None = None
) -> WorkerImports | None:
    """What the worker of the project under ``root`` imports (one scan of its files);
    ``inputs`` (when given) hears what it read besides the walk's files.

    Not known once a second module makes an app (the model needs the one app): that
    stops the scan early (a folder of installed distributions is not asked:
    :meth:`ModuleResolver._worker`)."""
    project = _Project(root, resolver, inputs)
    apps: list[str] = []
    settings: list[str] = []
    scanned = 0
    for folder, dirs, files in os.walk(root):  # never follows links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT)
        for file in sorted(files):
            path = Path(folder, file)
            python = file.endswith(".py")
            if not python and not _DEPLOYMENT.match(file):
                continue
            scanned += 1
            if scanned > _MAX_SCANNED:
                return None  # why: a tree too large to read is not known
            try:
                data = read_bytes(path, resolver.max_file_size)
            except (OSError, Unreadable):
                if python:
                    return None  # why: an unread module may make an app or import anything
                continue
            if not python:
                if _CLI_INCLUDE.search(data):
                    return None  # why: the worker imports modules its command line names
                continue
            project.files.append(path)
            if _is_test(path.relative_to(root)):
                continue
            name = _Project.name(root, path)
            if name is None:
                continue  # no import names it (``0001_initial.py``): never an ``-A`` module
            if _MAKES_APP.search(data) and _names_celery(path, data):
                apps.append(name)
                if len(apps) > 1:
                    return None  # why: which app a worker runs is not known
            if _INSTALLED_APPS.search(data):
                settings.append(name)
    return worker_imports(apps, project, settings)


class _Project(ProjectSource):
    """The project under ``root`` as :func:`.interp.workerimports.worker_imports` reads it."""

    def __init__(
        self, root: Path, resolver: ModuleResolver, inputs: ScanInputs | None = None
    ) -> None:
        self.root, self.resolver, self.inputs = root, resolver, inputs
        self.files: list[Path] = []

    def _looked_at(self, *paths: Path) -> None:
        """The model's answer depends on these files (stamped now, before they are read)."""
        if self.inputs is not None:
            for path in paths:
                self.inputs.files.setdefault(str(path), stamp_of(path))

    @staticmethod
    def name(root: Path, path: Path) -> str | None:
        """The module ``path`` is, imported from ``root`` (folders without
        ``__init__.py`` taken as namespace packages); None outside ``root``."""
        try:
            parts = list(path.resolve().with_suffix("").relative_to(root.resolve()).parts)
        except ValueError:
            return None
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None

    def _file(self, module: str) -> Path | None:
        if not module or not all(p.isidentifier() for p in module.split(".")):
            return None
        target = self.root.joinpath(*module.split("."))
        self._looked_at(target.with_suffix(".py"), target / "__init__.py")
        return _file_of(self.root, module.split("."))

    def index(self, module: str) -> ModuleIndex | None:
        path = self._file(module)
        if path is not None and self.inputs is not None:
            self.inputs.parsed.add(path)
        return self.resolver._index(path) if path is not None else None

    def is_package(self, module: str) -> bool:
        path = self._file(module)
        return path is not None and path.name == "__init__.py"

    def owns(self, module: str) -> bool:
        first = module.partition(".")[0]
        if first and first.isidentifier():
            self._looked_at(self.root / first, self.root / f"{first}.py")
        return bool(first) and first.isidentifier() and (
            (self.root / first).is_dir() or (self.root / f"{first}.py").is_file())

    def modules(self) -> list[str]:
        names = (self.name(self.root, p) for p in self.files
                 if not _is_test(p.relative_to(self.root)))
        return [n for n in names if n is not None]

    def mentions(self, module: str, words: set[str]) -> bool:
        path = self._file(module)
        try:
            data = read_bytes(path, self.resolver.max_file_size) if path else b""
        except (OSError, Unreadable):
            return True
        return any(re.search(rb"\b%s\b" % re.escape(w.encode()), data) for w in words)

    def submodules(self, package: str) -> list[str]:
        path = self._file(package)
        if path is None or path.name != "__init__.py":
            return []
        if self.inputs is not None:
            self.inputs.walks.setdefault(str(path.parent), listing(path.parent))
        found = []
        for folder, dirs, files in os.walk(path.parent):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT)
            for file in sorted(files):
                name = self.name(self.root, Path(folder, file))
                if file.endswith(".py") and name is not None:
                    found.append(name)
        return found


class _Lookup:
    """What one file can see of the others: definitions, task decorators, class methods."""

    __slots__ = ("importer", "resolver")

    def __init__(self, resolver: ModuleResolver, importer: Path) -> None:
        self.resolver = resolver
        self.importer = importer

    def __call__(self, qualified: str) -> FunctionInfo | None:
        return self.resolver.definition(qualified, self.importer)

    def makes_tasks(self, qualified: str) -> bool:
        return self.resolver.makes_tasks(qualified, self.importer)

    def class_method(self, qualified: str, method: str) -> FunctionInfo | None:
        return self.resolver.class_method(qualified, method, self.importer)

    def class_home(self, qualified: str) -> tuple[ModuleIndex, str] | None:
        return self.resolver.class_home(qualified, self.importer)

    def module_index(self, module: str) -> ModuleIndex | None:
        return self.resolver.module_index(module, self.importer)

    def task_named(self, name: str, imported: Sequence[str] = ()) -> FunctionInfo | None:
        return self.resolver.task_named(name, self.importer, imported)

    def task_named_in_project(self, name: str) -> FunctionInfo | None:
        return self.resolver.task_named_in_project(name, self.importer)

    def names_unknown(self, name: str) -> bool:
        return self.resolver.names_unknown(name, self.importer)

    def never_imported(self, defined_in: Path | None) -> tuple[WorkerImports, str, str] | None:
        return self.resolver.never_imported(defined_in or self.importer, self.importer)

    def sends_json(self) -> bool:
        return self.resolver.sends_json(self.importer)

    def bare_task_names(self) -> frozenset[str] | None:
        return self.resolver.bare_task_names(self.importer)

    def worker_lost(self) -> WorkerLostScan:
        return self.resolver.worker_lost(self.importer)

    @property
    def module_name(self) -> str:
        return self.resolver.module_name(self.importer)
