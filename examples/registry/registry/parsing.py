"""Turn a collection checkout into parsed bundles, one error per bad bundle.

A bundle is ``codebundles/<name>/`` with ``runbook.robot`` and/or ``sli.robot``, plus
optional ``meta.yaml`` and ``README.md``. Each bundle is read on its own: a symlink
that leaves the checkout, an unreadable file, a robot file Robot would refuse to run,
or a bundle without robot files becomes a :class:`BundleError` for that bundle while the
others are parsed. What Robot reports but still runs (an error failing one task or
keyword, a deprecation) is kept with the bundle as its ``diagnostics``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from registry.robot import (
    RobotFile,
    RobotProblem,
    RobotSyntaxError,
    parse_resource,
    parse_robot,
)
from registry.safeyaml import Refused, YamlInputError, YamlLimits, load_yaml

__all__ = [
    "MAX_FILE_BYTES",
    "META_LIMITS",
    "BundleError",
    "ParseResult",
    "ParsedBundle",
    "access_level_from_tags",
    "parse_bundle",
    "parse_collection",
]

MAX_FILE_BYTES = 1_000_000
#: What reading one ``meta.yaml`` may cost (see :mod:`registry.safeyaml`) and store.
META_LIMITS = YamlLimits(max_bytes=256_000, max_depth=32, max_values=20_000, max_chars=512_000)
MAX_META_JSON = 1_000_000
ROBOT_FILES = ("runbook.robot", "sli.robot")
BUNDLE_SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclasses.dataclass(frozen=True)
class ParsedBundle:
    """Everything the registry stores about one bundle, before enhancement."""

    slug: str
    display_name: str
    description: str
    doc: str
    author: str
    support_tags: list[str]
    kinds: list[str]
    tasks: list[dict[str, Any]]
    user_variables: list[dict[str, str]]
    access_level: str
    content_hash: str
    readme: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: ``{file, line, severity, scope, name, message}`` per problem Robot reports but
    #: runs the bundle with (:class:`registry.robot.RobotProblem`), in file order.
    diagnostics: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class BundleError:
    bundle: str
    message: str

    def __str__(self) -> str:
        return f"bundle {self.bundle}: {self.message}"


@dataclasses.dataclass(frozen=True)
class ParseResult:
    bundles: list[ParsedBundle]
    errors: list[BundleError]


class _BundleProblem(Exception):
    """Internal: one bundle cannot be parsed; becomes a BundleError."""


def access_level_from_tags(tags: list[str]) -> str:
    """``read-write`` if any task may write, ``read-only`` if all declared are read-only.

    Tags compare case-insensitively; ``access:read-only`` / ``access:read-write`` are
    the registry's convention. No access tag at all gives ``unknown``.
    """
    levels = {t.strip().lower().removeprefix("access:") for t in tags
              if t.strip().lower().startswith("access:")}
    if "read-write" in levels:
        return "read-write"
    if "read-only" in levels:
        return "read-only"
    return "unknown"


def _split_supports(value: str) -> list[str]:
    parts = re.split(r"[,;]", value) if re.search(r"[,;]", value) else value.split()
    seen: dict[str, None] = {}
    for part in parts:
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def _metadata(robot: RobotFile, key: str) -> str:
    """A ``Metadata`` value by case-insensitive name, or ``""``."""
    wanted = " ".join(key.lower().split())
    for name, value in robot.metadata.items():
        if " ".join(name.lower().split()) == wanted:
            return value.strip()
    return ""


def _first_sentence(doc: str) -> str:
    text = " ".join(doc.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return (match.group(1) if match else text)[:500]


def _link_problem(link: Path, bundle_dir: Path, root: Path) -> str | None:
    """Why the symlink ``link`` may not be followed: into ``.git`` (the checkout's config
    holds the clone URL, credentials included), out of the checkout, out of the bundle, or
    round in a loop (``x -> x``)."""
    shown = f"{link.relative_to(bundle_dir.parent)} -> {os.readlink(link)}"
    try:
        target = link.resolve()
    except (RuntimeError, OSError):  # why: Python 3.11/3.12 raise RuntimeError on a loop
        return f"is a symlink loop ({shown}); refused"
    if not target.is_relative_to(root):
        return f"is a symlink pointing outside the checkout ({os.readlink(link)}); refused"
    if ".git" in target.relative_to(root).parts:
        return f"is a symlink into .git ({shown}); refused"
    if not target.is_relative_to(bundle_dir.resolve()):
        return f"is a symlink leaving the bundle ({shown}); refused"
    return None


def _check_tree(bundle_dir: Path, root: Path) -> list[Path]:
    """Return the bundle's regular files (sorted); refuse any symlink leaving the bundle."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(bundle_dir, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            entry = here / name
            if entry.is_symlink():
                if problem := _link_problem(entry, bundle_dir, root):
                    raise _BundleProblem(f"{entry.relative_to(bundle_dir)} {problem}")
                if entry.resolve().is_file():
                    files.append(entry)
            elif name in filenames:
                files.append(entry)
        dirnames.sort()
    return sorted(files)


