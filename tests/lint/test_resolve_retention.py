"""What the project index keeps between files (``ModuleResolver``, shared by ``check``
and each flake8 process): a module only one file looks into is let go when the next file
begins (its tree would burden the host's garbage collector for the rest of the run); one
that a second file needs is kept. Findings never depend on which.
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter
from pathlib import Path

import pytest

from celery_safe.lint import resolve
from celery_safe.lint.front.cli import check_file
from celery_safe.lint.config import Config
from celery_safe.lint.front import flake8_plugin
from celery_safe.lint.resolve import ModuleResolver

from .test_cache import JOINS as HELPERS
from .test_cache import tasks


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    files = {
        "__init__.py": "",
        "helpers.py": HELPERS,  # used by a.py and b.py
        "rare.py": HELPERS,  # used by c.py and, much later, by d.py
        "a.py": tasks("helpers"),
        "b.py": tasks("helpers"),
        "c.py": tasks("rare"),
        "d.py": tasks("rare"),
    }
    for name, text in files.items():
        (tmp_path / "shop").mkdir(exist_ok=True)
        (tmp_path / "shop" / name).write_text(text)
    return tmp_path / "shop"


def test_modules_one_file_uses_are_let_go_and_shared_ones_kept(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: Counter[str] = Counter()  # modules read and indexed (not a project's scans)
    real = resolve.ModuleResolver._index

    def counting(self: ModuleResolver, path: Path) -> object:
        if path not in self._indexes:
            reads[path.name] += 1
        return real(self, path)

    monkeypatch.setattr(resolve.ModuleResolver, "_index", counting)
    config = Config()
    resolver = ModuleResolver(config.task_decorators, config.max_file_size)
    order = ["a.py", "b.py", "c.py", "a.py", "b.py", "d.py", "a.py"]
    found = []
    for name in order:
        findings, _ = check_file(shop / name, config, resolver)
        found.append([(f.line, f.code) for f in findings])
        if name == "c.py":
            assert reads["rare.py"] == 1
    # helpers.py: read for a.py, let go, read again for b.py (a second user) and kept
    assert reads["helpers.py"] == 2
    # rare.py: c.py's alone, let go; d.py is its second user, so it is read again
    assert reads["rare.py"] == 2
    # what was let go or kept never changes a finding: each file as a fresh run sees it
    for name, seen in zip(order, found, strict=True):
        alone, _ = check_file(shop / name, config, ModuleResolver())
        assert seen == [(f.line, f.code) for f in alone] == [(12, "CSF104")]


def test_real_path_is_what_resolve_gives(tmp_path: Path) -> None:
    """``ModuleResolver.real`` resolves each folder once per run; it must name the same
    file ``resolve()`` does: through a linked folder, for a link, for ``..``, relative."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tasks.py").write_text("")
    (tmp_path / "pkg" / "other.py").write_text("")
    (tmp_path / "via").symlink_to(tmp_path / "pkg")
    (tmp_path / "pkg" / "alias.py").symlink_to(tmp_path / "pkg" / "other.py")
    resolver = ModuleResolver()
    for path in (
        tmp_path / "pkg" / "tasks.py",
        tmp_path / "via" / "tasks.py",
        tmp_path / "via" / "other.py",  # its folder's real path is remembered by now
        tmp_path / "pkg" / "alias.py",
        tmp_path / "via" / "alias.py",
        tmp_path / "pkg" / "missing.py",
        tmp_path / "via" / "..",
        Path("relative.py"),
    ):
        assert resolver.real(path) == path.resolve(), path
    assert resolver.real(tmp_path / "via" / "alias.py") == tmp_path.resolve() / "pkg" / "other.py"


def test_a_closed_resolver_leaves_nothing_for_the_garbage_collector(shop: Path) -> None:
    """At the end of a run (``ModuleResolver.close``) the modules still kept are let go
    with their cycles broken: reference counting frees them, the collector finds none."""
    import gc

    config = Config()
    enabled = gc.isenabled()
    gc.disable()
    try:
        check_file(shop / "a.py", config, ModuleResolver())  # fills the per-config caches
        gc.collect()
        resolver = ModuleResolver()
        findings, _ = check_file(shop / "a.py", config, resolver)
        assert [f.code for f in findings] == ["CSF104"]  # helpers.py was read and analysed
        resolver.close()
        del resolver
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


def test_the_flake8_plugin_lets_go_when_a_files_analysis_ends(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flake8 runs its own checks (and its collector) between two files of ours: a module
    only the file just analysed used is let go before the plugin returns, not when the
    next file reaches it; one a second file used is kept, as ``check`` keeps it."""
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", "off")
    flake8_plugin.Plugin.parse_options(argparse.Namespace())  # a new run

    def run(name: str) -> tuple[list[str], list[str]]:
        source = (shop / name).read_text()
        plugin = flake8_plugin.Plugin(ast.parse(source), str(shop / name),
                                      source.splitlines(keepends=True))
        codes = [message.split()[0] for _, _, message, _ in plugin.run()]
        (folder,) = flake8_plugin._FOLDERS.values()
        held = folder.cache.resolver._indexes  # what the project index holds now
        return codes, sorted(path.name for path, index in held.items() if index is not None)

    assert run("a.py") == (["CSF104"], [])  # helpers.py was read, and let go already
    assert run("b.py") == (["CSF104"], ["helpers.py"])  # a second user: kept
    assert run("c.py") == (["CSF104"], ["helpers.py"])  # rare.py: c.py's alone
    assert run("d.py") == (["CSF104"], ["helpers.py", "rare.py"])
