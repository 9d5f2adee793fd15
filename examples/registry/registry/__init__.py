"""A CodeBundle registry built on celery-safe.

Git collections of Robot Framework bundles are cloned, parsed, stored with SQLAlchemy,
enhanced by a local provider and served over a small JSON API.
"""

from __future__ import annotations

from typing import Any

__all__ = ["serve"]


def serve(host: str = "127.0.0.1", port: int = 8000, settings: Any = None) -> None:
    """Run the HTTP API with uvicorn (blocking)."""
    from registry.api import serve as _serve

    _serve(host, port, settings)
