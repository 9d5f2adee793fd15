"""The layering DESIGN.md promises, checked on every import the package makes.

Imports are read from the source (relative ones resolved against the importing module,
lazy ones inside functions included) and, for what a process loads, from ``sys.modules``
of a fresh interpreter. Each rule is data: ``test_each_rule_catches_a_planted_violation``
plants a breaking import in a temporary copy of the package and sees the rule fail, so
no rule here is one that cannot fail. Rules name package prefixes, not files: moving a
module inside its package keeps it covered.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "celery_safe"


@dataclass(frozen=True)
class Boundary:
    """Modules under ``source`` never import anything under ``forbidden``."""

    name: str
    source: str
    forbidden: tuple[str, ...]
    #: modules of ``source`` allowed to cross (each with its reason in ``BOUNDARIES``)
    exempt: tuple[str, ...] = ()


LINT_ONLY = ("celery_safe.lint", "libcst", "flake8", "pathspec")
#: What the rules may not import (``celery_safe.lint.X``): what runs them, the front
#: ends, the codemods.
ABOVE_RULES = ("engine", "config", "files", "resolve", "cache", "codemods", "front", "docs")
#: The interpreter knows Python and Celery, never a rule nor what rules report with.
ABOVE_INTERP = (*ABOVE_RULES, "rules", "registry", "joins", "findings", "noqa")
BOUNDARIES = [
    # The runtime (task, guard, canvas, workflows, embedded, the pytest plugin) never pays
    # for the linter. The CLI is the one front door: its `explain` verb renders a rule's
    # page with the linter's docs module, imported inside that verb only.
    Boundary("runtime never imports the linter", "celery_safe", LINT_ONLY,
             exempt=("celery_safe.lint", "celery_safe.cli")),
    Boundary("the linter never imports workflows or embedded", "celery_safe.lint",
             ("celery_safe.workflows", "celery_safe.embedded")),
    # One canvas model and one catalogue, imported by both front-ends, importing neither.
    Boundary("canvas/ depends on no front-end", "celery_safe.canvas",
             ("celery_safe.workflows", "celery_safe.lint", "celery_safe.embedded")),
    Boundary("the catalogue depends on no front-end", "celery_safe.catalogue",
             ("celery_safe.workflows", "celery_safe.lint", "celery_safe.embedded",
              "celery_safe.canvas")),
    # lint/interp/ knows Python and Celery, and no rule.
    Boundary("lint/interp imports no rule, engine, front end or codemod",
             "celery_safe.lint.interp", tuple(f"celery_safe.lint.{m}" for m in ABOVE_INTERP)),
    # The rules read the interpreter's facts and events; the engine runs them.
    Boundary("lint/rules import no engine, front end or codemod",
             "celery_safe.lint.rules", tuple(f"celery_safe.lint.{m}" for m in ABOVE_RULES)),
    # lint/front/ (check, fix, flake8, formats) is the top: what it runs never imports it.
    Boundary("the engine imports no front end", "celery_safe.lint.engine",
             ("celery_safe.lint.front",)),
    Boundary("the codemods import no front end", "celery_safe.lint.codemods",
             ("celery_safe.lint.front",)),
    Boundary("the library never imports the example", "celery_safe",
             ("registry", "examples")),
]

#: module -> modules a fresh process must not have loaded after importing it
LIGHT_IMPORTS = {
    "celery_safe": ("celery", "kombu", *LINT_ONLY),  # names load on first use (PEP 562)
    "celery_safe.workflows": LINT_ONLY,
    "celery_safe.embedded": LINT_ONLY,
    "celery_safe.deployment": LINT_ONLY,
    "celery_safe.lint": ("celery.app",),  # flake8 loads the plugin without Celery's apps
}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted name of ``path`` under ``root`` (the folder holding the package), and
    whether it is a package's ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def imports_of(path: Path, root: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports, absolute, with its line; ``from X import y`` also
    yields ``X.y`` (y may be a submodule)."""
    module, is_package = _module_name(path, root)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno


def violations(boundary: Boundary, root: Path) -> list[str]:
    """``file:line imports X`` for each import crossing ``boundary`` in the package at
    ``root / 'celery_safe'``."""
    found = []
    for path in sorted((root / "celery_safe").rglob("*.py")):
        module, _ = _module_name(path, root)
        if not _under(module, boundary.source):
            continue
        if any(_under(module, exempt) for exempt in boundary.exempt):
            continue
        for target, line in imports_of(path, root):
            if any(_under(target, forbidden) for forbidden in boundary.forbidden):
                found.append(f"{path.relative_to(root)}:{line} imports {target}")
    return found


def loaded(module: str, forbidden: tuple[str, ...], pythonpath: Path = ROOT) -> list[str]:
    """Which ``forbidden`` modules a fresh interpreter has loaded after ``import module``."""
    code = (
        f"import sys, {module}\n"
        f"bad = {forbidden!r}\n"
        "print(','.join(sorted(m for m in sys.modules"
        " if any(m == b or m.startswith(b + '.') for b in bad))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, cwd=pythonpath, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return [name for name in run.stdout.strip().split(",") if name]


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=lambda b: b.name)
def test_boundary(boundary: Boundary) -> None:
    assert violations(boundary, ROOT) == []


