"""Where the test suite's Redis is, and whether it answers.

Integration tests read ``$CELERY_SAFE_REDIS_URL`` (``redis://127.0.0.1:6379`` by
default) and append ``/N`` for a database of their own.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

__all__ = ["DEFAULT_REDIS_URL", "REDIS_URL_ENV", "redis_reachable", "redis_url_from_env"]

REDIS_URL_ENV = "CELERY_SAFE_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"


def redis_url_from_env() -> str:
    """``redis://host:port`` from ``$CELERY_SAFE_REDIS_URL``, without a trailing slash."""
    return os.environ.get(REDIS_URL_ENV, DEFAULT_REDIS_URL).rstrip("/")


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether something accepts connections at ``url``'s host and port."""
    parsed = urlparse(url)
    address = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
    try:
        with socket.create_connection(address, timeout):
            return True
    except OSError:
        return False
