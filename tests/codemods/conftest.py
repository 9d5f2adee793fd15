"""Shared plumbing for the codemod tests: load a module from source under a fresh name."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
_counter = itertools.count()


@pytest.fixture
def load_module(tmp_path: Path) -> Iterator[Callable[[str, str], ModuleType]]:
    """``load_module(source, stem)`` imports ``source`` as a brand-new module."""
    loaded: list[str] = []

    def load(source: str, stem: str) -> ModuleType:
        name = f"cs_codemods_{stem}_{next(_counter)}"
        path = tmp_path / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
