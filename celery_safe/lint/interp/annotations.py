"""Annotations in source turned into the type hints the runtime would see (for CSF210).

The linter does not import the code it checks, so it builds the hint an annotation
denotes from what it can read: builtins, ``typing`` and ``collections.abc`` names,
``None``, ``X | Y``, subscripted generics, string annotations, and classes defined in
the same module (one stand-in class each, with the same bases, so subclass relations
hold). Anything else — an imported class, ``Literal``, ``Callable[...]`` — makes the
whole hint ``MISSING``, and an unknown hint gives no finding.
"""

from __future__ import annotations

import ast
import builtins
import collections.abc
import typing
from typing import Any, Protocol

from ...canvas.types import MISSING

__all__ = ["ClassTable", "hint_of"]


class ClassTable(Protocol):
    """The module's classes, as far as annotations need them (a module index is one).

    A protocol rather than the index itself: the index builds hints, so importing it
    here would make the two modules import each other.
    """

    @property
    def classes(self) -> set[str]: ...

    @property
    def class_defs(self) -> dict[str, ast.ClassDef]: ...

    #: one stand-in class per project class named in an annotation, made once
    @property
    def stand_ins(self) -> dict[str, Any]: ...

BUILTIN_TYPES = {
    name: getattr(builtins, name)
    for name in (
        "int",
        "float",
        "complex",
        "str",
        "bytes",
        "bytearray",
        "bool",
        "list",
        "dict",
        "set",
        "frozenset",
        "tuple",
        "type",
        "object",
    )
}
#: Abstract collections, under the same names in ``typing`` and ``collections.abc``.
COLLECTIONS = frozenset(
    [
        "Sequence",
        "MutableSequence",
        "Mapping",
        "MutableMapping",
        "Iterable",
        "Iterator",
        "Collection",
        "MutableSet",
    ]
)
#: ``typing`` names that stand for a type or a generic (not Literal, Callable...).
TYPING_NAMES = COLLECTIONS | set(
    ["Any", "Optional", "Union", "List", "Dict", "Set", "FrozenSet", "Tuple", "Type", "AbstractSet"]
)
ABC_NAMES = COLLECTIONS | {"Set", "Container", "Sized", "Hashable"}


def hint_of(annotation: ast.expr | None, index: ClassTable, imports: Any) -> Any:
    """The type hint ``annotation`` denotes in ``index``'s module (``MISSING`` if unknown)."""
    if annotation is None:
        return MISSING
    try:
        return _Builder(index, imports).build(annotation, depth=0)
    except _Unknown:
        return MISSING


class _Unknown(Exception):
    """Part of the annotation cannot be read: the whole hint is unknown."""


class _Builder:
    def __init__(self, index: ClassTable, imports: Any) -> None:
        self.index = index
        self.imports = imports

    def build(self, node: ast.expr, depth: int) -> Any:
        if depth > 20:
            raise _Unknown
        if isinstance(node, ast.Constant):
            if node.value is None:
                return type(None)
            if isinstance(node.value, str):
                try:
                    parsed = ast.parse(node.value, mode="eval").body
                except SyntaxError:
                    raise _Unknown from None
                return self.build(parsed, depth + 1)
            raise _Unknown
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left, right = self.build(node.left, depth + 1), self.build(node.right, depth + 1)
            return typing.Union[left, right]  # noqa: UP007
        if isinstance(node, ast.Subscript):
            base = self.build(node.value, depth + 1)
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            args = tuple(
                Ellipsis
                if isinstance(i, ast.Constant) and i.value is Ellipsis
                else self.build(i, depth + 1)
                for i in items
            )
            try:
                return base[args if len(args) > 1 else args[0]]
            except TypeError:
                raise _Unknown from None
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.name(node)
        raise _Unknown

    def name(self, node: ast.Name | ast.Attribute) -> Any:
        if isinstance(node, ast.Name) and node.id in self.index.classes:
            return self.stand_in(node.id, 0)
        qualified = self.imports.qualify(node)
        if qualified is None and isinstance(node, ast.Name):
            if node.id in BUILTIN_TYPES:
                return BUILTIN_TYPES[node.id]
            raise _Unknown
        module, _, name = (qualified or "").rpartition(".")
        if module == "typing" and name in TYPING_NAMES:
            return getattr(typing, name)
        if module in ("collections.abc", "typing_extensions") and name in ABC_NAMES:
            return getattr(collections.abc, name)
        if module == "builtins" and name in BUILTIN_TYPES:
            return BUILTIN_TYPES[name]
        raise _Unknown

    def stand_in(self, name: str, depth: int) -> Any:
        """One class per project class, with its bases (known ones only)."""
        if name in self.index.stand_ins:
            return self.index.stand_ins[name]
        definition = self.index.class_defs.get(name)
        if definition is None or depth > 20:
            raise _Unknown
        bases = []
        for base in definition.bases:
            if isinstance(base, ast.Name) and base.id in self.index.classes:
                bases.append(self.stand_in(base.id, depth + 1))
            elif isinstance(base, ast.Name) and base.id == "object":
                continue
            else:
                raise _Unknown  # an imported base: its relations are not known here
        made = type(name, tuple(bases) or (object,), {"__module__": "<checked source>"})
        self.index.stand_ins[name] = made
        return made
