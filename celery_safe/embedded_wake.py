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
import tempfile
import threading
from typing import Any

__all__ = ["Doorbell", "listeners", "ring", "wake_directory"]

logger = logging.getLogger(__name__)

#: ``sun_path`` holds 104 bytes on macOS (108 on Linux), the terminating NUL included.
_MAX_SOCKET_PATH = 100
#: The longest socket name :class:`Doorbell` binds (pid, dash, 16 hex digits).
_NAME_LENGTH = 28

_sender_lock = threading.Lock()
_sender: tuple[int, socket.socket] | None = None  # (pid, socket): never used across fork


def wake_directory(broker_path: str) -> str:
    """The directory of the doorbells of the broker at ``broker_path``.

    Beside the file when the socket paths fit in ``sun_path``; otherwise under the
    temporary directory, named after a hash of the broker's path (the same in every
    process).
    """
    beside = f"{broker_path}.wake"
    if len(os.fsencode(beside)) + 1 + _NAME_LENGTH <= _MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(os.fsencode(broker_path)).hexdigest()[:16]
    short = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(),
                         f"celery-safe-wake-{digest}")
    return short


#: select()'s limit on descriptor numbers.
_FD_SETSIZE = 1024


class Doorbell:
    """A consumer's socket in the wake directory; :meth:`wait` returns when rung."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{os.getpid()}-{secrets.token_hex(8)}")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._socket.bind(self.path)
        self._pid = os.getpid()

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
        _send(self.path)

    def close(self) -> None:
        self._socket.close()
        if os.getpid() == self._pid:  # a forked child must not remove its parent's socket
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def ring(directory: str) -> None:
    """Wake every consumer with a doorbell in ``directory``; never raises.

    A socket nobody is bound to any more (its process died) is removed on the way.
    """
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return  # no consumer ever waited on this broker
    except OSError:
        logger.debug("cannot list the wake directory %s", directory, exc_info=True)
        return
    for entry in entries:
        _send(entry.path)


def listeners(directory: str) -> int:
    """How many doorbells in ``directory`` a live process is bound to (each one rung
    once, harmlessly: its consumer polls its queues). Only sockets are tried."""
    try:
        entries = [e for e in os.scandir(directory)
                   if stat.S_ISSOCK(e.stat(follow_symlinks=False).st_mode)]
    except OSError:
        return 0  # no consumer ever waited on this broker
    live = 0
    for entry in entries:
        try:
            _sending_socket().sendto(b"\0", entry.path)
        except OSError as exc:  # refused: nobody bound; full: bound and not reading yet
            live += exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS)
        else:
            live += 1
    return live


def _send(path: str) -> None:
    try:
        _sending_socket().sendto(b"\0", path)
    except ConnectionRefusedError:  # nobody bound: its consumer died without closing
        with contextlib.suppress(OSError):
            os.unlink(path)
    except OSError as exc:
        # A full buffer (already rung), a vanished socket, a non-socket file: nothing
        # to do, the fallback poll covers a consumer that missed this one.
        if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.ENOENT):
            logger.debug("could not ring %s", path, exc_info=True)


def _sending_socket() -> socket.socket:
    """One unbound datagram socket per process, made again after a fork."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            _sender = (os.getpid(), sock)
        return _sender[1]
