"""Links to a bundle's source: only where following one cannot leak or run anything.

A link is made only for a credential-free ``https`` URL on a host whose web UI shows a
repository folder (GitHub, GitLab), with a plain repository path and ref. Anything
else (``file://``, ``ssh``, credentials in the URL, an odd path or ref) gets no link,
and the pages show the redacted URL as text instead. The registry stores the result
on each bundle at sync time (``CodeBundle.source_url``).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

__all__ = ["ALLOWED_SOURCE_HOSTS", "source_url"]

#: Hosts whose web UI shows a repository folder at ``/OWNER/REPO/<tree>/REF/PATH``.
ALLOWED_SOURCE_HOSTS = {"github.com": "tree", "gitlab.com": "-/tree"}
_REPO_PATH = re.compile(r"^/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")
_SAFE_REF = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,199}$")


def source_url(git_url: str, git_ref: str, bundle_slug: str) -> str | None:
    """The web page of a bundle's folder, only for an https URL on an allowed host.

    Anything else (``file://``, ``ssh``, credentials in the URL, an odd path or ref)
    gets no link: the page shows the redacted URL as text instead.
    """
    try:
        parts = urlsplit(git_url)
    except ValueError:
        return None
    tree = ALLOWED_SOURCE_HOSTS.get((parts.hostname or "").lower())
    if parts.scheme != "https" or tree is None or "@" in parts.netloc or parts.port:
        return None
    repo = _REPO_PATH.match(parts.path)
    if repo is None or parts.query or parts.fragment:
        return None
    if not _SAFE_REF.match(git_ref) or ".." in git_ref:
        return None
    owner, name = repo.groups()
    return (f"https://{parts.hostname}/{owner}/{name}/{tree}/{quote(git_ref, safe='/')}"
            f"/codebundles/{quote(bundle_slug, safe='')}")
