"""Which files ``check`` and ``fix`` read, and how they read them.

One walker for both verbs. A path named on the command line, file or folder, is
always used (unless ``--force-exclude``); below a folder the walk skips:

- the default skip list (``.git``, ``.venv``, ``build``, ``dist``...);
- ``exclude`` patterns (config and ``--exclude``), gitignore-style, relative to the
  config's folder: ``migrations`` matches any path part, ``tests/*/fixtures`` a path;
- files git ignores: ``.gitignore`` files (nested ones too) and ``.git/info/exclude``;
- a symlinked file whose target lies outside the folder named (never read: it is
  recorded in ``Walker.skipped`` with why, unless ``links_out``), and a second name
  of a file already walked (a link to it inside the tree: the file is used once).

Patterns are matched by ``pathspec``, the matcher black, mypy and others use. Reading
refuses what is not a regular file (a FIFO would hang, ``/dev/zero`` never ends) and
files over the size limit: :class:`Unreadable` carries the reason, reported as CSF000.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .config import DEFAULT_MAX_FILE_SIZE, Config

if TYPE_CHECKING:  # imported by the walker only: the flake8 plugin reads, never walks
    import pathspec

__all__ = [
    "DEFAULT_EXCLUDES",
    "UNREADABLE",
    "Source",
    "Unreadable",
    "digest",
    "fingerprint",
    "python_files",
    "read_bytes",
    "read_source",
]

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", "build", "dist",
    ".eggs", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache",
)  # fmt: skip


# --- reading -------------------------------------------------------------------------


class Unreadable(Exception):
    """A file refused before parsing (not a regular file, too large, not decodable)."""


@dataclass(frozen=True)
class Source:
    """A module's text, and the encoding to write it back with."""

    text: str
    encoding: str


def read_bytes(path: Path, max_size: int = DEFAULT_MAX_FILE_SIZE) -> bytes:
    """The file's bytes: ``Unreadable`` for a non-regular or oversized file, ``OSError`` else.

    Opened non-blocking, so a FIFO is refused instead of waiting for a writer; the
    size is checked on the open file, and no more than the limit is ever read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(f"not a regular file ({_kind(info.st_mode)}), not read")
        if info.st_size > max_size:
            raise Unreadable(_too_large(info.st_size, max_size))
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, max_size + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_size:  # grew while we read it
                raise Unreadable(_too_large(size, max_size))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(size: int, limit: int) -> str:
    return (
        f"file of {size} bytes is larger than the limit of {limit} bytes, not read "
        "(--max-file-size or max-file-size in [tool.celery-safe])"
    )


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "special file"


#: :func:`fingerprint` of a path that is a regular file we cannot read (too large...).
UNREADABLE = "unreadable"
#: :func:`fingerprint` of a path that is no regular file (missing, a folder, a FIFO).
ABSENT = "absent"


def digest(data: bytes) -> str:
    """What a module's bytes are, for the findings cache: a SHA-256, hex."""
    return hashlib.sha256(data).hexdigest()


def fingerprint(path: Path, max_size: int = DEFAULT_MAX_FILE_SIZE) -> str:
    """:func:`digest` of the file's bytes, :data:`ABSENT` or :data:`UNREADABLE`."""
    if not path.is_file():
        return ABSENT
    try:
        return digest(read_bytes(path, max_size))
    except (OSError, Unreadable):
        return UNREADABLE


def read_source(path: Path, max_size: int = DEFAULT_MAX_FILE_SIZE) -> Source:
    """The module's text, decoded as Python would (PEP 263 cookie, BOM, UTF-8 default).

    Newlines are kept as they are in the file, so a rewrite can keep them too.
    """
    data = read_bytes(path, max_size)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        # why not importlib.util.decode_source: it turns "\r" and "\r\n" into "\n"
        return Source(data.decode(encoding), encoding)  # "utf-8-sig" drops (and restores) a BOM
    except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
        raise Unreadable(f"cannot decode: {exc}") from exc


