"""``collections.yaml``: read, validate every entry, keep the good ones.

A bad entry never stops the load: it becomes a :class:`SourceError` naming the entry
and the field, and the other collections go ahead. ``git_url`` is checked against a
strict allow-list because it ends up on a ``git`` command line: anything that could be
read as an option (``--upload-pack=...``, a leading ``-``) or select a helper transport
(``ext::``, ``fd::``) is refused here, before git ever sees it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = [
    "CollectionSpec",
    "LoadResult",
    "SourceError",
    "load_collections",
    "parse_collections",
    "validate_git_ref",
    "validate_git_url",
    "validate_slug",
]

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")
# An scp-like ssh address: user@host:path (no scheme, no option look-alikes).
SCP_RE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-][A-Za-z0-9._~/+-]*$")
REF_RE = re.compile(r"^[A-Za-z0-9._/+-]{1,200}$")
ALLOWED_SCHEMES = ("file", "https", "ssh")
REQUIRED_FIELDS = ("name", "slug", "git_url")
OPTIONAL_FIELDS = ("git_ref", "owner", "owner_email", "description")


@dataclasses.dataclass(frozen=True)
class CollectionSpec:
    """A validated ``codecollections:`` entry."""

    name: str
    slug: str
    git_url: str
    git_ref: str = "main"
    owner: str = ""
    owner_email: str = ""
    description: str = ""


@dataclasses.dataclass(frozen=True)
class SourceError:
    """Why one entry was refused: ``entry`` is its slug or its position, ``field`` the culprit."""

    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"collection {self.entry}: {self.field}: {self.message}"


@dataclasses.dataclass(frozen=True)
class LoadResult:
    collections: list[CollectionSpec]
    errors: list[SourceError]


def validate_slug(slug: str) -> str | None:
    """Return why ``slug`` is not a valid slug, or ``None`` when it is."""
    if not SLUG_RE.match(slug):
        return (
            f"{slug!r} is not a slug: use 1-100 lowercase letters, digits and inner hyphens"
        )
    return None


def validate_git_url(url: str) -> str | None:
    """Return why ``url`` may not be handed to git, or ``None`` when it is allowed.

    Allowed: ``file://``, ``https://``, ``ssh://`` URLs and ``user@host:path``.
    """
    if not url or url != url.strip():
        return "must be a non-empty URL without surrounding spaces"
    if url.startswith("-"):
        return f"{url!r} starts with '-' and would be read by git as an option"
    if "::" in url.split("/", 1)[0]:
        return f"{url!r} uses a git remote helper transport ('<helper>::'), which is refused"
    if any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in url):
        return f"{url!r} contains whitespace or control characters"
    if SCP_RE.match(url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in ALLOWED_SCHEMES)
        scheme = parts.scheme or "(none)"
        return f"{url!r}: transport {scheme!r} is not allowed (use {allowed} or user@host:path)"
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return f"{url!r}: a file:// URL must be absolute, like file:///srv/repo.git"
    elif not parts.hostname or parts.hostname.startswith("-"):
        return f"{url!r} has no valid host"
    if "--" in parts.path or parts.path.startswith("-"):
        return f"{url!r} has an option-like path"
    return None


def validate_git_ref(ref: str) -> str | None:
    """Return why ``ref`` is not an acceptable branch, tag or commit name, or ``None``."""
    if not REF_RE.match(ref) or ref.startswith(("-", "/")) or ".." in ref or ref.endswith(
        (".lock", "/", ".")
    ):
        return f"{ref!r} is not a valid branch, tag or commit name"
    return None


def _entry_label(index: int, raw: Any) -> str:
    if isinstance(raw, Mapping) and isinstance(raw.get("slug"), str) and raw["slug"]:
        return f"#{index + 1} ({raw['slug']!r})"
    return f"#{index + 1}"


def _check_entry(index: int, raw: Any) -> CollectionSpec | SourceError:
    label = _entry_label(index, raw)
    if not isinstance(raw, Mapping):
        return SourceError(label, "(entry)", f"must be a mapping, got {type(raw).__name__}")
    values: dict[str, str] = {}
    for field in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
        value = raw.get(field)
        if value is None:
            if field in REQUIRED_FIELDS:
                return SourceError(label, field, "is required")
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and field == "git_ref":
            value = str(value)  # e.g. a tag like 1.0 that YAML read as a number
        if not isinstance(value, str):
            return SourceError(label, field, f"must be a string, got {type(value).__name__}")
        values[field] = value.strip() if field != "description" else value
    for field in REQUIRED_FIELDS:
        if not values[field]:
            return SourceError(label, field, "must not be empty")
    for field, check in (
        ("slug", validate_slug),
        ("git_url", validate_git_url),
        ("git_ref", validate_git_ref),
    ):
        if field in values and (problem := check(values[field])):
            return SourceError(label, field, problem)
    return CollectionSpec(**values)


def parse_collections(data: Any) -> LoadResult:
    """Validate already-loaded YAML data (``{"codecollections": [...]}``)."""
    if not isinstance(data, Mapping) or "codecollections" not in data:
        missing = SourceError("(file)", "codecollections", "top-level key is missing")
        return LoadResult([], [missing])
    entries = data["codecollections"]
    if not isinstance(entries, list):
        kind = type(entries).__name__
        not_list = SourceError("(file)", "codecollections", f"must be a list, got {kind}")
        return LoadResult([], [not_list])
    collections: list[CollectionSpec] = []
    errors: list[SourceError] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(entries):
        checked = _check_entry(index, raw)
        if isinstance(checked, SourceError):
            errors.append(checked)
        elif checked.slug in seen:
            first = seen[checked.slug]
            errors.append(
                SourceError(
                    _entry_label(index, raw), "slug",
                    f"duplicate slug {checked.slug!r} (first used by entry #{first + 1})",
                )
            )
        else:
            seen[checked.slug] = index
            collections.append(checked)
    return LoadResult(collections, errors)


def load_collections(path: Path | str) -> LoadResult:
    """Read ``collections.yaml``; an unreadable or non-YAML file is one ``(file)`` error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return LoadResult([], [SourceError("(file)", str(path), f"cannot be read: {exc}")])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return LoadResult([], [SourceError("(file)", str(path), f"is not valid YAML: {exc}")])
    return parse_collections(data)
