"""Credentials in git URLs are kept for git and hidden from everything people see.

A private collection may be cloned from ``https://user:token@host/repo.git``. The sync
task receives only the collection's slug and reads the URL from the database, so the
database keeps it as written (it is as private as ``collections.yaml`` itself; the
alternative, a credential store, is the deployment's business). Everything that leaves
it - the API, the CLI, ``last_error``, task results, log lines, git's own messages -
goes through :func:`redact` first.

Over https the whole user part goes (tokens are often sent as the user name); for
other schemes the user name stays and only a password goes.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact", "redact_url"]

MASK = "***"
# scheme://userinfo@ : userinfo has no '/', '@' or whitespace.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@")


def _mask(match: re.Match[str]) -> str:
    scheme, userinfo = match["scheme"], match["userinfo"]
    if scheme.lower().startswith(("http://", "https://")):
        return f"{scheme}{MASK}@"
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}{user}{colon}{MASK if colon else ''}@"


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it masked."""
    return _USERINFO.sub(_mask, text)


def redact_url(url: str) -> str:
    """One URL with its credentials masked (``https://***@host/...``)."""
    return redact(url)
