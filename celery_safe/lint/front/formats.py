"""How ``celery-safe check`` prints findings: text, JSON, or SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from importlib import metadata
from typing import Any

from ... import catalogue
from ..findings import Finding, printable

__all__ = ["Located", "plain", "render_json", "render_sarif", "render_text"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True)
class Located:
    """A finding with 1-based character columns (``Span`` columns are UTF-8 bytes)."""

    finding: Finding
    column: int
    end_column: int


def character_column(line: str, byte_col: int) -> int:
    """1-based character column of a 0-based UTF-8 byte offset in ``line``."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore")) + 1


def locate(finding: Finding, lines: Sequence[str]) -> Located:
    span = finding.span
    first = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
    last = lines[span.end_line - 1] if 0 < span.end_line <= len(lines) else ""
    return Located(finding, character_column(first, span.col), character_column(last, span.end_col))


def render_text(found: Sequence[Located]) -> str:
    out = [f"{printable(x.finding.path)}:{x.finding.line}:{x.column}: {x.finding.message}"
           for x in found]
    files = len({x.finding.path for x in found})
    out.append(f"Found {len(found)} finding(s) in {files} file(s)." if found else "No findings.")
    return "\n".join(out) + "\n"


def plain(value: object) -> Any:
    """``value`` as JSON can hold it (a finding's detail, as the reports print it)."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def render_json(found: Sequence[Located]) -> str:
    rows = []
    for x in found:
        f = x.finding
        rows.append(
            {
                "code": f.code,
                "path": f.path,
                "line": f.span.line,
                "column": x.column,
                "end_line": f.span.end_line,
                "end_column": x.end_column,
                "message": f.message,
                "fix": _fix(f.code),
                "task": f.task,
                "detail": plain(f.detail) if f.detail is not None else {},
            }
        )
    return json.dumps(rows, indent=2) + "\n"


def _fix(code: str) -> str:
    try:
        return catalogue.get(code).fix
    except KeyError:
        return ""


def _version() -> str:
    try:
        return metadata.version("celery-safe")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "0"


def render_sarif(found: Sequence[Located]) -> str:
    """One SARIF 2.1.0 run; every catalogue code is a rule, findings reference them."""
    entries = list(catalogue.all_codes().values())
    index = {entry.code: i for i, entry in enumerate(entries)}
    rules = [
        {
            "id": entry.code,
            "name": entry.name,
            "shortDescription": {"text": entry.message.split(";")[0]},
            "fullDescription": {"text": entry.section("What it does")},
            "help": {"text": entry.fix, "markdown": entry.docs},
            "defaultConfiguration": {"enabled": entry.default, "level": "error"},
        }
        for entry in entries
    ]
    results = []
    for x in found:
        f = x.finding
        result: dict[str, Any] = {
            "ruleId": f.code,
            "level": "error",
            "message": {"text": f.message.partition(" ")[2] or f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.replace("\\", "/")},
                        "region": {
                            "startLine": f.span.line,
                            "startColumn": x.column,
                            "endLine": f.span.end_line,
                            "endColumn": x.end_column,
                        },
                    }
                }
            ],
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        results.append(result)
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "celery-safe",
                        "version": _version(),
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"
