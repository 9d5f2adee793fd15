"""The findings cache shared by ``celery-safe check`` and the flake8 plugin.

A file's findings depend on its text, on the modules its analysis looked up (a task or
helper imported from elsewhere, and what *those* modules import), on the config and on
this celery-safe. So an entry is stored under a name made of the engine (version and
files of celery-safe, the Python, the installed Celery), the config (the codes that run,
task decorators, size limit) and the file's absolute path, and holds:

- the digest of the text it was computed from;
- every import the analysis resolved, transitively (``module``, importing file, the file
  found or none): still valid when the same lookup finds the same file today, so a new
  file that shadows a module, or a deleted one, invalidates it;
- the digest of every module file those lookups parsed.

A hit needs all three to match; anything else is recomputed and overwritten. Entries are
JSON (never pickle: a cache must not run code) in one private folder: created ``0700``,
used only when it is ours, a real folder (not a link) and closed to others; each entry
``0600``, written to a new temporary file and renamed into place (atomic, so concurrent
writers, as flake8's processes are, cannot tear one); nothing is opened through a link.
The folder: ``$CELERY_SAFE_CACHE_DIR``, else ``$XDG_CACHE_HOME/celery-safe``, else
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
from collections.abc import Callable, Mapping
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

__all__ = [
    "CacheDir",
    "FindingsCache",
    "Unusable",
    "config_key",
    "default_cache_dir",
    "engine_key",
    "entry_name",
]

#: Bumped when the entry format changes.
FORMAT = 1
#: An entry larger than this is not ours (or not sane): ignored.
MAX_ENTRY = 32 << 20
_OFF = ("off", "0", "none", "false")


class Unusable(Exception):
    """The cache folder cannot be used safely; the message says why."""


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the cache lives (see the module docstring); ``None`` when turned off."""
    env = os.environ if environ is None else environ
    chosen = env.get("CELERY_SAFE_CACHE_DIR", "").strip()
    if chosen:
        return None if chosen.lower() in _OFF else Path(chosen).expanduser()
    base = env.get("XDG_CACHE_HOME", "").strip()
    if base:
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
        path = path.absolute()
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

    def read(self, name: str) -> Any:
        """The entry's JSON, or ``None`` (missing, a link, not ours, too big, not JSON)."""
        try:
            fd = os.open(name, _READ | _NONBLOCK, dir_fd=self.fd)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or not _private(info):
                return None
            if info.st_size > MAX_ENTRY:
                return None
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read(MAX_ENTRY + 1)
            return json.loads(data)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)

    def write(self, name: str, value: object) -> None:
        """Store ``value`` as JSON under ``name``: a new ``0600`` file renamed into place."""
        data = json.dumps(value, separators=(",", ":")).encode()
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
    """One run's view of the cache: ``findings(path, text, compute)`` hits or computes."""

    def __init__(
        self, config: Config, resolver: ModuleResolver, folder: CacheDir | None
    ) -> None:
        self.resolver = resolver
        self.folder = folder
        self.max_file_size = config.max_file_size
        self.config = config_key(config)
        self._fingerprints: dict[Path, str] = {}
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_run(
        cls,
        config: Config,
        resolver: ModuleResolver,
        where: Path | None,
        warn: Callable[[str], None] | None = None,
    ) -> FindingsCache:
        """A cache in ``where`` (``None``: no cache); an unusable folder is reported
        through ``warn`` and the run goes on without a cache."""
        folder = None
        if where is not None:
            try:
                folder = CacheDir.open(where)
            except (Unusable, OSError) as exc:
                if warn is not None:
                    warn(f"celery-safe: cache not used: {exc}")
        return cls(config, resolver, folder)

    def findings(
        self, path: Path, text: str, compute: Callable[[], list[Finding]]
    ) -> list[Finding]:
        """``path``'s findings (before ``# noqa``), from the cache when still valid."""
        if self.folder is None:
            return compute()
        where = path.absolute()
        name = entry_name(engine_key(), self.config, str(where))
        digest = text_digest(text)
        entry = self.folder.read(name)
        if isinstance(entry, dict) and self._valid(entry, where, digest):
            try:
                found = [_restored(row, str(path)) for row in entry["findings"]]
            except (KeyError, TypeError, ValueError):
                found = None
            if found is not None:
                self.hits += 1
                return found
        self.misses += 1
        found = compute()
        if not any(f.code == "CSF999" for f in found):  # a bug of ours is never kept
            deps = dependencies(self.resolver, self.resolver.real(where))
            self.folder.write(
                name,
                {
                    "path": str(where),
                    "digest": digest,
                    "imports": deps.imports,
                    "files": deps.files,
                    "findings": [_stored(f) for f in found],
                },
            )
        return found

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

    def close(self) -> None:
        if self.folder is not None:
            self.folder.close()