@pytest.mark.parametrize("module", sorted(LIGHT_IMPORTS))
def test_imports_stay_light(module: str) -> None:
    assert loaded(module, LIGHT_IMPORTS[module]) == []


def test_flake8_plugin_loads_without_the_walker_or_the_codemods() -> None:
    """flake8 imports the plugin in every run, before it checks a file: the plugin reads
    files flake8 hands it and never walks folders (pathspec) or rewrites code (libcst),
    so neither may be paid for at start-up; nor Celery or kombu (the linter reads code,
    it runs none), the other front-ends, the runtime's workflows or the embedded default.
    The module is the entry point's, wherever the front-ends live."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["entry-points"]["flake8.extension"]["CSF"]
    module = target.partition(":")[0]
    unneeded = (
        "libcst", "pathspec", "celery", "kombu", "billiard", "celery_safe.cli",
        "celery_safe.lint.codemods", "celery_safe.lint.front.cli",
        "celery_safe.lint.front.fix_cli", "celery_safe.lint.front.formats",
        "celery_safe.lint.docs", "celery_safe.workflows", "celery_safe.embedded",
    )  # fmt: skip
    assert loaded(module, unneeded) == []


def test_every_rule_applies_to_code_that_exists_or_is_planned() -> None:
    """A boundary on a prefix that matches nothing guards nothing: each source must be a
    package of today's tree, except lint/interp/, DESIGN.md's layering being moved in."""
    planned = {"celery_safe.lint.interp"}
    for boundary in BOUNDARIES:
        path = ROOT.joinpath(*boundary.source.split("."))
        exists = path.is_dir() or path.with_suffix(".py").is_file()
        assert exists or boundary.source in planned, boundary.name


# --- each rule fails on a planted violation ------------------------------------------


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("copy")
    shutil.copytree(PACKAGE, root / "celery_safe",
                    ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    return root


def _plant(root: Path, source: str, forbidden: str) -> Path:
    """A new module under ``source`` importing ``forbidden`` the way the package does:
    relatively inside celery_safe, absolutely otherwise."""
    folder = root.joinpath(*source.split("."))
    if not folder.is_dir():  # a planned package: create it
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    planted = folder / "planted_violation.py"
    if forbidden.startswith("celery_safe."):
        dots = "." * (source.count(".") + 1)  # from the planted module's package up to celery_safe
        within = forbidden.removeprefix("celery_safe.")
        if "." in within:
            module, name = within.rsplit(".", 1)
            statement = f"from {dots}{module} import {name}\n"
        else:
            statement = f"from {dots} import {within}\n"
    else:
        statement = f"import {forbidden}\n"
    planted.write_text(statement)
    return planted


@pytest.mark.parametrize(
    ("boundary", "forbidden"),
    [(b, f) for b in BOUNDARIES for f in b.forbidden],
    ids=lambda value: value.name if isinstance(value, Boundary) else value,
)
def test_each_rule_catches_a_planted_violation(
    boundary: Boundary, forbidden: str, copy_root: Path
) -> None:
    planted = _plant(copy_root, boundary.source, forbidden)
    try:
        found = violations(boundary, copy_root)
    finally:
        planted.unlink()
    assert any(f"{planted.name[:-3]}.py" in line for line in found), (planted.read_text()
                                                                       if planted.exists()
                                                                       else found)


def test_relative_imports_are_resolved_like_python_does(copy_root: Path) -> None:
    planted = copy_root / "celery_safe" / "workflows" / "planted_violation.py"
    planted.write_text("from ..lint import engine\nfrom ..lint.docs import render_page\n")
    try:
        targets = {name for name, _ in imports_of(planted, copy_root)}
    finally:
        planted.unlink()
    assert {"celery_safe.lint", "celery_safe.lint.engine", "celery_safe.lint.docs"} <= targets


@pytest.mark.parametrize("module", sorted(LIGHT_IMPORTS))
def test_light_imports_catch_a_planted_import(module: str, tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "celery_safe",
                    ignore=shutil.ignore_patterns("__pycache__"))
    forbidden = LIGHT_IMPORTS[module]
    init = tmp_path.joinpath(*module.split("."))
    init = init / "__init__.py" if init.is_dir() else init.with_suffix(".py")
    init.write_text(init.read_text() + f"\nimport {forbidden[0]}\n")
    assert loaded(module, forbidden, pythonpath=tmp_path) != []


def test_public_api_is_explicit_and_typed() -> None:
    import celery_safe

    assert sorted(celery_safe.__all__) == list(celery_safe.__all__)
    missing = [name for name in celery_safe.__all__ if not hasattr(celery_safe, name)]
    assert missing == []
    assert (PACKAGE / "py.typed").is_file()


def test_exports_table_matches_all() -> None:
    import celery_safe

    assert sorted(celery_safe._EXPORTS) == list(celery_safe.__all__)
