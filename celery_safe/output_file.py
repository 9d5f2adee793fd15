"""Writing a file a command was asked for (``--output``), never through someone's link.

``check --output report.sarif`` in a shared folder (``/tmp``, a group's project) must not
write wherever another local user pointed that name: the file is opened without following
a symbolic link, and an existing file that is someone else's, not a regular file, or
hard-linked elsewhere is refused before anything in it is truncated. A new file is 0600.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["OutputFileError", "write_output"]

_OPEN = (os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
         | getattr(os, "O_CLOEXEC", 0))


class OutputFileError(OSError):
    """The output path is a link, not a regular file, or another user's: not written."""


def write_output(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, refusing what would write elsewhere
    (a device such as ``/dev/null`` is written as it is)."""
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        before = None
    if before is not None and stat.S_ISLNK(before.st_mode):
        raise OutputFileError(f"{path} is a symbolic link: not written through; remove it "
                              "or choose another --output")
    if before is not None and stat.S_ISCHR(before.st_mode):
        with open(path, "wb") as device:
            device.write(data.encode("utf-8") if isinstance(data, str) else data)
        return
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise OutputFileError(f"{path} is not a regular file: not written; choose another "
                              "--output")
    fd = os.open(path, _OPEN, 0o600)  # a link planted since the lstat: ELOOP
    try:
        info = os.fstat(fd)
        why = ("is not a regular file" if not stat.S_ISREG(info.st_mode)
               else "belongs to another user" if info.st_uid != os.geteuid()
               else "has other hard links" if info.st_nlink > 1 else None)
        if why is not None:
            raise OutputFileError(f"{path} {why}: not written; choose another --output")
        os.ftruncate(fd, 0)
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
