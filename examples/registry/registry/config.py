"""Settings read from the environment, so workers and the API agree on one configuration."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Settings", "load_settings"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the registry keeps its files and which database, broker and enhancer it uses.

    ``broker_url``/``result_backend`` left ``None`` mean "the embedded default"
    (chosen by the Celery side); ``db_url`` always resolves to a real URL.
    """

    home: Path
    db_url: str
    broker_url: str | None = None
    result_backend: str | None = None
    enhancer: str = "local"
    #: The bearer token the admin API wants (``REGISTRY_ADMIN_TOKEN``); ``None``: the
    #: admin endpoints are disabled. Never shown in a repr.
    admin_token: str | None = dataclasses.field(default=None, repr=False)
    #: ``REGISTRY_ADMIN_TOKEN`` was set but blank (whitespace only): no token, and the
    #: server says why its admin routes are off.
    admin_token_blank: bool = False

    @property
    def workdir(self) -> Path:
        """Directory holding one git checkout per collection."""
        return self.home / "checkouts"

    @property
    def collections_file(self) -> Path:
        return self.home / "collections.yaml"


def load_settings(*, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from ``REGISTRY_*`` variables; keyword overrides win.

    >>> load_settings(environ={}, home="/tmp/r").db_url
    'sqlite:////tmp/r/registry.db'
    """
    env = os.environ if environ is None else environ
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    home = Path(overrides.get("home") or env.get("REGISTRY_HOME") or "./var/registry")
    home = home.expanduser().absolute()
    db_url = overrides.get("db_url") or env.get("REGISTRY_DB_URL") or f"sqlite:///{home}/registry.db"
    return Settings(
        home=home,
        db_url=db_url,
        broker_url=overrides.get("broker_url") or env.get("REGISTRY_BROKER_URL") or None,
        result_backend=(
            overrides.get("result_backend") or env.get("REGISTRY_RESULT_BACKEND") or None
        ),
        enhancer=overrides.get("enhancer") or env.get("REGISTRY_ENHANCER") or "local",
        **_admin_token(overrides.get("admin_token") or env.get("REGISTRY_ADMIN_TOKEN")),
    )


def _admin_token(raw: str | None) -> dict[str, Any]:
    """The token without surrounding whitespace (``"tok\\n"`` from a file or a heredoc
    would never match a header); blank is no token, remembered so the server says so."""
    if raw is None:
        return {"admin_token": None}
    token = raw.strip()
    return {"admin_token": token or None, "admin_token_blank": not token}
