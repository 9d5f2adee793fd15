"""What the registry reads from Robot Framework files, through Robot's own parser.

``robot.api.get_model`` (suites) and ``get_resource_model`` (``*.resource`` files) turn
the text into Robot's syntax model; this module walks it and keeps: suite
``Documentation``, ``Metadata``, ``Test/Task/Force Tags`` and ``Default Tags``, every
task with its ``[Documentation]`` and effective tags, ``Library`` and ``Resource``
imports, the ``*** Variables ***`` section, and each ``RW.Core.Import User Variable`` /
``Import Secret`` call with its ``key=value`` arguments. Every line Robot cannot read
(an unknown section header, a setting it does not know or that appears twice, ...)
refuses the file with its line number as :class:`RobotSyntaxError`, as do a suite
without any task, an import without a name, and NUL bytes.
"""

from __future__ import annotations

import dataclasses
import io
import re
from typing import Any

from robot.api import Token, get_model, get_resource_model, get_tokens
from robot.api.parsing import ModelVisitor

__all__ = [
    "RobotFile",
    "RobotResource",
    "RobotSyntaxError",
    "RobotTask",
    "parse_resource",
    "parse_robot",
    "task_names",
]

_USER_VARIABLE = ("rw.core.import user variable", "import user variable")
_SECRET = ("rw.core.import secret", "import secret")
_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RobotSyntaxError(ValueError):
    """The file is not Robot Framework text we can read; ``line`` is 1-based (0: whole file)."""

    def __init__(self, message: str, line: int = 0) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line else message)


@dataclasses.dataclass
class RobotTask:
    """A task: ``tags`` are its effective tags (suite tags, then its own or the defaults)."""

    name: str
    doc: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)
    line: int = 0


