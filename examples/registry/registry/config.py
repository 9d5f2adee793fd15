"""Settings read from the environment, so workers and the API agree on one configuration."""

from __future__ import annotations

import dataclasses
import logging
import os
import pwd
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Settings", "UnsafeHomeError", "load_settings", "private_home"]

logger = logging.getLogger(__name__)


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


class UnsafeHomeError(OSError):
    """The registry home is another user's (or a link they made): never written to."""


def private_home(home: Path) -> Path:
    """Make ``home`` (mode 0700: it holds the database, the checkouts and the embedded
    broker) or check an existing one is ours, and close it to others if it was open.

    Another user's directory, or a link of theirs, is refused: they could read the
    database, or replace or link anything the registry later writes there.
    """
    home.parent.mkdir(parents=True, exist_ok=True)
    try:
        home.mkdir(mode=0o700)
        os.chmod(home, 0o700)  # whatever the umask
        return home
    except FileExistsError:
        pass
    for info in (home.lstat(), home.stat()):  # the link, then what it names
        if info.st_uid != os.geteuid():
            raise UnsafeHomeError(
                f"registry home {home} belongs to {_user(info.st_uid)}, not to "
                f"{_user(os.geteuid())}: choose another --home (or REGISTRY_HOME)"
            )
    info = home.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeHomeError(f"registry home {home} is not a directory")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        os.chmod(home, 0o700)
        logger.warning("registry home %s was open to others (mode %o): made 0700", home, mode)
    return home


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
