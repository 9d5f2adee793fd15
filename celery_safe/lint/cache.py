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
  run into *packs*: a project's (the folder above the file's top-most package) entries
  are split over up to 256 packs by the first two hex digits of the SHA-256 of the
  file's path, so a run reads only the packs of the files it checks (a one-file ``check``
  reads one pack, ~1/256 of the project's entries) and rewrites only the packs it has
  new entries for. A pack holds its format, engine, config, project and shard; one that
  says otherwise, or is not JSON, is ignored with a warning and replaced.
- Writing a pack merges: under an exclusive lock (``flock`` on ``lock`` in the folder)
  the pack on disk is read again (unless it is the very file this run read), the
  entries this run computed replace those of the same files, and the others are kept
  while their file exists; then the new pack is renamed into place. So two runs on one
  project keep each other's entries. A lock held longer than :data:`LOCK_TIMEOUT`
  seconds (a hung run) is not waited for: the run's entries are not written (said under
  ``check -v``), its findings are unaffected.
- The flake8 plugin has no end of run, but each of its processes ends: each keeps what it
  computed and writes it into the same packs as it ends (the same merge under the lock:
  workers ending together keep each other's entries; a process killed first loses its
  entries, never findings). Entry files of one source file each (a whole-file replace, no
  lock) are what a pack too large to write leaves instead, and what older versions wrote.
- Both read both: the pack of the file first, then the file's own entry; so a file
  either tool analysed is not analysed again by the other.
