"""Where the test suite's Redis and RabbitMQ are, and whether they answer.

Integration tests read ``$CELERY_SAFE_REDIS_URL`` (``redis://127.0.0.1:6379`` by
default; a test appends ``/N`` for a database of its own) and ``$CELERY_SAFE_AMQP_URL``
(``amqp://guest:guest@127.0.0.1:5672//`` by default).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

__all__ = ["AMQP", "REDIS", "Server"]


@dataclass(frozen=True)
class Server:
    """A server tests need: its name, the variable naming its URL, and the defaults."""

    name: str
    env: str
    default_url: str
    default_port: int

    def url_from_env(self) -> str:
        """The URL from the environment (or the default), without a trailing slash for
        Redis, where tests append a database."""
        url = os.environ.get(self.env, self.default_url)
        return url.rstrip("/") if url.startswith("redis") else url

    def reachable(self, url: str, timeout: float = 1.0) -> bool:
        """Whether something accepts connections at ``url``'s host and port."""
        parsed = urlparse(url)
        address = (parsed.hostname or "127.0.0.1", parsed.port or self.default_port)
        try:
            with socket.create_connection(address, timeout):
                return True
        except OSError:
            return False


REDIS = Server("Redis", "CELERY_SAFE_REDIS_URL", "redis://127.0.0.1:6379", 6379)
AMQP = Server("RabbitMQ", "CELERY_SAFE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//", 5672)
