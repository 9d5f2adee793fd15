"""``collections.yaml``: read (bounded, :mod:`registry.safeyaml`), validate every entry
with pydantic (:class:`CollectionSpec`'s field types carry the rules), keep the good ones.

A bad entry never stops the load: it becomes a :class:`SourceError` naming the entry
and the field, and the other collections go ahead. ``git_url`` is checked against a
strict allow-list because it ends up on a ``git`` command line: anything that could be
read as an option (``--upload-pack=...``, a leading ``-``) or select a helper transport
(``ext::``, ``fd::``) is refused here, before git ever sees it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import pydantic
from pydantic_core import PydanticCustomError

from registry.redact import redact_url
from registry.safeyaml import YamlInputError, YamlLimits, find_refused, load_yaml

__all__ = [
    "LIMITS",
    "MAX_COLLECTIONS",
    "CollectionSpec",
    "CollectionsFileError",
    "LoadResult",
    "SourceError",
    "load_collections",
    "parse_collections",
    "parse_collections_text",
    "read_collections_text",
    "validate_git_ref",
    "validate_git_url",
    "validate_slug",
]

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?")
# An scp-like ssh address: user@host:path (no scheme, no option look-alikes).
SCP_RE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-][A-Za-z0-9._~/+-]*")
REF_RE = re.compile(r"[A-Za-z0-9._/+-]{1,200}")
HOST_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,252})")
ALLOWED_SCHEMES = ("file", "https", "ssh")
REQUIRED_FIELDS = ("name", "slug", "git_url")
#: Entries one ``collections.yaml`` may hold (each becomes a task of the run).
MAX_COLLECTIONS = 10_000
#: What reading one ``collections.yaml`` may cost (see :mod:`registry.safeyaml`).
#: A list longer than ``MAX_COLLECTIONS`` is refused while it is read, not after.
LIMITS = YamlLimits(max_bytes=8 << 20, max_depth=16, max_values=400_000, max_chars=16 << 20,
                    max_items=MAX_COLLECTIONS)


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
    if not SLUG_RE.fullmatch(slug):
        return (
            f"{slug!r} is not a slug: use 1-100 lowercase letters, digits and inner hyphens"
        )
    return None


def validate_git_url(url: str) -> str | None:
    """Return why ``url`` may not be handed to git, or ``None`` when it is allowed.

    Allowed: ``file://``, ``https://``, ``ssh://`` URLs and ``user@host:path``.
    Messages show the URL with its credentials masked.
    """
    shown = repr(redact_url(url))
    if not url or url != url.strip():
        return "must be a non-empty URL without surrounding spaces"
    if url.startswith("-"):
        return f"{shown} starts with '-' and would be read by git as an option"
    if "::" in url.split("/", 1)[0]:
        return f"{shown} uses a git remote helper transport ('<helper>::'), which is refused"
    if any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in url):
        return f"{shown} contains whitespace or control characters"
    if SCP_RE.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unbalanced or non-IPv6 bracketed host
        return f"{shown} is not a valid URL ({exc})"
    if parts.scheme not in ALLOWED_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in ALLOWED_SCHEMES)
        scheme = parts.scheme or "(none)"
        return f"{shown}: transport {scheme!r} is not allowed (use {allowed} or user@host:path)"
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return f"{shown}: a file:// URL must be absolute, like file:///srv/repo.git"
    elif not hostname or not _valid_host(hostname, bracketed="[" in parts.netloc):
        return f"{shown} has no valid host"
    if "--" in parts.path or parts.path.startswith("-"):
        return f"{shown} has an option-like path"
    return None


def _valid_host(hostname: str, *, bracketed: bool) -> bool:
    """A DNS name or IPv4 address, or an IPv6 address in brackets; never option-like."""
    if bracketed:
        try:
            ipaddress.IPv6Address(hostname.split("%", 1)[0])
        except ValueError:
            return False
        return True
    return bool(HOST_RE.fullmatch(hostname))


def validate_git_ref(ref: str) -> str | None:
    """Return why ``ref`` is not an acceptable branch, tag or commit name, or ``None``."""
    if not REF_RE.fullmatch(ref) or ref.startswith(("-", "/")) or ".." in ref or ref.endswith(
        (".lock", "/", ".")
    ):
        return f"{ref!r} is not a valid branch, tag or commit name"
    return None


def _as_written(value: Any, info: pydantic.ValidationInfo) -> Any:
    """Text exactly as written, before any other rule: anything YAML turned into another
    type is refused (never converted), and so are control characters and padding."""
    field = str(info.field_name)
    if value is None:  # an optional key written without a value: its default
        default = _DEFAULTS.get(field, dataclasses.MISSING)
        if default is dataclasses.MISSING:
            raise _problem("is required")
        return default
    if (refused := find_refused(value)) is not None:
        raise _problem(str(refused))
    if not isinstance(value, str):
        raise _problem(_not_a_string(value))
    if problem := _text_problem(field, value):
        raise _problem(problem)
    if field in REQUIRED_FIELDS and not value:
        raise _problem("must not be empty")
    return value


def _rule(check: Callable[[str], str | None]) -> pydantic.AfterValidator:
    """One of the security rules below (slug, git URL, git ref) as a pydantic validator."""

    def checked(value: str) -> str:
        if problem := check(value):
            raise _problem(problem)
        return value

    return pydantic.AfterValidator(checked)


def _problem(message: str) -> PydanticCustomError:
    """A validation error whose message is ours, word for word."""
    return PydanticCustomError("registry_refused", "{reason}", {"reason": message})


_Text = Annotated[str, pydantic.BeforeValidator(_as_written)]


@dataclasses.dataclass(frozen=True)
class CollectionSpec:
    """A ``codecollections:`` entry. :func:`parse_collections` builds it through pydantic
    (the field types carry the rules); built directly (from a task message or a stored
    row) it is not validated again, and ``registry.gitsync`` re-checks URL and ref."""

    name: _Text
    slug: Annotated[_Text, _rule(validate_slug)]
    git_url: Annotated[_Text, _rule(validate_git_url)]
    git_ref: Annotated[_Text, _rule(validate_git_ref)] = "main"
    owner: _Text = ""
    owner_email: _Text = ""
    description: _Text = ""


_DEFAULTS = {field.name: field.default for field in dataclasses.fields(CollectionSpec)}
#: Validates a loaded entry (a mapping; unknown keys ignored) into a CollectionSpec.
_ENTRY = pydantic.TypeAdapter(CollectionSpec)


def _entry_label(index: int, raw: Any) -> str:
    if isinstance(raw, Mapping) and isinstance(raw.get("slug"), str) and raw["slug"]:
        return f"#{index + 1} ({raw['slug']!r})"
    return f"#{index + 1}"


def _check_entry(index: int, raw: Any) -> CollectionSpec | SourceError:
    label = _entry_label(index, raw)
    try:
        return _checked_entry(label, raw)
    except Exception as exc:  # a bad entry never stops the load
        return SourceError(label, "(entry)", f"could not be checked: {type(exc).__name__}")


def _checked_entry(label: str, raw: Any) -> CollectionSpec | SourceError:
    if not isinstance(raw, Mapping):
        return SourceError(label, "(entry)", f"must be a mapping, got {type(raw).__name__}")
    try:
        return _ENTRY.validate_python(dict(raw))
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]  # fields in order: name, slug, git_url...
        field = ".".join(str(part) for part in first["loc"]) or "(entry)"
        message = "is required" if first["type"] == "missing" else first["msg"]
        return SourceError(label, field, message)


def _not_a_string(value: Any) -> str:
    """Why a non-string is refused: YAML already changed it (``1.10`` is ``1.1``)."""
    kind = type(value).__name__
    if isinstance(value, (bool, int, float, dt.date)):
        return (f"must be a string, got {kind} {value!r}: YAML read the value as a {kind}; "
                "quote it to keep it exactly as written")
    return f"must be a string, got {kind}"


def _text_problem(field: str, value: str) -> str | None:
    """Control characters anywhere (but newlines and tabs in ``description``), and
    surrounding whitespace on one-line fields: refused, never stripped."""
    if field in ("slug", "git_url", "git_ref"):
        return None  # their own validators accept only a strict set of characters
    allowed = "\n\t" if field == "description" else ""
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return f"contains the control character U+{ord(ch):04X}; refused"
    if field != "description" and value != value.strip():
        return f"{value!r} has surrounding whitespace; refused"
    return None


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


def parse_collections_text(text: str, name: str = "collections.yaml") -> LoadResult:
    """Validate the text of a ``collections.yaml`` (``name``: the file, for errors)
    within :data:`LIMITS`.

    Unreadable YAML, or a file over a limit (its size, or more than
    :data:`MAX_COLLECTIONS` entries: refused where the reader meets the first one too
    many), is one ``(file)`` error naming the file; an entry nested too deeply is
    refused alone.
    """
    try:
        data = load_yaml(text, LIMITS)
    except YamlInputError as exc:
        why = str(exc)
        if f"{MAX_COLLECTIONS}-entry limit" in why:
            why += "; split it into several files"
        return LoadResult([], [SourceError("(file)", name, why)])
    return parse_collections(data)


class CollectionsFileError(ValueError):
    """``collections.yaml`` cannot be read as text (missing, a folder, not UTF-8...)."""


def read_collections_text(path: Path | str) -> str:
    """The text of ``collections.yaml``, read no further than :data:`LIMITS` allows (an
    oversized file is then refused by :func:`parse_collections_text`, by its size)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(LIMITS.max_bytes + 1)
        # over the limit: refused by its size, even when the cut split a character
        return data.decode("utf-8", "replace" if len(data) > LIMITS.max_bytes else "strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectionsFileError(f"{path} cannot be read: {exc}") from exc


def load_collections(path: Path | str) -> LoadResult:
    """Read ``collections.yaml``; an unreadable or non-YAML file is one ``(file)`` error."""
    try:
        text = read_collections_text(path)
    except CollectionsFileError as exc:
        why = str(exc).removeprefix(f"{path} ")
        return LoadResult([], [SourceError("(file)", str(path), why)])
    return parse_collections_text(text, str(path))
