"""Write the files of one ``fix`` run all or nothing, never a truncated file.

Every new text is first written to a temporary file beside its target, flushed and
fsynced, with the target's permission bits: the only step that needs disk space
happens before any original is touched. Then each original is hard-linked to a
backup name and the temporary file renamed over it (``os.replace`` is atomic). If
any step fails, the renamed files are put back from their backups, every temporary
file is removed, and :class:`WriteError` names the file and the reason. A
``--split-logic`` run therefore never leaves callers of ``.logic`` whose task was
not split.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WriteError", "write_all"]


class WriteError(OSError):
    """No file was changed (or, on a failed rollback, the message says which one was)."""


@dataclass
class _Staged:
    target: Path  # the real file (a symlink's target, so the link stays a link)
    temporary: Path
    backup: Path | None = None
    replaced: bool = False


def _stage(target: Path, data: bytes) -> _Staged:
    mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".celery-safe", dir=target.parent)
    staged = _Staged(target, Path(name))
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        staged.temporary.unlink(missing_ok=True)
        raise
    os.close(fd)
    return staged


def _backup_name(target: Path) -> Path:
    for n in range(1000):
        candidate = target.with_name(f".{target.name}.{os.getpid()}.{n}.celery-safe-orig")
        if not os.path.lexists(candidate):
            return candidate
    raise FileExistsError(f"{target}: no free backup name")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # why: some file systems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def write_all(changes: Sequence[tuple[Path, bytes]]) -> None:
    """Replace every file with its new bytes, or change none; ``WriteError`` on failure."""
    staged: list[_Staged] = []
    try:
        for path, data in changes:
            try:
                staged.append(_stage(Path(os.path.realpath(path)), data))
            except OSError as exc:
                raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        for item in staged:
            try:
                item.backup = _backup_name(item.target)
                os.link(item.target, item.backup)
                os.replace(item.temporary, item.target)
                item.replaced = True
            except OSError as exc:
                raise WriteError(f"{item.target}: cannot replace: {exc.strerror or exc}") from exc
    except WriteError as exc:
        failed = _roll_back(staged)
        if failed:
            raise WriteError(f"{exc}; and could not restore: {'; '.join(failed)}") from exc
        raise
    for item in staged:
        if item.backup is not None:
            item.backup.unlink(missing_ok=True)
    for folder in {item.target.parent for item in staged}:
        _fsync_dir(folder)


def _roll_back(staged: Sequence[_Staged]) -> list[str]:
    """Put the originals back; what could not be restored, with where its original is."""
    failed: list[str] = []
    for item in reversed(staged):
        item.temporary.unlink(missing_ok=True)
        if item.backup is None or not os.path.lexists(item.backup):
            continue
        try:
            if item.replaced:
                os.replace(item.backup, item.target)
            else:
                item.backup.unlink()
        except OSError as exc:
            failed.append(f"{item.target} (original kept as {item.backup}: {exc.strerror})")
    return failed
