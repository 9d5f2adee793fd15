"""Wake-ups for the embedded broker: a publish reaches an idle consumer at once.

SQLite tells no one when a row is inserted, so a consumer would have to poll its queue
table. Here every consumer binds a UNIX datagram socket in a directory beside the
broker file (:class:`Doorbell`), and every process that makes a message visible (a
publish, a requeue) sends one byte to each socket there (:func:`ring`). A consumer with
nothing to do waits on its socket with ``select``, which costs no CPU, works in every
pool (prefork, threads, solo; gevent and eventlet patch ``select``) and on Linux and
macOS. A byte sent between a consumer's empty poll and its wait stays in the socket, so
no wake-up is lost in that gap; a wake-up lost anyway (a full socket buffer, a process
that rang before the socket existed) only delays delivery to the next fallback poll.

The directory is private: made ``0700``, opened without following a link
(``O_NOFOLLOW``) and refused (:class:`WakeDirectoryError`, naming the path and its
owner) when it is a link or someone else's; everything inside is reached through the
checked directory's descriptor, and only an entry that ``lstat`` says is a socket of
ours is ever unlinked. On Linux a socket path too long for ``sun_path`` is reached
through ``/proc/self/fd``, so the directory always sits beside the broker; elsewhere a
long one moves under a per-user private parent in the temporary directory.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import select
import socket
import stat
import sys
import tempfile
import threading
from typing import Any

__all__ = ["Doorbell", "WakeDirectoryError", "listeners", "ring", "wake_directory"]

logger = logging.getLogger(__name__)

#: ``sun_path`` holds 104 bytes on macOS (108 on Linux), the terminating NUL included.
_MAX_SOCKET_PATH = 100
#: The longest socket name :class:`Doorbell` binds (pid, dash, 12 hex digits).
_NAME_LENGTH = 20
#: A socket path through a directory descriptor (Linux): any directory fits in sun_path.
_FD_PATHS = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")
_OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)

_sender_lock = threading.Lock()
_sender: tuple[int, socket.socket] | None = None  # (pid, socket): never used across fork
_warned: set[str] = set()


class WakeDirectoryError(OSError):
    """The doorbells' directory is a link, not a directory, or someone else's: unused."""


def wake_directory(broker_path: str) -> str:
    """The directory of the doorbells of the broker at ``broker_path``.

    ``<broker>.wake`` beside the file (on Linux always; elsewhere when the socket paths
    fit in ``sun_path``); otherwise ``<tmp>/celery-safe-<uid>/w<hash of the path>``, the
    same in every process of this user.
    """
    beside = f"{broker_path}.wake"
    if _FD_PATHS or _fits(beside):
        return beside
    digest = hashlib.sha256(os.fsencode(broker_path)).hexdigest()[:16]
    return os.path.join(_private_parent(), f"w{digest}")


def _fits(directory: str) -> bool:
    return len(os.fsencode(directory)) + 1 + _NAME_LENGTH <= _MAX_SOCKET_PATH


def _private_parent() -> str:
    """This user's own directory in the shared temporary directory."""
    shared = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return os.path.join(shared, f"celery-safe-{os.geteuid()}")


