"""A small reader for the Robot Framework text the registry needs.

It understands the space- and pipe-separated formats, ``...`` continuations and
comments, and extracts: suite ``Documentation``, ``Metadata`` (Author, Display Name,
Supports, ...), ``Force/Test/Task Tags``, every task with its ``[Documentation]`` and
``[Tags]``, and each ``RW.Core.Import User Variable`` / ``Import Secret`` call with its
``key=value`` arguments. Anything else is skipped. What it refuses, with the line
number, raises :class:`RobotSyntaxError`: an unknown section header, a task setting
outside a task, a file without any task, NUL bytes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

__all__ = ["RobotFile", "RobotSyntaxError", "RobotTask", "Statement", "parse_robot", "split_cells"]

_SEPARATOR = re.compile(r" {2,}|\t| \t|\t ")
_HEADER = re.compile(r"^\*+\s*([^*]*?)\s*\**\s*$")
_SECTIONS = {
    "settings": "settings", "setting": "settings",
    "variables": "variables", "variable": "variables",
    "test cases": "tasks", "test case": "tasks", "tasks": "tasks", "task": "tasks",
    "keywords": "keywords", "keyword": "keywords",
    "comments": "comments", "comment": "comments",
}
_ASSIGN = re.compile(r"^[$@&]\{[^}]*\}\s*=?$")
_USER_VARIABLE = "rw.core.import user variable"
_SECRET = "rw.core.import secret"
_TAG_SETTINGS = ("force tags", "test tags", "task tags", "default tags")


class RobotSyntaxError(ValueError):
    """The file is not Robot Framework text we can read; ``line`` is 1-based (0: whole file)."""

    def __init__(self, message: str, line: int = 0) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line else message)


@dataclasses.dataclass
class Statement:
    """Logical line: its cells after joining ``...`` continuations; ``indented`` = body line."""

    line: int
    cells: list[str]
    indented: bool


@dataclasses.dataclass
class RobotTask:
    name: str
    doc: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)
    line: int = 0


@dataclasses.dataclass
class RobotFile:
    doc: str = ""
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    suite_tags: list[str] = dataclasses.field(default_factory=list)
    tasks: list[RobotTask] = dataclasses.field(default_factory=list)
    user_variables: list[dict[str, str]] = dataclasses.field(default_factory=list)
    secrets: list[dict[str, str]] = dataclasses.field(default_factory=list)
    libraries: list[str] = dataclasses.field(default_factory=list)


def split_cells(line: str) -> tuple[list[str], bool]:
    """Split one physical line into cells; return them and whether the line was indented."""
    if line.startswith("|"):
        body = line.strip()
        body = body[1:]
        if body.endswith(" |"):
            body = body[:-2]
        cells = [c.strip() for c in body.split(" | ")]
        indented = bool(cells) and cells[0] == ""
        cells = cells[1:] if indented else cells
        return [c for c in cells if c != ""], indented
    indented = line[:1] in (" ", "\t")
    cells = [c.strip() for c in _SEPARATOR.split(line.strip())]
    cells = [c for c in cells if c != ""]
    return cells, indented


def _strip_comment(cells: list[str]) -> list[str]:
    for i, cell in enumerate(cells):
        if cell.startswith("#"):
            return cells[:i]
    return cells


def _statements(lines: list[tuple[int, str]]) -> Iterator[Statement]:
    """Join ``...`` continuation lines onto the statement they continue."""
    current: Statement | None = None
    for number, raw in lines:
        cells, indented = split_cells(raw)
        cells = _strip_comment(cells)
        if not cells:
            continue
        if cells[0] == "...":
            if current is not None:
                current.cells.extend(cells[1:])
                continue
            cells = cells[1:]  # nothing to continue: keep the data, drop the marker
            if not cells:
                continue
        if current is not None:
            yield current
        current = Statement(number, cells, indented)
    if current is not None:
        yield current


def _first_cell(line: str) -> str:
    """The first cell of a line, pipe format included (``| *** Tasks *** |``)."""
    if line.startswith("| ") or line == "|":
        cells, indented = split_cells(line)
        return cells[0] if cells and not indented else ""
    return _SEPARATOR.split(line, maxsplit=1)[0]


def _sections(text: str) -> Iterator[tuple[str, int, list[tuple[int, str]]]]:
    section, start = "preamble", 0
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        first_cell = _first_cell(line)
        if first_cell.startswith("*"):
            match = _HEADER.match(first_cell)
            name = match.group(1).strip().lower() if match else ""
            if name not in _SECTIONS:
                raise RobotSyntaxError(f"unrecognised section header {line.strip()[:80]!r}", number)
            yield section, start, body
            section, start, body = _SECTIONS[name], number, []
        else:
            body.append((number, line))
    yield section, start, body


def _named_args(cells: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for cell in cells:
        key, sep, value = cell.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            args[key.strip()] = value.strip()
    return args


def _import_call(cells: list[str]) -> tuple[str, dict[str, str]] | None:
    """Recognise ``[${X}=]  RW.Core.Import User Variable|Secret  NAME  key=value...``."""
    index = 0
    while index < len(cells) and _ASSIGN.match(cells[index]):
        index += 1
    if index >= len(cells):
        return None
    keyword = " ".join(cells[index].lower().split())
    kind = None
    if keyword in (_USER_VARIABLE, "import user variable"):
        kind = "user_variable"
    elif keyword in (_SECRET, "import secret"):
        kind = "secret"
    if kind is None:
        return None
    args = cells[index + 1:]
    positional = ""
    if args and not _named_args(args[:1]):
        positional, args = args[0], args[1:]
    fields = _named_args(args)
    fields["name"] = fields.pop("name", "") or positional
    return kind, fields


def _read_settings(result: RobotFile, statements: Iterator[Statement]) -> None:
    for stmt in statements:
        setting = " ".join(stmt.cells[0].lower().split())
        values = stmt.cells[1:]
        if setting == "documentation":
            result.doc = "\n".join(values)
        elif setting == "metadata" and values:
            result.metadata[values[0]] = " ".join(values[1:])
        elif setting in _TAG_SETTINGS:
            result.suite_tags.extend(values)
        elif setting == "library" and values:
            result.libraries.append(values[0])


def _read_tasks(result: RobotFile, statements: Iterator[Statement]) -> None:
    task: RobotTask | None = None
    for stmt in statements:
        if not stmt.indented:
            task = RobotTask(name=stmt.cells[0], line=stmt.line)
            result.tasks.append(task)
            rest = stmt.cells[1:]
            if not rest:
                continue
            stmt = Statement(stmt.line, rest, True)
        if task is None:
            raise RobotSyntaxError("task body line before any task name", stmt.line)
        setting = stmt.cells[0].lower()
        if setting == "[documentation]":
            task.doc = "\n".join(stmt.cells[1:])
        elif setting == "[tags]":
            task.tags.extend(stmt.cells[1:])
        else:
            _read_call(result, stmt)


def _read_call(result: RobotFile, stmt: Statement) -> None:
    call = _import_call(stmt.cells)
    if call is None:
        return
    kind, fields = call
    if not fields.get("name"):
        raise RobotSyntaxError("import of a user variable or secret without a name", stmt.line)
    target = result.user_variables if kind == "user_variable" else result.secrets
    if all(existing["name"] != fields["name"] for existing in target):
        target.append(fields)


def parse_robot(text: str) -> RobotFile:
    """Parse Robot Framework text; raise :class:`RobotSyntaxError` when it is not usable."""
    if "\x00" in text:
        raise RobotSyntaxError("file contains NUL bytes (binary data?)")
    result = RobotFile()
    seen_task_section = False
    for section, _start, body in _sections(text.lstrip("\ufeff")):
        statements = _statements(body)
        if section == "settings":
            _read_settings(result, statements)
        elif section == "tasks":
            seen_task_section = True
            _read_tasks(result, statements)
        elif section == "keywords":
            for stmt in statements:
                if stmt.indented:
                    _read_call(result, stmt)
    if not result.tasks:
        if seen_task_section:
            raise RobotSyntaxError("no tasks defined: the *** Tasks *** section is empty")
        raise RobotSyntaxError("no tasks defined: the file has no *** Tasks *** section")
    return result
