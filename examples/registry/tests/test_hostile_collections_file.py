"""A ``collections.yaml`` that is not text (binary, not UTF-8, a folder): every reader of
it (``populate``, ``run sync`` and ``POST /admin/sync``, beat's sync) says so by name
instead of a traceback, and what is stored stays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry import operations, sources
from registry.config import load_settings


def _registry(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run([sys.executable, "-m", "registry", *args, "--home", str(home)],
                          cwd=home.parent, env=env, capture_output=True, text=True,
                          check=False, timeout=300)


BAD = {"binary": b"\xff\xfe\x00garbage", "latin-1": "owner: Ren\xe9\n".encode("latin-1")}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_populate_names_a_collections_file_that_is_not_text(tmp_path: Path, kind: str) -> None:
    """Reproduces: ``populate`` on a binary collections.yaml died with a UnicodeDecodeError
    traceback (exit 1)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "collections.yaml").write_bytes(BAD[kind])
    run = _registry("populate", home=home)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert f"error: {home / 'collections.yaml'} cannot be read: 'utf-8' codec" in run.stderr


def test_populate_names_a_collections_file_that_is_a_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "collections.yaml").mkdir(parents=True)
    run = _registry("populate", home=home)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Is a directory" in run.stderr and "does not exist" not in run.stderr


def test_sync_all_refuses_a_collections_file_that_is_not_text(tmp_path: Path) -> None:
    """What ``run sync`` and ``POST /admin/sync`` build: a 409 naming the file."""
    settings = load_settings(environ={}, home=str(tmp_path))
    settings.collections_file.write_bytes(BAD["binary"])
    with pytest.raises(operations.ActionRefused, match=r"collections\.yaml cannot be read") as got:
        operations.sync_all(settings)
    assert got.value.status == 409


def test_an_oversized_file_cut_inside_a_character_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "collections.yaml"
    path.write_bytes(b"#" * (sources.LIMITS.max_bytes - 1) + "é".encode() * 4)
    loaded = sources.parse_collections_text(sources.read_collections_text(path))
    assert loaded.collections == []
    assert "-byte limit" in loaded.errors[0].message


def test_too_many_entries_are_refused_before_the_rest_is_read(tmp_path: Path) -> None:
    """Reproduces: 300,000 one-word entries (under the byte and value limits) were all
    parsed, about 8 s, before the entry count refused them. A syntax error after them
    shows how far the reader went: refused at the first entry over the limit, it is never
    reached; the error names the limit and the file."""
    limit = sources.MAX_COLLECTIONS
    path = tmp_path / "collections.yaml"
    path.write_text("codecollections:\n" + "- x\n" * 300_000 + "bad: [unclosed\n")
    loaded = sources.load_collections(path)
    assert loaded.collections == []
    [error] = loaded.errors
    assert (error.entry, error.field) == ("(file)", str(path))
    assert f"line {limit + 2}: " in error.message, error.message  # entry limit + 1, after line 1
    assert f"over the {limit}-entry limit" in error.message
    assert "not valid YAML" not in error.message


def test_the_entry_limit_counts_a_mapping_by_its_keys() -> None:
    from registry.safeyaml import YamlInputError, YamlLimits, load_yaml

    limits = YamlLimits(max_bytes=1 << 20, max_depth=8, max_values=10_000, max_chars=1 << 20,
                        max_items=3)
    assert load_yaml("{a: 1, b: 2, c: [1, 2, 3]}", limits) == {"a": 1, "b": 2, "c": [1, 2, 3]}
    with pytest.raises(YamlInputError, match="a mapping of more than 3 entries, over the "
                                             "3-entry limit"):
        load_yaml("{a: 1, b: 2, c: 3, d: 4}", limits)
    with pytest.raises(YamlInputError, match="line 5: a list of more than 3 entries"):
        load_yaml("x:\n- 1\n- 2\n- 3\n- 4\n", limits)
