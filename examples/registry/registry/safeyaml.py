"""YAML from outside, read with bounded work: size, depth, values and alias expansion.

``yaml.safe_load`` refuses arbitrary objects but not arbitrary *work*: a 500-byte
"billion laughs" file (anchors and aliases nested ten deep) loads in milliseconds as a
graph of shared objects, then expands to billions of values the first time anything
walks it (``json.dumps``, a database write). Deep nesting ends in a ``RecursionError``
that names no file, and a repeated key silently keeps its last value.

:func:`load_yaml` reads the parser's event stream (libyaml's when it is installed, 10-30x
faster than the pure-Python parser) and builds the node graph itself, counting as it
goes as if every alias were expanded:

- over ``max_values`` values or ``max_chars`` characters of text in all, or (when
  ``max_items`` is set) a list or mapping of more than ``max_items`` entries: the whole
  document is refused at that point, so an explosive or oversized file costs one
  limit's worth of work;
- a collection nested deeper than ``max_depth``: only that subtree is replaced by a
  :class:`Refused` value (its reason and line), so the caller can refuse the one entry
  or field that holds it and keep the rest;
- an alias to its own ancestor (a cycle) is refused.

The nodes are then constructed by :class:`StrictLoader`, which refuses a key repeated in
one mapping instead of keeping its last value. Every document-level refusal is a
:class:`YamlInputError` naming the line and the limit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
)
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "HAVE_LIBYAML",
    "PureStrictLoader",
    "Refused",
    "StrictLoader",
    "YamlInputError",
    "YamlLimits",
    "find_refused",
    "load_yaml",
]

HAVE_LIBYAML: bool = hasattr(yaml, "CSafeLoader")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_REFUSED_TAG = "tag:celery-safe.invalid,2026:refused"


@dataclasses.dataclass(frozen=True)
class YamlLimits:
    """What one document may cost, counted with every alias expanded."""

    max_bytes: int  # the UTF-8 text itself
    max_depth: int  # nested mappings/sequences; deeper subtrees become Refused
    max_values: int  # scalars, mappings and sequences
    max_chars: int  # characters of all scalars together
    max_items: int | None = None  # entries of one list or mapping (None: no limit)


@dataclasses.dataclass(frozen=True)
class Refused:
    """Stands for a subtree that was not read (it nests too deeply): why, and where."""

    reason: str

    def __str__(self) -> str:
        return self.reason


class YamlInputError(ValueError):
    """A YAML document was refused as a whole: malformed, or over a document limit."""


def find_refused(value: Any) -> Refused | None:
    """The first :class:`Refused` inside ``value`` (already bounded in depth), if any."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, Refused):
            return item
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


class _StrictConstruction:
    """Constructor mix-in: duplicate keys are errors, and refused subtrees stay markers.

    Merge keys (``<<: *base``) still work: a merged mapping's keys may be overridden,
    but a key written twice by hand may not.
    """

    def construct_mapping(self, node: Node, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            first_seen: dict[Any, Any] = {}
            for key_node, _value in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
                try:
                    earlier = first_seen.get(key)
                except TypeError:
                    continue  # unhashable: the base constructor says so
                if earlier is not None:
                    raise ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {key!r} (first given on line {earlier.line + 1})",
                        key_node.start_mark,
                    )
                first_seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)  # type: ignore[misc]

    def construct_refused(self, node: ScalarNode) -> Refused:
        return Refused(str(node.value))


class PureStrictLoader(_StrictConstruction, yaml.SafeLoader):
    """The pure-Python safe loader, strict (used when libyaml is missing, and in tests)."""


PureStrictLoader.add_constructor(
    _REFUSED_TAG, PureStrictLoader.construct_refused  # type: ignore[type-var]
)

if HAVE_LIBYAML:

    class StrictLoader(_StrictConstruction, yaml.CSafeLoader):
        """The libyaml safe loader, strict."""

    StrictLoader.add_constructor(
        _REFUSED_TAG, StrictLoader.construct_refused  # type: ignore[type-var]
    )
else:  # pragma: no cover - libyaml is installed wherever the tests run
    StrictLoader = PureStrictLoader  # type: ignore[misc, assignment]


@dataclasses.dataclass
class _Open:
    """A collection being composed, and what was counted before it opened."""

    node: CollectionNode
    anchor: str | None
    values_before: int
    chars_before: int
    height: int = 0
    key: Node | None = None