def _read_text(path: Path, bundle_dir: Path) -> str:
    rel = path.relative_to(bundle_dir)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _BundleProblem(f"{rel} is {size} bytes, over the {MAX_FILE_BYTES} limit")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BundleProblem(f"{rel} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise _BundleProblem(f"{rel} cannot be read: {exc.strerror or exc}") from exc


def _content_hash(files: list[Path], bundle_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        rel = path.relative_to(bundle_dir).as_posix().encode()
        digest.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def _read_meta(path: Path, bundle_dir: Path) -> dict[str, Any]:
    """``meta.yaml`` within :data:`META_LIMITS`, holding only what JSON stores as written."""
    if not path.is_file():
        return {}
    try:
        data = load_yaml(_read_text(path, bundle_dir), META_LIMITS)
    except YamlInputError as exc:
        text = str(exc)
        raise _BundleProblem(f"meta.yaml {text}" if text.startswith("is ")
                             else f"meta.yaml: {text}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _BundleProblem(f"meta.yaml must be a mapping, got {type(data).__name__}")
    if problem := _json_problem(data):
        raise _BundleProblem(f"meta.yaml: {problem}")
    size = len(json.dumps(data))
    if size > MAX_META_JSON:
        raise _BundleProblem(f"meta.yaml: {size} bytes as JSON, over the {MAX_META_JSON} limit")
    return data


def _json_problem(data: dict[str, Any]) -> str | None:
    """Why ``data`` cannot be stored as JSON exactly as written, naming the field."""
    pending: list[tuple[Any, str]] = [(data, "")]
    while pending:
        value, where = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    shown = f"{where}.{key}" if where else str(key)
                    return (f"field {shown!r}: a key must be text, got {type(key).__name__} "
                            f"{key!r}; quote it")
                pending.append((item, f"{where}.{key}" if where else key))
        elif isinstance(value, list):
            pending.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
        elif (problem := _scalar_problem(value)) is not None:
            return f"field {where!r}: {problem}"
    return None


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, Refused):
        return str(value)
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a JSON number"
    if isinstance(value, dt.date):  # datetime is a date too
        kind = "timestamp" if isinstance(value, dt.datetime) else "date"
        return (f"a YAML {kind} ({value.isoformat()}) is not text; quote it to keep it "
                "as written")
    return f"a YAML {type(value).__name__} cannot be stored; use text, numbers, lists or maps"


def _diagnostic(file: str, problem: RobotProblem) -> dict[str, Any]:
    return {"file": file, "line": problem.line, "severity": problem.severity,
            "scope": problem.scope, "name": problem.name, "message": problem.message}


def _add_resource_imports(robot: RobotFile, files: list[Path], bundle_dir: Path,
                          diagnostics: list[dict[str, Any]]) -> None:
    """Add the user variables and secrets imported in the bundle's own ``*.resource``
    files that ``robot`` names by a plain relative path (``Resource  common.resource``);
    anything else (a variable in the path, ``..``, a file outside the bundle) is left to
    Robot at run time and never read here. A resource Robot refuses to import is, as
    for Robot, an error of the suite that runs without it: a diagnostic, no variables."""
    inside = {path.relative_to(bundle_dir).as_posix(): path for path in files}
    for name in robot.resources:
        path = inside.get(name)
        if path is None or not name.endswith(".resource"):
            continue
        try:
            resource = parse_resource(_read_text(path, bundle_dir))
        except RobotSyntaxError as exc:
            diagnostics.append(_diagnostic(name, RobotProblem(exc.line, exc.reason)))
            continue
        diagnostics.extend(_diagnostic(name, problem) for problem in resource.problems)
        for target, found in ((robot.user_variables, resource.user_variables),
                              (robot.secrets, resource.secrets)):
            known = {entry["name"] for entry in target}
            target.extend(entry for entry in found if entry["name"] not in known)


def parse_bundle(bundle_dir: Path, root: Path) -> ParsedBundle:
    """Parse one bundle directory; raise ``ValueError`` with the reason when it is unusable."""
    try:
        return _parse_bundle(bundle_dir, root)
    except _BundleProblem as exc:
        raise ValueError(str(exc)) from exc


def _parse_bundle(bundle_dir: Path, root: Path) -> ParsedBundle:
    slug = bundle_dir.name
    if not BUNDLE_SLUG_RE.fullmatch(slug):  # whole: "$" would allow a trailing newline
        raise _BundleProblem(f"directory name {slug!r} is not a usable bundle slug")
    files = _check_tree(bundle_dir, root)
    robots: dict[str, RobotFile] = {}
    diagnostics: list[dict[str, Any]] = []
    for name in ROBOT_FILES:
        path = bundle_dir / name
        if not path.exists() and not path.is_symlink():
            continue
        if not path.is_file():
            raise _BundleProblem(f"{name} is not a regular file")
        try:
            robots[name.removesuffix(".robot")] = parse_robot(_read_text(path, bundle_dir))
        except RobotSyntaxError as exc:
            raise _BundleProblem(f"{name}: {exc}") from exc
        robot = robots[name.removesuffix(".robot")]
        diagnostics.extend(_diagnostic(name, problem) for problem in robot.problems)
        _add_resource_imports(robot, files, bundle_dir, diagnostics)
    if not robots:
        raise _BundleProblem("has neither runbook.robot nor sli.robot")
    meta = _read_meta(bundle_dir / "meta.yaml", bundle_dir)
    readme_path = bundle_dir / "README.md"
    readme = _read_text(readme_path, bundle_dir) if readme_path.is_file() else ""
    ordered = [robots[k] for k in ("runbook", "sli") if k in robots]

    def first(key: str) -> str:
        return next((v for v in (_metadata(r, key) for r in ordered) if v), "")

    tasks: list[dict[str, Any]] = []
    variables: dict[str, dict[str, str]] = {}
    supports: dict[str, None] = {}
    for kind, robot in robots.items():
        for task in robot.tasks:
            tasks.append({"name": task.name, "doc": task.doc, "tags": task.tags, "kind": kind})
        for variable in robot.user_variables:
            variables.setdefault(variable["name"], variable)
        for tag in _split_supports(_metadata(robot, "Supports")):
            supports.setdefault(tag, None)
    doc = next((r.doc for r in ordered if r.doc.strip()), "")
    all_tags = [tag for task in tasks for tag in task["tags"]]
    return ParsedBundle(
        slug=slug,
        display_name=first("Display Name") or slug.replace("-", " ").title(),
        description=_first_sentence(doc),
        doc=doc,
        author=first("Author"),
        support_tags=list(supports),
        kinds=list(robots),
        tasks=tasks,
        user_variables=list(variables.values()),
        access_level=access_level_from_tags(all_tags),
        content_hash=_content_hash(files, bundle_dir),
        readme=readme,
        meta=meta,
        diagnostics=diagnostics,
    )


def parse_collection(checkout: Path) -> ParseResult:
    """Parse every ``codebundles/<name>/`` of a checkout, in name order."""
    root = Path(checkout).resolve()
    base = Path(checkout) / "codebundles"
    if base.is_symlink() and not base.resolve().is_relative_to(root):
        leaving = BundleError("(all)", "codebundles/ is a symlink leaving the checkout; refused")
        return ParseResult([], [leaving])
    if not base.is_dir():
        missing = BundleError("(all)", f"no codebundles/ directory in {checkout}")
        return ParseResult([], [missing])
    bundles: list[ParsedBundle] = []
    errors: list[BundleError] = []
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        problem = _link_problem(entry, base, root) if entry.is_symlink() else None
        if problem and "leaving the bundle" not in problem:  # a folder elsewhere: fine
            errors.append(BundleError(entry.name, problem))
            continue
        if not entry.is_dir():
            continue
        try:
            bundles.append(_parse_bundle(entry, root))
        except _BundleProblem as exc:
            errors.append(BundleError(entry.name, str(exc)))
        except OSError as exc:
            errors.append(BundleError(entry.name, f"cannot be read: {exc.strerror or exc}"))
        except (RecursionError, MemoryError, ValueError, RuntimeError) as exc:  # never all
            errors.append(BundleError(entry.name, f"cannot be parsed: {type(exc).__name__}"))
    return ParseResult(bundles, errors)
