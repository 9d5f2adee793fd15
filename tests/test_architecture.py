"""The layering DESIGN.md promises: cheap imports for workers, no example in the library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "celery_safe"
HEAVY = ("libcst", "flake8", "celery_safe.lint")


@pytest.mark.parametrize("module", ["celery_safe", "celery_safe.workflows", "celery_safe.embedded"])
def test_runtime_imports_stay_light(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_never_imports_the_example() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] in ("registry", "examples") for name in _imported_modules(path))
    ]
    assert offenders == []


def test_workflows_never_depend_on_the_lint_engine() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (PACKAGE / "workflows").rglob("*.py")
        if any(name.startswith(HEAVY) for name in _imported_modules(path))
    ]
    assert offenders == []


def test_public_api_is_explicit_and_typed() -> None:
    import celery_safe

    assert sorted(celery_safe.__all__) == list(celery_safe.__all__)
    missing = [name for name in celery_safe.__all__ if not hasattr(celery_safe, name)]
    assert missing == []
    assert (PACKAGE / "py.typed").is_file()


def test_exports_table_matches_all() -> None:
    import celery_safe

    assert sorted(celery_safe._EXPORTS) == list(celery_safe.__all__)


def test_importing_the_linter_does_not_load_celery_apps() -> None:
    code = "import sys, celery_safe.lint; print('celery.app' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


#: What the rules may not import: the engine that runs them, the front-ends, the codemods.
ABOVE_RULES = frozenset(
    {
        "engine",
        "cli",
        "fix_cli",
        "config",
        "files",
        "formats",
        "flake8_plugin",
        "resolve",
        "codemods",
        "front",
        "docs",
    }
)


#: What the interpreter may not import besides: the rules, their registry and what
#: they report with. It knows Python and Celery, never a rule.
ABOVE_INTERP = ABOVE_RULES | {"rules", "registry", "joins", "findings", "noqa"}


def _lint_targets(source: str, package: list[str]) -> set[str]:
    """The ``celery_safe.lint`` submodules a module of ``package`` imports (relative or not)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            modules = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        for name in modules:
            parts = name.split(".")
            if parts[:2] == ["celery_safe", "lint"] and len(parts) > 2:
                found.add(parts[2])
    return found


def _imports_above(folder: Path, banned: frozenset[str]) -> dict[str, list[str]]:
    """The modules of ``folder`` importing a banned ``celery_safe.lint`` submodule."""
    offenders = {}
    paths = list(folder.rglob("*.py"))
    assert len(paths) > 10  # the folder is there: the check is not vacuous
    for path in paths:
        package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
        above = _lint_targets(path.read_text(encoding="utf-8"), package) & banned
        if above:
            offenders[str(path.relative_to(ROOT))] = sorted(above)
    return offenders


def test_interpreter_imports_no_rule_engine_front_or_codemod() -> None:
    assert _imports_above(PACKAGE / "lint" / "interp", ABOVE_INTERP) == {}


def test_rules_import_no_engine_front_or_codemod() -> None:
    assert _imports_above(PACKAGE / "lint" / "rules", ABOVE_RULES) == {}


def test_layering_check_sees_relative_and_absolute_imports() -> None:
    interp = ["celery_safe", "lint", "interp"]
    source = "from ..rules import csf101\nfrom .. import registry\nimport celery_safe.lint.engine\n"
    assert _lint_targets(source, interp) == {"rules", "registry", "engine"}
    assert _lint_targets("from .values import Value\nfrom ...canvas import Step\n", interp) == {
        "interp"
    }
