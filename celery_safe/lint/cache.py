"""The findings cache shared by ``celery-safe check`` and the flake8 plugin.

A file's findings depend on its text, on the modules its analysis looked up (a task or
helper imported from elsewhere, and what *those* modules import), on the config and on
this celery-safe. So an entry is keyed by the engine (version and files of celery-safe,
the Python, the installed Celery), the config (the codes that run, task decorators,
size limit) and the file's absolute path, and holds:

- the digest of the text it was computed from;
- every import the analysis resolved, transitively (``module``, importing file, the file
  found or none): still valid when the same lookup finds the same file today, so a new
  file that shadows a module, or a deleted one, invalidates it;
- the digest of every module file those lookups parsed.

A hit needs all three to match; anything else is recomputed. Where entries live:

- ``check`` keeps the entries it computes in memory and writes them at the end of the
  run, one *pack* per project (the folder above the file's top-most package): one file
  written per run instead of one per source file (each write is a new file renamed into
  place, ~0.15 ms, as much as analysing a small module). A pack holds its format, engine,
  config and project; one that says otherwise, or is not JSON, is ignored with a warning
  and replaced. The entries of the pack on disk that this run did not recompute are kept
  (another run's), unless their file is gone.
- The flake8 plugin has no end of run, but each of its processes ends: each writes what
  it computed into the same packs as it ends (its workers in parallel, so a pack's read,
  merge and write is locked, ``flock`` on the folder: none loses another's entries).
- An entry file per source file is what a pack too large to write leaves instead.
- Both read both: the pack of the file's project first, then the file's own entry; so a
  file either tool analysed is not analysed again by the other.

Everything is JSON (never pickle: a cache must not run code) in one private folder:
created ``0700``, used only when it is ours, a real folder (not a link) and closed to
others; each file ``0600``, written to a new temporary file and renamed into place
(atomic, so concurrent writers, as flake8's processes are, cannot tear one; a process
killed before it writes loses its entries, never findings); nothing is opened through a
link, and a file that is a link, not ours or open to others is never trusted.
The folder: ``$CELERY_SAFE_CACHE_DIR``, else ``$XDG_CACHE_HOME/celery-safe`` (if absolute), else
``~/.cache/celery-safe``. ``check --no-cache`` (or ``CELERY_SAFE_CACHE_DIR=off``) skips it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import catalogue
from .config import Config
from .files import fingerprint
from .findings import Finding, Span, decode_detail, encode_detail
from .resolve import ModuleResolver

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CacheDir",
    "FindingsCache",
    "Unusable",
    "config_key",
    "default_cache_dir",
    "engine_key",
    "entry_name",
    "pack_name",
]

#: Bumped when the format of an entry or a pack changes.
FORMAT = 2
#: An entry larger than this is not ours (or not sane): ignored.
MAX_ENTRY = 32 << 20
#: A pack larger than this is ignored (and never written: its entries go one a file).
MAX_PACK = 128 << 20
_OFF = ("off", "0", "none", "false")


class Unusable(Exception):
    """The cache folder cannot be used safely; the message says why."""


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the cache lives (see the module docstring); ``None`` when turned off."""
    env = os.environ if environ is None else environ
    chosen = env.get("CELERY_SAFE_CACHE_DIR", "").strip()
    if chosen:
        if chosen.lower() in _OFF:
            return None
        try:
            return Path(chosen).expanduser()
        except RuntimeError:  # ~user with no such user: CacheDir.open says so
            return Path(chosen)
    base = env.get("XDG_CACHE_HOME", "").strip()
    if base and Path(base).is_absolute():  # the XDG spec: a relative one is invalid
        return Path(base) / "celery-safe"
    try:
        return Path.home() / ".cache" / "celery-safe"
    except RuntimeError:  # no home folder: no cache, rather than no findings
        return None