class _Composer:
    """Events to nodes, counting expanded values and characters (see the module docs)."""

    def __init__(self, loader: Any, limits: YamlLimits) -> None:
        self.loader = loader
        self.limits = limits
        self.values = 0
        self.chars = 0
        self.anchors: dict[str, tuple[Node, int, int, int]] = {}  # node, values, chars, height
        self.open: list[_Open] = []
        self.root: Node | None = None

    def compose(self) -> Node | None:
        loader = self.loader
        documents = 0
        skipping = 0  # open collections inside a refused subtree
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    _refuse(event, "more than one YAML document")
            elif skipping:
                if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                    skipping += 1
                elif isinstance(event, CollectionEndEvent):
                    skipping -= 1
            elif isinstance(event, ScalarEvent):
                self._scalar(event)
            elif isinstance(event, AliasEvent):
                self._alias(event)
            elif isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                if len(self.open) >= self.limits.max_depth:
                    self._attach(self._refused(event, f"nests deeper than "
                                                      f"{self.limits.max_depth} levels"))
                    skipping = 1
                else:
                    self._start(event)
            elif isinstance(event, CollectionEndEvent):
                self._end(event)
        return self.root

    def _count(self, event: Any, values: int, chars: int) -> None:
        self.values += values
        self.chars += chars
        if self.values > self.limits.max_values:
            _refuse(event, f"more than {self.limits.max_values} values (aliases expanded)")
        if self.chars > self.limits.max_chars:
            _refuse(event, f"more than {self.limits.max_chars} characters of text "
                           "(aliases expanded)")

    def _tag(self, kind: type[Node], event: Any, value: str | None) -> str:
        if event.tag is not None and event.tag != "!":
            return str(event.tag)
        implicit = event.implicit if kind is ScalarNode else True
        return str(self.loader.resolve(kind, value, implicit))

    def _scalar(self, event: Any) -> None:
        self._count(event, 1, len(event.value))
        node = ScalarNode(self._tag(ScalarNode, event, event.value), event.value,
                          event.start_mark, event.end_mark, style=event.style)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, 1, len(event.value), 0)
        self._attach(node)

    def _alias(self, event: Any) -> None:
        found = self.anchors.get(event.anchor)
        if found is None:
            if any(frame.anchor == event.anchor for frame in self.open):
                _refuse(event, f"alias *{event.anchor} refers to its own ancestor (a cycle)")
            _refuse(event, f"found undefined alias *{event.anchor}")
        node, values, chars, height = found
        self._count(event, values, chars)
        if height and len(self.open) + height > self.limits.max_depth:
            node = self._refused(event, f"alias *{event.anchor} nests deeper than "
                                        f"{self.limits.max_depth} levels")
        self._attach(node)

    def _start(self, event: Any) -> None:
        self._count(event, 1, 0)
        kind = MappingNode if isinstance(event, MappingStartEvent) else SequenceNode
        node = kind(self._tag(kind, event, None), [], event.start_mark, event.end_mark,
                    flow_style=event.flow_style)
        self._attach(node)
        self.open.append(_Open(node, event.anchor, self.values - 1, self.chars))

    def _end(self, event: Any) -> None:
        frame = self.open.pop()
        frame.node.end_mark = event.end_mark
        height = frame.height + 1
        if self.open:
            self.open[-1].height = max(self.open[-1].height, height)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (
                frame.node, self.values - frame.values_before,
                self.chars - frame.chars_before, height,
            )

    def _refused(self, event: Any, why: str) -> ScalarNode:
        reason = f"line {event.start_mark.line + 1}: {why}"
        return ScalarNode(_REFUSED_TAG, reason, event.start_mark, event.end_mark)

    def _attach(self, node: Node) -> None:
        if not self.open:
            self.root = node
            return
        parent = self.open[-1]
        items = self.limits.max_items
        if items is not None and len(parent.node.value) >= items and (
            isinstance(parent.node, SequenceNode) or parent.key is not None
        ):
            kind = "list" if isinstance(parent.node, SequenceNode) else "mapping"
            _refuse(node, f"a {kind} of more than {items} entries, over the "
                          f"{items}-entry limit")
        if isinstance(parent.node, SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None


def _refuse(event: Any, what: str) -> NoReturn:
    raise YamlInputError(f"line {event.start_mark.line + 1}: {what}; refused")


def _load(text: str, limits: YamlLimits, loader_class: type[Any]) -> Any:
    loader = loader_class(text)
    try:
        node = _Composer(loader, limits).compose()
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(text: str, limits: YamlLimits, *, loader: type[Any] = StrictLoader) -> Any:
    """Parse one YAML document within ``limits``; raise :class:`YamlInputError` otherwise.

    A subtree nested deeper than ``limits.max_depth`` comes back as a :class:`Refused`.
    libyaml gives up on the whole stream past 1000 levels; such a document is read
    again by the pure-Python parser, which has no such limit, so that the deep subtree
    alone is refused there too.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > limits.max_bytes:
        raise YamlInputError(f"is {size} bytes, over the {limits.max_bytes}-byte limit")
    try:
        try:
            return _load(text, limits, loader)
        except yaml.YAMLError as exc:
            if "maximum nesting depth" not in str(exc) or loader is PureStrictLoader:
                raise
            return _load(text, limits, PureStrictLoader)
    except yaml.YAMLError as exc:
        raise YamlInputError(f"is not valid YAML: {_short(exc)}") from None


def _short(exc: yaml.YAMLError) -> str:
    """The error's reason and position on one line (PyYAML's own text spans lines)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return f"{where}{exc.problem or exc.context}"
    return " ".join(str(exc).split())