# --- walking -------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _pattern(line: str) -> pathspec.GitIgnoreSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines([line])


#: The shapes of pattern most ignore lists are made of, matched by a path's parts as git
#: does, without a regex: a name (``build``, ``.venv``) or a suffix (``*.egg-info``), any
#: folder (``build/``) or the top one (``/var/``). No other wildcard, no inner slash, no
#: negation, no space, no backslash: anything else goes to pathspec.
_PLAIN = re.compile(r"(?P<top>/)?(?P<star>\*)?(?P<text>\.?[A-Za-z0-9_][A-Za-z0-9_.-]*)(?P<dir>/)?")


@dataclass(frozen=True)
class _Plain:
    """Plain patterns by shape: names and suffixes at any depth (files or folders), or
    folders only; names of the top part."""

    names: frozenset[str]
    folder_names: frozenset[str]
    suffixes: tuple[str, ...]
    folder_suffixes: tuple[str, ...]
    top: frozenset[str]
    top_folders: frozenset[str]

    @classmethod
    def of(cls, patterns: Sequence[str]) -> _Plain | None:
        shapes: dict[tuple[bool, bool, bool], set[str]] = {}
        for pattern in patterns:
            match = _PLAIN.fullmatch(pattern)
            if match is None or (match["top"] and match["star"]):
                return None
            shape = (bool(match["top"]), bool(match["star"]), bool(match["dir"]))
            shapes.setdefault(shape, set()).add(match["text"])
        def get(top: bool, star: bool, folder: bool) -> set[str]:
            return shapes.get((top, star, folder), set())
        return cls(
            frozenset(get(False, False, False)), frozenset(get(False, False, True)),
            tuple(get(False, True, False)), tuple(get(False, True, True)),
            frozenset(get(True, False, False)), frozenset(get(True, False, True)),
        )  # fmt: skip

    def matches(self, relative: str, is_dir: bool) -> bool:
        parts = relative.rstrip("/").split("/")
        folders = parts if is_dir else parts[:-1]
        if not self.names.isdisjoint(parts) or not self.folder_names.isdisjoint(folders):
            return True
        if self.suffixes and any(part.endswith(self.suffixes) for part in parts):
            return True
        if self.folder_suffixes and any(part.endswith(self.folder_suffixes) for part in folders):
            return True
        return parts[0] in self.top or (bool(folders) and parts[0] in self.top_folders)


