"""Write the files of one ``fix`` run all or nothing, never a truncated file.

Every new text is first written to a temporary file beside its target, flushed and
fsynced, with the target's permission bits: the only step that needs disk space
happens before any original is touched. Then each original is hard-linked to a
backup name and the temporary file renamed over it (``os.replace`` is atomic). If
any step fails, the renamed files are put back from their backups, every temporary
file is removed, and :class:`WriteError` names the file and the reason. A
``--split-logic`` run therefore never leaves callers of ``.logic`` whose task was
not split.

Before any of that, :func:`refusal` says which files ``fix`` must not replace at all
(issue 23): a symlink whose target lies outside the paths the user gave, a file with
other hard links (a new file would leave the twins behind), a read-only file, and a
file whose owner and group the new file could not keep. The temporary file takes the
target's owner and group before it is renamed over it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WriteError", "refusal", "write_all"]


class WriteError(OSError):
    """No file was changed (or, on a failed rollback, the message says which one was)."""


@dataclass
class _Staged:
    target: Path  # the real file (a symlink's target, so the link stays a link)
    temporary: Path
    backup: Path | None = None
    replaced: bool = False


def refusal(path: Path, roots: Sequence[Path], *, symlinks_out: bool = False) -> str | None:
    """Why ``fix`` must not replace ``path`` (``None``: it may).

    ``roots`` are the paths the user gave; a file reached through a symlink must resolve
    inside one of them unless ``symlinks_out``.
    """
    real = Path(os.path.realpath(path))
    inside = any(real.is_relative_to(os.path.realpath(root)) for root in roots)
    if not inside and not symlinks_out:
        return (
            f"a symlink to {real}, outside the paths given; "
            "name that file, or pass --allow-symlinks-out to write through the link"
        )
    info = os.stat(real)
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink > 1:
        return (
            f"it has {info.st_nlink} hard links; a rewritten file would split it from "
            "its twins (fix one of them by hand, or break the link first)"
        )
    if not mode & stat.S_IWUSR:
        return f"read-only (mode {mode:04o}); make it writable to let fix rewrite it"
    if not _can_keep_owner(info):
        return (
            f"owned by uid {info.st_uid} gid {info.st_gid}; its rewritten copy would belong "
            f"to uid {os.geteuid()} gid {os.getegid()}, who cannot give it back"
        )
    return None


def _can_keep_owner(info: os.stat_result) -> bool:
    """Whether a new file of ours can take ``info``'s owner and group (``fchown`` rules)."""
    if os.geteuid() == 0:
        return True
    if info.st_uid != os.geteuid():
        return False
    return info.st_gid == os.getegid() or info.st_gid in os.getgroups()


def _stage(target: Path, data: bytes) -> _Staged:
    info = os.stat(target)
    mode = stat.S_IMODE(info.st_mode)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".celery-safe", dir=target.parent)
    staged = _Staged(target, Path(name))
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        made = os.fstat(fd)
        if (made.st_uid, made.st_gid) != (info.st_uid, info.st_gid):
            os.fchown(fd, info.st_uid, info.st_gid)  # before the mode: chown clears set-id bits
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