- The answers of the project scans (what the worker imports, the task names written, the
  serializers: :class:`ScanAnswers`) are kept one a file (``<sha256>.scan.json``, per
  engine, config, project and scan), each with what its scan read: the project's files by
  path and stamp, the other files it looked at, the modules it parsed. A run reuses one
  while all of that is unchanged, and a file whose findings rest on one (a CSF206 "never
  imported", CSF207's JSON, CSF403's names) keeps its entry with the answer's key: valid
  while that scan would answer the same, so a changed file of the project invalidates
  exactly the entries that rested on a scan that read it.

What keeps the folder from growing forever:

- one entry per (engine, config, file): a recomputed entry replaces the old one (its old
  text's findings are gone), in a pack or in its own file;
- a pack being rewritten drops the entries of files that no longer exist;
- every cache file not read or written for :data:`MAX_AGE` (30 days) is deleted: a
  read refreshes a file's modification time (at most once a day), and at most once a day
  (the ``swept`` stamp) a run lists the folder and deletes our cache files (by name:
  ``<sha256>.json``, ``<sha256>.pack.json``, ``<sha256>.scan.json``) older than that.
  This is what removes the
  entries of an older celery-safe or config, of deleted projects and of files deleted
  from packs that are no longer rewritten;
- temporary files (``tmp/.<name>.<pid>.<random>.tmp``, unique) are removed by their
  writer when a write fails; one left by a killed writer is removed by a later run once
  it is older than :data:`TEMP_AGE` (an hour; a write takes milliseconds).

Nothing is deleted unless it is ours: a regular file (``lstat``, never following a link)
owned by this user, named as we name files, in our own folder (opened once, every access
relative to its descriptor).

Everything is JSON (never pickle: a cache must not run code) in one private folder:
created ``0700``, used only when it is ours, a real folder (not a link) and closed to
others; each file ``0600``, written to a new temporary file and renamed into place
(atomic, so concurrent writers, as flake8's processes are, cannot tear one); nothing is
opened through a link, and a file that is a link, not ours or open to others is never
trusted.
The folder: ``$CELERY_SAFE_CACHE_DIR``, else ``$XDG_CACHE_HOME/celery-safe`` (if absolute), else
``~/.cache/celery-safe``. ``check --no-cache`` (or ``CELERY_SAFE_CACHE_DIR=off``) skips it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import catalogue

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows, where CacheDir.open refuses anyway
    fcntl = None  # type: ignore[assignment]
from .config import Config
from .files import fingerprint
from .findings import Finding, Span, decode_detail, encode_detail
from .resolve import ModuleResolver, ScanInputs, stamp_of

__all__ = [
    "CacheDir",
    "FindingsCache",
    "ScanAnswers",
    "Unusable",
    "config_key",
    "default_cache_dir",
    "engine_key",
    "entry_name",
    "merged",
    "pack_name",
    "packed",
    "shard_of",
    "unpacked",
]

#: Bumped when the format of an entry or a pack changes.
FORMAT = 3
#: An entry larger than this is not ours (or not sane): ignored.
MAX_ENTRY = 32 << 20
#: A pack larger than this is ignored (and never written: its entries go one a file).
MAX_PACK = 128 << 20
#: Seconds a run waits for another run's lock on the packs before it skips writing.
LOCK_TIMEOUT = 5.0
#: A cache file not read or written for this long (seconds) is deleted by the sweep.
MAX_AGE = 30 * 86400
#: A read refreshes a file's modification time once it is older than this.
REFRESH = 86400
#: The sweep runs at most once in this long.
SWEEP_EVERY = 86400
#: A temporary file older than this is a killed writer's: deleted.
TEMP_AGE = 3600
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


def pack_name(engine: str, config: str, root: str, shard: str) -> str:
    """A pack's file name: one per (engine, config, project, shard of the paths)."""
    key = json.dumps([engine, config, root, "pack", shard]).encode()
    return hashlib.sha256(key).hexdigest() + ".pack.json"


def scan_name(engine: str, config: str, root: str, kind: str) -> str:
    """The file of one project scan's answer: one per (engine, config, project, kind)."""
    key = json.dumps([engine, config, root, "scan", kind]).encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).hexdigest() + ".scan.json"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- the private folder ---------------------------------------------------------------


_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
#: The names of our cache files (entries, packs) and temporary files: nothing else is
#: ever deleted.
_OURS = re.compile(r"[0-9a-f]{64}(\.pack|\.scan)?\.json")
_TEMPORARY = re.compile(r"\.[0-9a-f]{64}(\.pack|\.scan)?\.json\.[0-9]+\.[0-9a-f]{16}\.tmp")
_TEMPORARIES = "tmp"
_LOCK = "lock"
_SWEPT = "swept"


def _private(info: os.stat_result) -> bool:
    return info.st_uid == os.getuid() and not info.st_mode & 0o077


#: The identity of a file as read: another run's rename gives another (inode, ctime).
Stamp = tuple[int, int, int, int]


def _stamp(info: os.stat_result) -> Stamp:
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _open_folder(name: str | Path, dir_fd: int | None = None) -> int:
    """A private folder of ours (created ``0700`` if missing), opened without following a
    link; :class:`Unusable` otherwise (we never loosen or take over a folder)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=dir_fd)
    try:
        fd = os.open(name, _READ | _DIRECTORY, dir_fd=dir_fd)
    except OSError as exc:  # ELOOP: a link; ENOTDIR: a file
        raise Unusable(f"{name}: not a folder we can use ({exc.strerror})") from exc
    info = os.fstat(fd)
    if not stat.S_ISDIR(info.st_mode) or not _private(info):
        os.close(fd)
        raise Unusable(
            f"{name}: the cache folder must be yours and closed to others (mode 0700); "
            "remove it or choose another with CELERY_SAFE_CACHE_DIR"
        )
    return fd


class CacheDir:
    """One open private folder; every access is relative to its descriptor, no links."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path
        self._temporaries = -1  # tmp/'s descriptor, opened on the first write

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
        return cls(_open_folder(path), path)

    def close(self) -> None:
        for fd in (self._temporaries, self.fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self._temporaries = -1

    def read(self, name: str, limit: int = MAX_ENTRY) -> Any:
        """The file's JSON, or ``None`` (missing, a link, not ours, too big, not JSON)."""
        return self.load(name, limit)[0]

    def load(self, name: str, limit: int = MAX_ENTRY) -> tuple[Any, str | None]:
        """The file's JSON and ``None``; or ``None`` and why it is not used (``None``
        too when there is no such file)."""
        data, why, _ = self.load_stamped(name, limit)
        return data, why

    def load_stamped(
        self, name: str, limit: int = MAX_ENTRY, unless: Stamp | None = None
    ) -> tuple[Any, str | None, Stamp | None]:
        """:meth:`load`, and the identity of the file read (``None``: none). With
        ``unless``: when the file is still that one, it is not read again (``None``, ``None``
        and that stamp)."""
        try:
            fd = os.open(name, _READ | _NONBLOCK, dir_fd=self.fd)
        except FileNotFoundError:
            return None, None, None
        except OSError as exc:  # ELOOP: a link, never followed
            return None, exc.strerror or str(exc), None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None, "not a regular file", None
            if not _private(info):
                return None, "not yours, or open to others", None
            if info.st_size > limit:
                return None, f"larger than {limit} bytes", None
            if unless is not None and _stamp(info) == unless:
                return None, None, unless
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read(limit + 1)
            if time.time() - info.st_mtime > REFRESH:  # still in use: not swept (see above)
                with contextlib.suppress(OSError):
                    os.utime(fd)
            return json.loads(data), None, _stamp(info)
        # RecursionError: JSON nested deeper than the parser goes
        except (OSError, ValueError, RecursionError) as exc:
            return None, f"not readable JSON ({type(exc).__name__})", None
        finally:
            os.close(fd)

    def write(self, name: str, value: object) -> None:
        """Store ``value`` as JSON under ``name``: a new ``0600`` file renamed into place."""
        self.write_bytes(name, json.dumps(value, separators=(",", ":")).encode())

    def write_bytes(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name``, as :meth:`write` does: written to a file of a
        unique name in ``tmp/``, removed again if anything fails before the rename."""
        temporary = f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _READ
        try:
            where = self._temporary_folder()
            fd = os.open(temporary, flags, 0o600, dir_fd=where)
        except (OSError, Unusable):
            return  # why quiet: a cache that cannot be written costs time, never findings
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, name, src_dir_fd=where, dst_dir_fd=self.fd)
        except BaseException as exc:  # KeyboardInterrupt too: never leave it behind
            with contextlib.suppress(OSError):  # ours: we created it with O_EXCL
                os.unlink(temporary, dir_fd=where)
            if not isinstance(exc, OSError):
                raise

    def _temporary_folder(self) -> int:
        if self._temporaries < 0:
            self._temporaries = _open_folder(_TEMPORARIES, self.fd)
        return self._temporaries

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[bool]:
        """Hold the folder's lock (``flock`` on ``lock``) for the block; ``False`` when it
        could not be had within ``timeout`` seconds, or the lock file is not ours."""
        flags = os.O_RDWR | os.O_CREAT | _READ | _NONBLOCK
        try:
            fd = os.open(_LOCK, flags, 0o600, dir_fd=self.fd)
        except OSError:
            yield False
            return
        try:
            info = os.fstat(fd)
            held = stat.S_ISREG(info.st_mode) and _private(info) and _flock(fd, timeout)
            yield held
        finally:
            os.close(fd)  # releases the lock

    def sweep(self, now: float | None = None) -> int:
        """Delete our stale files (see the module docstring); how many were deleted."""
        now = time.time() if now is None else now
        deleted = self.sweep_temporaries(now)
        with contextlib.suppress(OSError):
            deleted += _delete_old(self.fd, _OURS, now - MAX_AGE)
        return deleted

    def sweep_temporaries(self, now: float | None = None) -> int:
        """Delete the temporary files of ours older than :data:`TEMP_AGE` (a killed
        writer's); how many. Cheap: ``tmp/`` holds only writes under way."""
        now = time.time() if now is None else now
        with contextlib.suppress(OSError, Unusable):
            return _delete_old(self._temporary_folder(), _TEMPORARY, now - TEMP_AGE)
        return 0

    def sweep_when_due(self) -> None:
        """:meth:`sweep` at most once every :data:`SWEEP_EVERY` seconds (the ``swept``
        file's modification time says when the last one began)."""
        try:
            info = os.stat(_SWEPT, dir_fd=self.fd, follow_symlinks=False)
            if time.time() - info.st_mtime < SWEEP_EVERY or not stat.S_ISREG(info.st_mode):
                return
        except FileNotFoundError:
            pass
        except OSError:
            return
        flags = os.O_WRONLY | os.O_CREAT | _READ | _NONBLOCK
        try:
            fd = os.open(_SWEPT, flags, 0o600, dir_fd=self.fd)
        except OSError:
            return
        try:
            os.utime(fd)  # first: another run starting now does not sweep too
        except OSError:
            return
        finally:
            os.close(fd)
        self.sweep()


def _flock(fd: int, timeout: float) -> bool:
    """``flock(LOCK_EX)`` on ``fd``, waiting at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)
        except OSError:  # a file system without locks: no merge is safe, do not write
            return False


def _delete_old(folder: int, names: re.Pattern[str], before: float) -> int:
    """Delete the regular files of ours in ``folder`` named as ``names`` and last
    modified before ``before``; never follows a link."""
    deleted = 0
    for name in os.listdir(folder):
        if not names.fullmatch(name):
            continue
        with contextlib.suppress(OSError):
            info = os.stat(name, dir_fd=folder, follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and (
                info.st_mtime < before
            ):
                os.unlink(name, dir_fd=folder)  # unlink never follows a link either
                deleted += 1
    return deleted


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


@dataclass
class _Shard:
    """One pack as this run read it: its entries (path -> entry) and the file's stamp."""

    entries: dict[str, Any]
    stamp: Stamp | None = None


def shard_of(path: str) -> str:
    """The pack a file's entry goes to within its project: two hex digits of its path's
    SHA-256 (up to 256 packs a project, each ~1/256 of its entries)."""
    return hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:2]


def packed(header: Mapping[str, object], entries: Mapping[str, object]) -> bytes:
    """A pack's bytes: its header (what it is a pack of) and its entries (path -> entry)."""
    return json.dumps({**header, "entries": entries}, separators=(",", ":")).encode()


def unpacked(data: Any, header: Mapping[str, object]) -> dict[str, Any] | None:
    """The entries of a pack's JSON when its header is ``header``; else ``None``."""
    if not isinstance(data, dict) or not all(data.get(k) == v for k, v in header.items()):
        return None
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else None


def merged(
    on_disk: Mapping[str, Any], computed: Mapping[str, Any], exists: Callable[[str], bool]
) -> dict[str, Any]:
    """A pack's new entries: ``computed`` (this run's, the later ones) over those of the
    pack on disk whose file still ``exists``."""
    kept = {path: e for path, e in on_disk.items() if path not in computed and exists(path)}
    return {**kept, **computed}


class ScanAnswers:
    """The answers of the project scans (:class:`~.resolve.ScanStore`: the worker's imports,
    the task names written, the serializers), kept in the cache folder beside the packs,
    so that a run after any earlier one (``check`` or a flake8 process) does not scan again.

    An answer is kept with what its scan read (:class:`~.resolve.ScanInputs`): the walk of
    the project (every file by path and stamp: size, mtime, ctime, inode), the other files
    it looked at, and the modules it parsed (with their imports, as an entry's). It is used
    only while all of that is the same; its key (a digest of all that and the answer) is
    what a findings entry that rests on it records (:meth:`FindingsCache.findings`)."""

    def __init__(self, folder: CacheDir, config: str) -> None:
        self.folder = folder
        self.config = config

    def _name(self, kind: str, root: Path) -> str:
        return scan_name(engine_key(), self.config, str(root), kind)

    def load(self, kind: str, root: Path, resolver: ModuleResolver) -> tuple[Any, str] | None:
        data = self.folder.read(self._name(kind, root))
        if not isinstance(data, dict) or data.get("root") != str(root) or (
                data.get("kind") != kind or data.get("format") != FORMAT):
            return None
        try:
            if data["listing"] != resolver.listing(root, kind == "worker"):
                return None
            for path, known in data["files"].items():
                if stamp_of(path) != (None if known is None else tuple(known)):
                    return None
            for folder, known in data["walks"].items():
                if resolver.listing(Path(folder)) != known:
                    return None
            if not _dependencies_valid(resolver, data["imports"], data["digests"],
                                       lambda p: fingerprint(p, resolver.max_file_size)):
                return None
            return data["answer"], str(data["key"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def save(self, kind: str, root: Path, answer: Any, inputs: ScanInputs,
             resolver: ModuleResolver) -> str:
        imports: list[tuple[str, str, str | None]] = []
        digests: dict[str, str] = {}
        for path in sorted(inputs.parsed):
            found = dependencies(resolver, path)
            imports += found.imports
            digests.update(found.files)
            digests[str(path)] = resolver.digests.get(path) or fingerprint(
                path, resolver.max_file_size)
        record: dict[str, object] = {
            "format": FORMAT, "kind": kind, "root": str(root), "listing": inputs.listing,
            "files": inputs.files, "walks": inputs.walks, "imports": imports,
            "digests": digests, "answer": answer,
        }
        record["key"] = hashlib.sha256(
            json.dumps(record, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()
        with contextlib.suppress(OSError):
            self.folder.write(self._name(kind, root), record)
        return str(record["key"])


def _dependencies_valid(
    resolver: ModuleResolver, imports: Any, files: Any, fingerprint_of: Callable[[Path], str]
) -> bool:
    """Every import still finds the same file, and every file read has the same digest."""
    for module, importer, target in imports:
        now = resolver.module_file(str(module), Path(importer))
        if (None if now is None else str(now)) != target:
            return False
    return all(fingerprint_of(Path(file)) == known for file, known in files.items())


class FindingsCache:
    """One run's view of the cache: ``findings(path, text, compute)`` hits or computes.

    ``batch`` (``check``, and the flake8 plugin as each of its processes ends): computed
    entries are kept in memory and written by :meth:`close`, into the packs of their files
    (merged with the packs on disk); otherwise each is written at once, in a file of its
    own. ``note`` hears what only a verbose run prints.
    """

    def __init__(
        self,
        config: Config,
        resolver: ModuleResolver,
        folder: CacheDir | None,
        *,
        batch: bool = False,
        warn: Callable[[str], None] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.resolver = resolver
        self.folder = folder
        self.max_file_size = config.max_file_size
        self.config = config_key(config)
        self.batch = batch
        self.warn = warn
        self.note = note
        self._fingerprints: dict[Path, str] = {}
        #: (project root, shard) -> that pack as read in this run (read once, lazily)
        self._packs: dict[tuple[str, str], _Shard] = {}
        #: project root -> the entries this run computed, written by :meth:`close`
        self._pending: dict[str, dict[str, dict[str, object]]] = {}
        self._warned: set[str] = set()
        self.hits = 0
        self.misses = 0
        self.written = 0
        if folder is not None:
            resolver.store = ScanAnswers(folder, self.config)

    @classmethod
    def for_run(
        cls,
        config: Config,
        resolver: ModuleResolver,
        where: Path | None,
        warn: Callable[[str], None] | None = None,
        *,
        batch: bool = False,
        note: Callable[[str], None] | None = None,
    ) -> FindingsCache:
        """A cache in ``where`` (``None``: no cache); an unusable folder (or pack) is
        reported through ``warn`` and the run goes on without it. A killed writer's
        temporary files are deleted first, and stale cache files when the daily sweep is
        due (see the module docstring)."""
        folder = None
        if where is not None:
            try:
                folder = CacheDir.open(where)
            except (Unusable, OSError) as exc:
                if warn is not None:
                    warn(f"celery-safe: cache not used: {exc}")
        if folder is not None:
            folder.sweep_when_due()
            folder.sweep_temporaries()  # a killed writer's (cheap: see the method)
        return cls(config, resolver, folder, batch=batch, warn=warn, note=note)

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
        found = self._hit(self._pack(root, shard_of(key)).get(key), where, digest, path)
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
        real = self.resolver.real(where)
        scans = self._scans_of(real)
        # a bug of ours is never kept, nor findings that rest on a project scan whose
        # answer is not kept (see ScanAnswers)
        if scans is None:
            self._pending.get(root, {}).pop(key, None)
        elif not any(f.code == "CSF999" for f in found):
            deps = dependencies(self.resolver, real)
            entry: dict[str, object] = {
                "path": key,
                "digest": digest,
                "imports": deps.imports,
                "files": deps.files,
                "scans": scans,
                "findings": [_stored(f) for f in found],
            }
            if self.batch:
                self._pending.setdefault(root, {})[key] = entry
            else:
                self.folder.write(name, entry)
        return found

    def _scans_of(self, real: Path) -> list[list[str]] | None:
        """The project scans ``real``'s findings rest on, with their answers' keys; None
        when one of them has no kept answer (the findings are then not kept either)."""
        used = self.resolver.scans_used.get(real, set())
        if real in self.resolver.project_wide and not used:
            return None
        scans = []
        for kind, root in sorted(used):
            known = self.resolver.scan_keys.get((kind, root))
            if known is None:
                return None
            scans.append([kind, str(root), known])
        return scans

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

    def _pack(self, root: str, shard: str) -> dict[str, Any]:
        """The entries of that pack on disk (read once per run; empty if none)."""
        if (root, shard) not in self._packs:
            self._packs[root, shard] = self._read_pack(root, shard)
        return self._packs[root, shard].entries

    def _read_pack(self, root: str, shard: str, unless: Stamp | None = None) -> _Shard:
        """The pack on disk; with ``unless`` (the stamp of the pack read before), an
        empty shard with that stamp when it is still the same file (not read again)."""
        assert self.folder is not None
        name = pack_name(engine_key(), self.config, root, shard)
        data, why, stamp = self.folder.load_stamped(name, MAX_PACK, unless)
        if why is None and data is None:
            return _Shard({}, stamp)
        if why is None:
            entries = unpacked(data, self._header(root, shard))
            if entries is not None:
                return _Shard(entries, stamp)
            why = "not a pack of this celery-safe, config and project"
        if self.warn is not None and name not in self._warned:
            # why say it: a cache file we did not write, or a damaged one, is worth knowing
            self._warned.add(name)
            self.warn(f"celery-safe: cache file {self.folder.path / name} ignored: {why}")
        return _Shard({})

    def _header(self, root: str, shard: str) -> dict[str, object]:
        return {"format": FORMAT, "engine": engine_key(), "config": self.config,
                "root": root, "shard": shard}  # fmt: skip

    def _fingerprint(self, path: Path) -> str:
        if path not in self._fingerprints:
            self._fingerprints[path] = fingerprint(path, self.max_file_size)
        return self._fingerprints[path]

    def _valid(self, entry: Mapping[str, Any], where: Path, digest: str) -> bool:
        if entry.get("path") != str(where) or entry.get("digest") != digest:
            return False
        try:
            if not _dependencies_valid(
                self.resolver, entry["imports"], entry["files"], self._fingerprint
            ):
                return False
            # the project scans it rests on: each answer still the one it was made with
            return all(
                self.resolver.stored(str(kind), Path(root)) == known
                for kind, root, known in entry.get("scans", ())
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return False

    def flush(self) -> None:
        """Write the packs this run computed entries for, each merged under the folder's
        lock with the pack on disk now (another run may have written it since): this
        run's entries over the others whose file remains. Packs with nothing new are not
        touched. When the lock cannot be had in :data:`LOCK_TIMEOUT` seconds, nothing is
        written (``note`` says so)."""
        if self.folder is None or not any(self._pending.values()):
            self._pending.clear()
            return
        with self.folder.locked(LOCK_TIMEOUT) as held:
            if not held:
                if self.note is not None:
                    count = sum(len(e) for e in self._pending.values())
                    self.note(
                        f"celery-safe: cache not written ({count} new entries): its lock"
                        f" ({self.folder.path / _LOCK}) was held over {LOCK_TIMEOUT:g} s by"
                        " another run, or cannot be taken"
                    )
                self._pending.clear()
                return
            for root, computed in self._pending.items():
                shards: dict[str, dict[str, dict[str, object]]] = {}
                for path, entry in computed.items():
                    shards.setdefault(shard_of(path), {})[path] = entry
                for shard, mine in shards.items():
                    self._write_pack(root, shard, mine)
            self._pending.clear()

    def _write_pack(self, root: str, shard: str, computed: dict[str, dict[str, object]]) -> None:
        """Merge ``computed`` into the pack on disk (the lock is held) and replace it."""
        assert self.folder is not None
        read = self._packs.pop((root, shard), None)
        now = self._read_pack(root, shard, None if read is None else read.stamp)
        if read is not None and read.stamp is not None and now.stamp == read.stamp:
            now = read  # the file this run read: no need to parse it again
        data = packed(self._header(root, shard), merged(now.entries, computed, os.path.isfile))
        if len(data) <= MAX_PACK:
            self.folder.write_bytes(pack_name(engine_key(), self.config, root, shard), data)
            self.written += 1
            return
        for path, entry in computed.items():  # too big for one file: one file each
            self.folder.write(entry_name(engine_key(), self.config, path), entry)

    def close(self) -> None:
        """Write what is pending (:meth:`flush`) and let the folder go."""
        if self.folder is not None:
            self.flush()
            self.folder.close()
