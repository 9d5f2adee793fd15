"""``python -m registry serve`` says which home and database it serves before anything else:
run from another folder, the default home is a new ./var/registry there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_prints_its_home_first(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "registry", "serve", "--port", str(_free_port())],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert server.stdout is not None
        first, second = server.stdout.readline(), server.stdout.readline()
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert first.startswith(f"registry home   {tmp_path.resolve() / 'var' / 'registry'} ")
    assert "REGISTRY_HOME" in first
    assert second.startswith("database        sqlite:///")