@dataclass(frozen=True)
class Rules:
    """gitignore-style patterns relative to ``base``; the last one that matches decides."""

    base: Path
    patterns: tuple[str, ...]
    spec: pathspec.GitIgnoreSpec = field(compare=False, repr=False)
    #: the patterns, when every one has a plain shape (the default skip list, most
    #: ``.gitignore`` files): matched by the path's parts without pathspec's regexes (one
    #: each, for every file and folder walked)
    plain: _Plain | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, base: Path, patterns: Iterable[str]) -> Rules:
        import pathspec

        kept = tuple(p for p in patterns if p.strip() and not p.lstrip().startswith("#"))
        return cls(base, kept, pathspec.GitIgnoreSpec.from_lines(kept), _Plain.of(kept))

    @classmethod
    def read(cls, base: Path, file: Path) -> Rules | None:
        try:
            text = read_bytes(file, DEFAULT_MAX_FILE_SIZE).decode("utf-8", errors="replace")
        except (OSError, Unreadable):
            return None
        return cls.of(base, text.splitlines())

    def _relative(self, path: Path | str, is_dir: bool) -> str | None:
        # why strings: Path.relative_to dominated a walk of 1,000 files; both paths are
        # absolute and normalised, so a prefix test on their text is the same test
        base, text = str(self.base), str(path)
        prefix = base if base.endswith(os.sep) else base + os.sep
        if not text.startswith(prefix) or text == base:
            return None
        relative = text[len(prefix) :]
        if os.sep != "/":  # pragma: no cover - Windows
            relative = relative.replace(os.sep, "/")
        return relative + "/" if is_dir else relative

    def verdict(self, path: Path | str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included (``!pattern``); None: no pattern matches."""
        if not self.patterns:
            return None
        relative = self._relative(path, is_dir)
        if relative is None:
            return None
        if self.plain is not None:
            return True if self.plain.matches(relative, is_dir) else None
        return self.spec.check_file(relative).include

    def without_matching(self, folder: Path) -> Rules:
        """These rules minus those that exclude ``folder`` or a folder above it.

        A folder named on the command line is used even when a pattern excludes it:
        ``check examples/legacy`` checks the legacy fixture that the walk of
        ``examples`` skips.
        """
        above = [folder, *folder.parents]
        kept = [
            p
            for p in self.patterns
            if not any(_pattern(p).check_file(r).include for r in self._relatives(above))
        ]
        return self if len(kept) == len(self.patterns) else Rules.of(self.base, kept)

    def _relatives(self, folders: Sequence[Path]) -> Iterator[str]:
        for folder in folders:
            relative = self._relative(folder, True)
            if relative is not None:
                yield relative


def _git_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


class Walker:
    """Finds the ``.py`` files of one run; shared by ``check`` and ``fix``.

    ``skipped``: the links out of a folder walked that were not followed, each with
    why (``links_out`` follows them: ``fix`` reads them and refuses to write them).
    """

    def __init__(
        self, config: Config, *, force_exclude: bool = False, links_out: bool = False
    ) -> None:
        self.root = (config.root or Path.cwd()).resolve()
        self.exclude = config.exclude
        self.force_exclude = force_exclude
        self.links_out = links_out
        self.skipped: list[tuple[Path, str]] = []
        self._ignore_files: dict[Path, Rules | None] = {}
        self._seen: set[str] = set()  # real paths of the files walked

    def _ours(self, named: Path) -> list[Rules]:
        """The skip list and ``exclude``, relative to the config's folder (or, for a path
        outside it, to the path named)."""
        base = self.root if named == self.root or self.root in named.parents else named
        return [Rules.of(base, DEFAULT_EXCLUDES), Rules.of(base, self.exclude)]

    # git's rules for one folder: info/exclude, then each .gitignore from the top down
    def _git_rules(self, folder: Path) -> list[Rules]:
        top = _git_root(folder)
        if top is None:
            return []
        found = [self._ignore_file(top, top / ".git" / "info" / "exclude")]
        chain = [folder, *folder.parents]
        for level in reversed(chain[: chain.index(top) + 1]):
            found.append(self._ignore_file(level, level / ".gitignore"))
        return [rules for rules in found if rules is not None]

    def _ignore_file(self, base: Path, file: Path) -> Rules | None:
        if file not in self._ignore_files:
            self._ignore_files[file] = Rules.read(base, file) if file.is_file() else None
        return self._ignore_files[file]

    def _skipped(
        self, path: Path | str, is_dir: bool, ours: Sequence[Rules], git: Sequence[Rules]
    ) -> bool:
        if any(rules.verdict(path, is_dir) for rules in ours):
            return True
        verdict: bool | None = None
        for rules in git:  # later (deeper) files override earlier ones, as in git
            said = rules.verdict(path, is_dir)
            verdict = verdict if said is None else said
        return bool(verdict)

    def files(self, paths: Iterable[Path]) -> Iterator[Path]:
        """``.py`` files under ``paths``, in a stable order (``FileNotFoundError`` if missing)."""
        for path in paths:
            # why not Path.resolve(): it raises RuntimeError on a loop of links (3.11);
            # a named loop is then read, and its OSError reported (exit 2)
            resolved = Path(os.path.realpath(path))
            if path.is_dir():
                ours = self._ours(resolved)
                git = self._git_rules(resolved)
                if self.force_exclude:
                    if any(
                        self._skipped(folder, True, ours, self._git_rules(folder.parent))
                        for folder in (resolved, *resolved.parents)
                    ):
                        continue
                else:
                    ours = [r.without_matching(resolved) for r in ours]
                    git = [r.without_matching(resolved) for r in git]
                yield from self._walk(path, ours, git)
            elif path.exists() or path.is_symlink():
                if self.force_exclude and self._excluded_file(resolved, path):
                    continue
                yield path
            else:
                raise FileNotFoundError(f"{path}: no such file or directory")

    def _excluded_file(self, resolved: Path, given: Path) -> bool:
        where = given.absolute()
        ours = self._ours(where.parent)
        for candidate, is_dir in ((where, False), *((f, True) for f in where.parents)):
            if self._skipped(candidate, is_dir, ours, self._git_rules(candidate.parent)):
                return True
        return False

    def _walk(self, top: Path, ours: list[Rules], git: list[Rules]) -> Iterator[Path]:
        # a folder below ``top`` is never a link (not followed), so its absolute path is
        # its parent's plus its name: no resolve() per folder. (Paths are text until a
        # file is yielded: a Path per entry walked cost more than matching it.)
        real_top = top.resolve()
        links: list[Path] = []  # links to files, used after the files (one name a file)
        stack: list[tuple[str, str, list[Rules]]] = [(str(top), str(real_top), git)]
        join = os.path.join
        while stack:
            folder, absolute, rules = stack.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            nested = folder != str(top) and any(
                e.name == ".gitignore" and e.is_file() for e in entries
            )
            if nested and _git_root(Path(absolute)):
                own = self._ignore_file(Path(absolute), Path(absolute, ".gitignore"))
                rules = [*rules, own] if own is not None else rules
            folders = []
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                if is_dir:
                    here = join(absolute, entry.name)
                    if not self._skipped(here, True, ours, rules):
                        folders.append((entry.path, here, rules))
                elif entry.is_symlink() and os.path.isdir(entry.path):  # a folder link: not walked
                    if not self._skipped(join(absolute, entry.name), True, ours, rules):
                        self._folder_link(Path(entry.path), real_top, top)
                elif entry.name.endswith(".py") and not self._skipped(
                    join(absolute, entry.name), False, ours, rules
                ):
                    if entry.is_symlink():
                        links.append(Path(entry.path))
                    elif self._first(join(absolute, entry.name)):
                        yield Path(entry.path)
            stack.extend(reversed(folders))
        for link in links:
            target = os.path.realpath(link)
            if not (self.links_out or _within(target, str(real_top))):
                self.skipped.append((link, f"a symlink to {target}, outside {top}"))
            elif (broken := _broken_link(link, target)) is not None:
                self.skipped.append((link, broken))
            elif self._first(target):
                yield link

    def _folder_link(self, link: Path, real_top: Path, top: Path) -> None:
        """A link to a folder out of ``top`` is said, as a link to a file is: its modules
        are not read (one inside is walked under its own name)."""
        target = os.path.realpath(link)
        if not _within(target, str(real_top)):
            self.skipped.append((link, f"a symlink to the folder {target}, outside {top}"))

    def _first(self, real: str) -> bool:
        """Whether the file at ``real`` is met for the first time in this run."""
        if real in self._seen:
            return False
        self._seen.add(real)
        return True


def _broken_link(link: Path, target: str) -> str | None:
    """Why the link cannot be read (None: it can): a dangling link such as an editor's
    ``.#x.py`` lock, or a loop of links."""
    try:
        os.stat(link)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symlinks"
        if exc.errno == errno.ENOENT:
            return f"a symlink to {target}, which does not exist"
        # why: any other error (a permission) is the reader's to report, as for a file
    return None


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def python_files(
    paths: Iterable[Path], config: Config, *, force_exclude: bool = False,
    links_out: bool = False,
) -> Iterator[Path]:
    """``.py`` files under ``paths`` as ``check`` and ``fix`` see them (a link out of a
    folder walked only with ``links_out``; see :class:`Walker` for who says so)."""
    return Walker(config, force_exclude=force_exclude, links_out=links_out).files(paths)