@lru_cache(maxsize=1)
def engine_key() -> str:
    """This celery-safe, this Python and this Celery: a change to any invalidates every entry.

    The package's files are fingerprinted by name, size and mtime, so an edited rule in a
    development checkout counts as a new version too.
    """
    package = Path(__file__).resolve().parent.parent
    parts = [str(FORMAT), sys.implementation.name, sys.version]
    # Celery's too: a rule may follow what the installed Celery does (per version)
    for distribution in ("celery-safe", "celery"):
        try:
            parts.append(f"{distribution} {metadata.version(distribution)}")
        except metadata.PackageNotFoundError:  # pragma: no cover - a source tree
            parts.append(f"{distribution} ?")
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".md", ".toml") and path.is_file():
            info = path.stat()
            parts.append(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def config_key(config: Config) -> str:
    """What in a config changes findings: the codes that run, decorators, size limit, the
    target Celery.

    Two spellings of one selection (``select=["CSF1", "CSF2"]`` or ``ignore=["CSF3"]``)
    share entries; the file walk's options (``exclude``) do not matter here.
    """
    codes = sorted(code for code in catalogue.all_codes() if config.enabled(code))
    target = list(config.target)
    return json.dumps([codes, list(config.task_decorators), config.max_file_size, target])


def entry_name(engine: str, config: str, path: str) -> str:
    """The entry's file name: one per (engine, config, file), overwritten when stale."""
    return hashlib.sha256(json.dumps([engine, config, path]).encode()).hexdigest() + ".json"


def pack_name(engine: str, config: str, root: str) -> str:
    """The pack's file name: one per (engine, config, project), replaced by each run."""
    key = json.dumps([engine, config, root, "pack"]).encode()
    return hashlib.sha256(key).hexdigest() + ".pack.json"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- the private folder ---------------------------------------------------------------


_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _private(info: os.stat_result) -> bool:
    return info.st_uid == os.getuid() and not info.st_mode & 0o077


class CacheDir:
    """One open private folder; every access is relative to its descriptor, no links."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def open(cls, path: Path) -> CacheDir:
        """The folder at ``path``, created ``0700`` if missing; :class:`Unusable` if it is
        a link, not ours, or open to others (we never loosen or take over a folder)."""
        if not hasattr(os, "O_NOFOLLOW") or os.open not in os.supports_dir_fd:
            raise Unusable("this platform cannot open files without following links")
        try:
            path = path.expanduser().absolute()
        except RuntimeError as exc:  # ~user of an unknown user (or no home folder)
            raise Unusable(f"{path}: its ~ names no home folder here ({exc})") from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        try:
            fd = os.open(path, _READ | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:  # ELOOP: a link; ENOTDIR: a file
            raise Unusable(f"{path}: not a folder we can use ({exc.strerror})") from exc
        info = os.fstat(fd)
        if not stat.S_ISDIR(info.st_mode) or not _private(info):
            os.close(fd)
            raise Unusable(
                f"{path}: the cache folder must be yours and closed to others (mode 0700); "
                "remove it or choose another with CELERY_SAFE_CACHE_DIR"
            )
        return cls(fd, path)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self, name: str, limit: int = MAX_ENTRY) -> Any:
        """The file's JSON, or ``None`` (missing, a link, not ours, too big, not JSON)."""
        return self.load(name, limit)[0]

    def load(self, name: str, limit: int = MAX_ENTRY) -> tuple[Any, str | None]:
        """The file's JSON and ``None``; or ``None`` and why it is not used (``None``
        too when there is no such file)."""
        try:
            fd = os.open(name, _READ | _NONBLOCK, dir_fd=self.fd)
        except FileNotFoundError:
            return None, None
        except OSError as exc:  # ELOOP: a link, never followed
            return None, exc.strerror or str(exc)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None, "not a regular file"
            if not _private(info):
                return None, "not yours, or open to others"
            if info.st_size > limit:
                return None, f"larger than {limit} bytes"
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read(limit + 1)
            return json.loads(data), None
        # RecursionError: JSON nested deeper than the parser goes
        except (OSError, ValueError, RecursionError) as exc:
            return None, f"not readable JSON ({type(exc).__name__})"
        finally:
            os.close(fd)

    def write(self, name: str, value: object) -> None:
        """Store ``value`` as JSON under ``name``: a new ``0600`` file renamed into place."""
        self.write_bytes(name, json.dumps(value, separators=(",", ":")).encode())

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """This folder for this process alone (other processes' ``locked`` wait), where
        the platform has ``flock``: a pack's read, merge and write, so that processes
        ending at once (flake8's workers) keep each other's entries."""
        if fcntl is None:  # pragma: no cover - Windows: a lost entry costs time, never findings
            yield
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:  # why on: a lock we cannot take costs entries, never findings
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def write_bytes(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name``, as :meth:`write` does."""
        temporary = f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _READ
        try:
            fd = os.open(temporary, flags, 0o600, dir_fd=self.fd)
        except OSError:
            return  # why quiet: a cache that cannot be written costs time, never findings
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError:
            with contextlib.suppress(OSError):  # ours: we created it with O_EXCL
                os.unlink(temporary, dir_fd=self.fd)


# --- findings in and out --------------------------------------------------------------


def _stored(finding: Finding) -> dict[str, object]:
    span = finding.span
    return {
        "code": finding.code,
        "span": [span.line, span.col, span.end_line, span.end_col],
        "message": finding.message,
        "task": finding.task,
        "detail": encode_detail(finding.detail),
    }


def _restored(row: Mapping[str, Any], path: str) -> Finding:
    line, col, end_line, end_col = (int(n) for n in row["span"])
    return Finding(
        str(row["code"]),
        path,
        Span(line, col, end_line, end_col),
        str(row["message"]),
        row["task"] if isinstance(row["task"], str) else None,
        decode_detail(row["detail"]),
    )


@dataclass
class Dependencies:
    """What one file's analysis read beyond the file itself."""

    imports: list[tuple[str, str, str | None]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


def dependencies(resolver: ModuleResolver, path: Path) -> Dependencies:
    """Every lookup made on behalf of ``path`` or of a module it reached, transitively."""
    found = Dependencies()
    seen, todo = {path}, [path]
    while todo:
        importer = todo.pop()
        for module in sorted(resolver.asked.get(importer, ())):
            target = resolver.module_file(module, importer)
            found.imports.append((module, str(importer), None if target is None else str(target)))
            if target is None:
                continue
            # a module looking itself up is never parsed for it: read it now
            known = resolver.digests.get(target) or fingerprint(target, resolver.max_file_size)
            found.files[str(target)] = known
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return found


class FindingsCache:
    """One run's view of the cache: ``findings(path, text, compute)`` hits or computes.

    ``batch`` (``check``, and the flake8 plugin as each process ends): computed entries
    are kept in memory and written by :meth:`close`, one pack per project; otherwise each
    is written at once, a file of its own.
    """

    def __init__(
        self,
        config: Config,
        resolver: ModuleResolver,
        folder: CacheDir | None,
        *,
        batch: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.resolver = resolver
        self.folder = folder
        self.max_file_size = config.max_file_size
        self.config = config_key(config)
        self.batch = batch
        self.warn = warn
        self._fingerprints: dict[Path, str] = {}
        #: project root -> its pack's entries, read once per run (path -> entry)
        self._packs: dict[str, dict[str, Any]] = {}
        #: project root -> the entries this run computed, written by :meth:`close`
        self._pending: dict[str, dict[str, dict[str, object]]] = {}
        self._warned: set[str] = set()
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_run(
        cls,
        config: Config,
        resolver: ModuleResolver,
        where: Path | None,
        warn: Callable[[str], None] | None = None,
        *,
        batch: bool = False,
    ) -> FindingsCache:
        """A cache in ``where`` (``None``: no cache); an unusable folder (or pack) is
        reported through ``warn`` and the run goes on without it."""
        folder = None
        if where is not None:
            try:
                folder = CacheDir.open(where)
            except (Unusable, OSError) as exc:
                if warn is not None:
                    warn(f"celery-safe: cache not used: {exc}")
        return cls(config, resolver, folder, batch=batch, warn=warn)

    def findings(
        self, path: Path, text: str, compute: Callable[[], list[Finding]]
    ) -> list[Finding]:
        """``path``'s findings (before ``# noqa``), from the cache when still valid."""
        if self.folder is None:
            return compute()
        where = path.absolute()
        key = str(where)
        digest = text_digest(text)
        root = str(self.resolver.package_root(where))
        found = self._hit(self._pack(root).get(key), where, digest, path)
        if found is not None:
            self.hits += 1
            return found
        name = entry_name(engine_key(), self.config, key)
        found = self._hit(self.folder.read(name), where, digest, path)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        found = compute()
        # a bug of ours is never kept, nor findings that depend on the whole project
        if self.resolver.real(where) in self.resolver.project_wide:
            self._pending.get(root, {}).pop(key, None)
        elif not any(f.code == "CSF999" for f in found):
            deps = dependencies(self.resolver, self.resolver.real(where))
            entry: dict[str, object] = {
                "path": key,
                "digest": digest,
                "imports": deps.imports,
                "files": deps.files,
                "findings": [_stored(f) for f in found],
            }
            if self.batch:
                self._pending.setdefault(root, {})[key] = entry
            else:
                self.folder.write(name, entry)
        return found

    def _hit(
        self, entry: Any, where: Path, digest: str, path: Path
    ) -> list[Finding] | None:
        if not isinstance(entry, dict) or not self._valid(entry, where, digest):
            return None
        try:
            return [_restored(row, str(path)) for row in entry["findings"]]
        # a damaged entry (JSON's Infinity in a span, a detail nested past the recursion
        # limit) is recomputed, never a crash
        except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError):
            return None

    def _pack(self, root: str) -> dict[str, Any]:
        """The entries of ``root``'s pack on disk (read once per run; empty if none)."""
        if root not in self._packs:
            self._packs[root] = self._read_pack(root)
        return self._packs[root]

    def _read_pack(self, root: str) -> dict[str, Any]:
        assert self.folder is not None
        name = pack_name(engine_key(), self.config, root)
        data, why = self.folder.load(name, MAX_PACK)
        if why is None and data is not None:
            header = {"format": FORMAT, "engine": engine_key(), "config": self.config,
                      "root": root}  # fmt: skip
            entries = data.get("entries") if isinstance(data, dict) else None
            if isinstance(entries, dict) and all(data.get(k) == v for k, v in header.items()):
                return entries
            why = "not a pack of this celery-safe, config and project"
        if why is not None and self.warn is not None and name not in self._warned:
            # why say it: a cache file we did not write, or a damaged one, is worth knowing
            self._warned.add(name)
            self.warn(f"celery-safe: cache file {self.folder.path / name} ignored: {why}")
        return {}

    def _fingerprint(self, path: Path) -> str:
        if path not in self._fingerprints:
            self._fingerprints[path] = fingerprint(path, self.max_file_size)
        return self._fingerprints[path]

    def _valid(self, entry: Mapping[str, Any], where: Path, digest: str) -> bool:
        if entry.get("path") != str(where) or entry.get("digest") != digest:
            return False
        try:
            for module, importer, target in entry["imports"]:
                now = self.resolver.module_file(str(module), Path(importer))
                if (None if now is None else str(now)) != target:
                    return False
            return all(
                self._fingerprint(Path(file)) == known for file, known in entry["files"].items()
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return False

    def flush(self) -> None:
        """Write each project's pack: the entries computed in this run over those of the
        pack on disk now (another run may have written it meanwhile) whose file remains."""
        if self.folder is None or not self._pending:
            return
        with self.folder.locked():  # read, merge and write while no other flush does
            for root, computed in self._pending.items():
                self._write_pack(root, computed)
        self._pending.clear()

    def _write_pack(self, root: str, computed: dict[str, dict[str, object]]) -> None:
        assert self.folder is not None
        name = pack_name(engine_key(), self.config, root)
        self._packs.pop(root, None)
        kept = {
            path: entry
            for path, entry in self._read_pack(root).items()
            if path not in computed and os.path.isfile(path)
        }
        pack = {"format": FORMAT, "engine": engine_key(), "config": self.config,
                "root": root, "entries": {**kept, **computed}}  # fmt: skip
        data = json.dumps(pack, separators=(",", ":")).encode()
        if len(data) <= MAX_PACK:
            self.folder.write_bytes(name, data)
            return
        for path, entry in computed.items():  # too big for one file: one file each
            self.folder.write(entry_name(engine_key(), self.config, path), entry)

    def close(self) -> None:
        """Write what is pending (:meth:`flush`) and let the folder go."""
        if self.folder is not None:
            self.flush()
            self.folder.close()