def _owner(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _refuse(path: str, why: str) -> WakeDirectoryError:
    return WakeDirectoryError(
        f"the wake directory {path} {why}; doorbells live only in a directory of their "
        f"own user ({_owner(os.geteuid())}): remove it, or point the broker elsewhere"
    )


def _open_private(path: str, *, create: bool, dir_fd: int | None = None) -> int | None:
    """A descriptor of the directory ``path`` (made ``0700`` when ``create``), checked to
    be a real directory of ours; ``None`` when missing and not ``create``."""
    name = os.path.basename(path) if dir_fd is not None else path
    if create:
        with contextlib.suppress(FileExistsError):  # mkdir never follows a link
            os.mkdir(name, 0o700, dir_fd=dir_fd)
    try:
        fd = os.open(name, _OPEN_DIRECTORY, dir_fd=dir_fd)
    except FileNotFoundError:
        if create:
            raise
        return None
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            raise _refuse(path, "is not a directory") from exc
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a directory"
        raise _refuse(path, f"is {kind} owned by {_owner(info.st_uid)}") from exc
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise _refuse(path, f"belongs to {_owner(info.st_uid)}")
        if stat.S_IMODE(info.st_mode) != 0o700:
            if path not in _warned:
                _warned.add(path)
                logger.warning("the wake directory %s was open to others (mode %o): "
                               "made 0700", path, stat.S_IMODE(info.st_mode))
            os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_wake_directory(directory: str, *, create: bool) -> int | None:
    """The checked descriptor of ``directory``, through its per-user parent when it
    lives in the shared temporary directory."""
    parent = os.path.dirname(directory)
    if parent != _private_parent():
        return _open_private(directory, create=create)
    parent_fd = _open_private(parent, create=create)
    if parent_fd is None:
        return None
    try:
        return _open_private(directory, create=create, dir_fd=parent_fd)
    finally:
        os.close(parent_fd)


def _address(directory: str, dir_fd: int, name: str) -> str:
    """The path ``sendto``/``bind`` reach ``name`` in the checked directory by."""
    if _FD_PATHS:
        return f"/proc/self/fd/{dir_fd}/{name}"
    return os.path.join(directory, name)


#: select()'s limit on descriptor numbers.
_FD_SETSIZE = 1024
#: Times a doorbell retries when its empty directory was removed under it.
_BIND_ATTEMPTS = 3


class Doorbell:
    """A consumer's socket in the wake directory; :meth:`wait` returns when rung."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._pid = os.getpid()
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        for attempt in range(_BIND_ATTEMPTS):
            fd = _open_wake_directory(directory, create=True)
            assert fd is not None  # made when missing
            self.name = f"{self._pid}-{secrets.token_hex(6)}"
            self._address = _address(directory, fd, self.name)
            try:
                self._socket.bind(self._address)
            except FileNotFoundError:  # another process removed the empty directory
                os.close(fd)
                if attempt == _BIND_ATTEMPTS - 1:
                    self._socket.close()
                    raise
                continue
            except BaseException:
                os.close(fd)
                self._socket.close()
                raise
            self._dir_fd = fd
            break
        self.path = os.path.join(directory, self.name)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a ring; whether one came (all are consumed)."""
        wait = max(timeout, 0.0)
        if self._socket.fileno() < _FD_SETSIZE or not hasattr(select, "poll"):
            # select() is what eventlet and gevent make cooperative (their monkey-patching
            # leaves poll() blocking the whole hub, or removes it)
            readable: Any = select.select([self._socket], [], [], wait)[0]
        else:
            # select() refuses a descriptor past FD_SETSIZE: poll() has no such limit
            poller = select.poll()
            poller.register(self._socket, select.POLLIN)
            readable = poller.poll(wait * 1000)
        rung = False
        if readable:
            while True:
                try:
                    self._socket.recv(64)
                except (BlockingIOError, InterruptedError):
                    break
                rung = True
        return rung

    def poke(self) -> None:
        """Ring this doorbell only: this consumer can take more (it acknowledged one)."""
        with contextlib.suppress(OSError):  # a full buffer: it is rung already
            _sending_socket().sendto(b"\0", self._address)

    def close(self) -> None:
        self._socket.close()
        if os.getpid() == self._pid:  # a forked child must not remove its parent's socket
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self._dir_fd)
            if os.path.dirname(self.directory) == _private_parent():
                # under the shared temporary directory: leave nothing behind once empty
                for emptied in (self.directory, os.path.dirname(self.directory)):
                    with contextlib.suppress(OSError):  # not empty, or not ours to remove
                        os.rmdir(emptied)
        with contextlib.suppress(OSError):
            os.close(self._dir_fd)


def ring(directory: str) -> None:
    """Wake every consumer with a doorbell in ``directory``; never raises.

    A socket of ours nobody is bound to any more (its process died) is removed on the
    way; nothing else in the directory is touched, and a directory that is a link or
    someone else's is not rung at all (logged once).
    """
    try:
        fd = _open_wake_directory(directory, create=False)
    except WakeDirectoryError as exc:
        if directory not in _warned:
            _warned.add(directory)
            logger.warning("no wake-ups: %s", exc)
        return
    except OSError:
        logger.debug("cannot open the wake directory %s", directory, exc_info=True)
        return
    if fd is None:
        return  # no consumer ever waited on this broker
    try:
        for name in os.listdir(fd):
            _ring_entry(directory, fd, name)
    except OSError:
        logger.debug("cannot list the wake directory %s", directory, exc_info=True)
    finally:
        os.close(fd)


def listeners(directory: str) -> int:
    """How many doorbells of ours in ``directory`` a live process is bound to (each is
    rung once, harmlessly: its consumer polls its queues). A directory that is a link
    or someone else's has none; nothing is removed."""
    try:
        fd = _open_wake_directory(directory, create=False)
    except OSError:  # WakeDirectoryError included: not ours, so no consumer of ours
        return 0
    if fd is None:
        return 0  # no consumer ever waited on this broker
    live = 0
    try:
        for name in os.listdir(fd):
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
                continue
            try:
                _sending_socket().sendto(b"\0", _address(directory, fd, name))
            except OSError as exc:  # refused: nobody bound; full: bound, not reading yet
                live += exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS)
            else:
                live += 1
    except OSError:
        logger.debug("cannot list the wake directory %s", directory, exc_info=True)
    finally:
        os.close(fd)
    return live


def _ring_entry(directory: str, dir_fd: int, name: str) -> None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
        return  # not a doorbell of ours: never rung, never removed
    try:
        _sending_socket().sendto(b"\0", _address(directory, dir_fd, name))
    except ConnectionRefusedError:  # nobody bound: its consumer died without closing
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
    except OSError as exc:
        # A full buffer (already rung), a vanished socket: nothing to do, the fallback
        # poll covers a consumer that missed this one.
        if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.ENOENT):
            logger.debug("could not ring %s", name, exc_info=True)


def _sending_socket() -> socket.socket:
    """One unbound datagram socket per process, made again after a fork."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            _sender = (os.getpid(), sock)
        return _sender[1]
