"""Can the app's serializer encode a signature's arguments? Answered without encoding them.

Plain JSON data (str, int, float, bool, None, lists, tuples, dicts with str keys) is
accepted by every serializer kombu ships, so it is recognised by a type walk. Anything
else is handed to the real serializer (``kombu.serialization.dumps``), whose verdict is
final: kombu's JSON encodes ``datetime``, ``Decimal``, ``UUID``, ``bytes``, but not a
``set`` or a model instance.

The linter has no values, only source: :data:`JSON_REFUSES` names the kinds of object it
can recognise there that kombu's JSON refuses (each measured against kombu by
``tests/canvas/test_encoding_kombu.py``, so a kombu that starts carrying one fails a
test instead of silently changing the static CSF207's premise).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["JSON_REFUSES", "is_plain", "unencodable"]

#: Kinds of object that kombu's JSON serializer refuses (``EncodeError`` at send time), as
#: the static CSF207 names them; kombu's own encoder carries ``datetime``, ``date``,
#: ``time``, ``Decimal``, ``UUID`` and ``bytes`` (as tagged strings, received as such),
#: tuples (received as lists), and any object with a ``__json__`` method; not
#: ``timedelta``.
JSON_REFUSES = {
    "model": "a Django model instance",
    "queryset": "a Django QuerySet",
    "user": "the signed-in User, or AnonymousUser",
    "set": "a set",
    "frozenset": "a frozenset",
    "generator": "a generator",
    "function": "a function",
    "file": "an open file",
    "lock": "a lock",
    "socket": "a socket",
    "timedelta": "a timedelta",
    "path": "a pathlib path",
}

_PLAIN = (str, int, float, bool, type(None))


def is_plain(value: Any, depth: int = 0) -> bool:
    """Plain JSON data, which every serializer kombu ships can encode."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if depth > 20:
        return False
    if kind is list or kind is tuple:
        return all(is_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(k) is str and is_plain(v, depth + 1) for k, v in value.items())
    return False


def _arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for index, value in enumerate(args):
        yield f"args[{index}]", value
    for name, value in kwargs.items():
        yield name, value


def unencodable(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], serializer: str
) -> tuple[str, Any, str] | None:
    """The first argument ``serializer`` cannot encode: (label, value, reason), or None."""
    if is_plain(args) and is_plain(kwargs):
        return None
    # kombu only when a value is not plain data: the linter never gets here.
    from kombu.exceptions import EncodeError
    from kombu.serialization import dumps

    for label, value in _arguments(args, kwargs):
        if is_plain(value):
            continue
        try:
            dumps(value, serializer=serializer)  # type: ignore[no-untyped-call]
        except EncodeError as exc:
            cause = exc.__cause__ or exc
            return label, value, str(cause) or type(cause).__name__
        except Exception as exc:  # a serializer plugin may raise anything
            return label, value, f"{type(exc).__name__}: {exc}"
    return None
