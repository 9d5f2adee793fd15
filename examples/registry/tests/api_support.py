"""Real HTTP servers for the API tests: uvicorn on a free 127.0.0.1 port, in a thread
(:func:`serving`) or as a ``python -m registry serve`` process (:func:`serve_process`)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

__all__ = ["serve_process", "serving"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_process(env: dict[str, str], home: Path) -> Iterator[str]:
    """``python -m registry serve`` on a free port with ``env``, until ``/health`` answers;
    yield its base URL (no trailing slash). Its output goes to ``home/serve.log``."""
    port = free_port()
    log_path = home / "serve.log"  # a file, not a pipe: a full pipe would block the server
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "registry", "serve", "--port", str(port)],
        env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text()
                raise RuntimeError(f"registry serve did not start:\n{output[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