@dataclasses.dataclass
class RobotResource:
    """What a ``*.resource`` file (or a suite's keywords) contributes: variable imports."""

    user_variables: list[dict[str, str]] = dataclasses.field(default_factory=list)
    secrets: list[dict[str, str]] = dataclasses.field(default_factory=list)
    libraries: list[str] = dataclasses.field(default_factory=list)
    resources: list[str] = dataclasses.field(default_factory=list)
    variables: dict[str, list[str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RobotFile(RobotResource):
    doc: str = ""
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    suite_tags: list[str] = dataclasses.field(default_factory=list)
    tasks: list[RobotTask] = dataclasses.field(default_factory=list)


def _keyword_key(name: str) -> str:
    return " ".join(name.lower().split())


def _named_args(args: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The first positional argument (if any) and the ``key=value`` ones."""
    positional = ""
    named: dict[str, str] = {}
    for index, arg in enumerate(args):
        key, sep, value = arg.partition("=")
        if sep and _ARG_NAME.fullmatch(key.strip()):
            named[key.strip()] = value.strip()
        elif index == 0:
            positional = arg
    return positional, named


class _Reader(ModelVisitor):  # type: ignore[misc]  # robot ships no type information
    """Collects the fields into ``result`` and Robot's first reported error."""

    def __init__(self, result: RobotResource) -> None:
        self.result = result
        self.error: RobotSyntaxError | None = None
        self.test_tags: list[str] = []
        self.default_tags: list[str] | None = None
        self.tasks: list[tuple[RobotTask, list[str] | None]] = []
        self._task: tuple[RobotTask, list[str] | None] | None = None
        self.saw_tasks = False
        self.section_kinds: set[str] = set()

    # --- errors: Robot's, on a statement or a token ---------------------------------
    def generic_visit(self, node: Any) -> None:
        # Errors of a block (an empty task, a FOR without END) fail the task when Robot
        # runs it, but the file still reads: the registry catalogues, it does not run.
        if self.error is None and hasattr(node, "tokens"):  # a statement, not a block
            messages = [*getattr(node, "errors", ()), *(
                token.error for token in getattr(node, "tokens", ()) if token.error)]
            if messages:
                line = getattr(node, "lineno", 0) or 0
                self.error = RobotSyntaxError(str(messages[0]), max(line, 0))
        super().generic_visit(node)

    # --- settings -------------------------------------------------------------------
    def visit_Documentation(self, node: Any) -> None:
        if self._task is not None:
            self._task[0].doc = node.value
        elif isinstance(self.result, RobotFile):
            self.result.doc = node.value
        self.generic_visit(node)

    def visit_Metadata(self, node: Any) -> None:
        if isinstance(self.result, RobotFile) and node.name:
            self.result.metadata[node.name] = node.value
        self.generic_visit(node)

    def visit_TestTags(self, node: Any) -> None:
        self.test_tags.extend(node.values)
        self.generic_visit(node)

    def visit_DefaultTags(self, node: Any) -> None:
        self.default_tags = [*(self.default_tags or []), *node.values]
        self.generic_visit(node)

    def visit_LibraryImport(self, node: Any) -> None:
        if node.name:
            self.result.libraries.append(node.name)
        self.generic_visit(node)

    def visit_ResourceImport(self, node: Any) -> None:
        if node.name:
            self.result.resources.append(node.name)
        self.generic_visit(node)

    def visit_Variable(self, node: Any) -> None:
        if node.name:
            self.result.variables[node.name] = list(node.value)
        self.generic_visit(node)

    # --- tasks ----------------------------------------------------------------------
    def visit_TestCaseSection(self, node: Any) -> None:
        self.saw_tasks = True
        kind = node.header.type if node.header is not None else ""
        self.section_kinds.add(kind)
        if len(self.section_kinds) > 1 and self.error is None:  # as Robot refuses to run it
            self.error = RobotSyntaxError("one file cannot have both tests and tasks",
                                          node.lineno)
        self.generic_visit(node)

    def visit_TestCase(self, node: Any) -> None:
        self._task = (RobotTask(name=node.name, line=node.lineno), None)
        self.generic_visit(node)
        self.tasks.append(self._task)
        self._task = None

    def visit_Tags(self, node: Any) -> None:
        if self._task is not None:
            self._task = (self._task[0], [*(self._task[1] or []), *node.values])
        self.generic_visit(node)

    def visit_KeywordCall(self, node: Any) -> None:
        self.generic_visit(node)
        key = _keyword_key(node.keyword or "")
        if key not in _USER_VARIABLE and key not in _SECRET:
            return
        positional, fields = _named_args(tuple(node.args))
        fields["name"] = fields.pop("name", "") or positional
        if not fields["name"]:
            if self.error is None:
                self.error = RobotSyntaxError(
                    "import of a user variable or secret without a name", node.lineno)
            return
        target = self.result.user_variables if key in _USER_VARIABLE else self.result.secrets
        if all(existing["name"] != fields["name"] for existing in target):
            target.append(fields)

    def finish(self) -> None:
        """Give each task its effective tags, as Robot computes them."""
        for task, own in self.tasks:
            wanted = own if own is not None else (self.default_tags or [])
            removed = {_tag_key(tag[1:]) for tag in wanted if tag.startswith("-")}
            merged = [tag for tag in self.test_tags if _tag_key(tag) not in removed]
            merged += [tag for tag in wanted if not tag.startswith("-")]
            task.tags = _unique_tags(merged)
        if isinstance(self.result, RobotFile):
            self.result.suite_tags = _unique_tags(self.test_tags)
            self.result.tasks = [task for task, _ in self.tasks]


def _tag_key(tag: str) -> str:
    """Robot compares tags ignoring case, spaces and underscores."""
    return "".join(tag.lower().split()).replace("_", "")


def _unique_tags(tags: list[str]) -> list[str]:
    """Robot's own rule: one tag per key, no empty or ``NONE`` tag; the order as written."""
    seen: dict[str, str] = {}
    for tag in tags:
        if (key := _tag_key(tag)) not in ("", "none"):
            seen.setdefault(key, tag)
    return list(seen.values())


def _read(text: str, result: RobotResource, *, resource: bool) -> _Reader:
    if "\x00" in text:
        raise RobotSyntaxError("file contains NUL bytes (binary data?)")
    source = io.StringIO(text)  # never a str: Robot would open a one-line text as a path
    reader = _Reader(result)
    try:  # Robot's parser and its visitor recurse once per nested block
        reader.visit(get_resource_model(source) if resource else get_model(source))
    except RecursionError:
        raise RobotSyntaxError("blocks (FOR, IF, TRY, WHILE) nest too deeply to read") from None
    if reader.error is not None:
        raise reader.error
    reader.finish()
    return reader


def parse_robot(text: str) -> RobotFile:
    """Parse a suite (``runbook.robot``, ``sli.robot``); raise :class:`RobotSyntaxError`."""
    result = RobotFile()
    reader = _read(text, result, resource=False)
    if not result.tasks:
        where = ("the *** Tasks *** section is empty" if reader.saw_tasks
                 else "the file has no *** Tasks *** section")
        raise RobotSyntaxError(f"no tasks defined: {where}")
    return result


def parse_resource(text: str) -> RobotResource:
    """Parse a ``*.resource`` file (keywords, imports, no tasks)."""
    result = RobotResource()
    _read(text, result, resource=True)
    return result


def task_names(text: str) -> list[str]:
    """The suite's task names, in order, from Robot's lexer alone (``get_tokens``).

    About twice as fast as :func:`parse_robot` (no model, no tags or variables): what a
    walk over every version of a file in git history needs. Raises
    :class:`RobotSyntaxError` for NUL bytes or a suite without any task, as
    :func:`parse_robot` does; other lines Robot cannot read do not hide the names.
    """
    if "\x00" in text:
        raise RobotSyntaxError("file contains NUL bytes (binary data?)")
    names = [token.value for token in get_tokens(io.StringIO(text), data_only=True)
             if token.type == Token.TESTCASE_NAME]
    if not names:
        raise RobotSyntaxError("no tasks defined")
    return names
