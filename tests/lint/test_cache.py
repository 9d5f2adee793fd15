"""The findings cache: a hit only when nothing the findings depend on changed.

What a file's findings depend on: its text, every module its analysis looked up (found or
not, transitively), the config and celery-safe itself. The property test edits a small
project at random and compares ``check`` with and without the cache after every edit.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe import catalogue
from celery_safe.cli import main
from celery_safe.lint import cache as cache_module
from celery_safe.lint.cache import (
    CacheDir,
    FindingsCache,
    Unusable,
    config_key,
    default_cache_dir,
    engine_key,
    entry_name,
    pack_name,
    shard_of,
)
from celery_safe.lint.config import Config
from celery_safe.lint.front.cli import check_file
from celery_safe.lint.resolve import ModuleResolver

JOINS = "def wait_all(results):\n    return [r.get() for r in results]\n"
HARMLESS = "def wait_all(results):\n    return len(results)\n"


def tasks(module: str) -> str:
    return (
        "from celery import shared_task\n"
        f"from shop.{module} import wait_all\n\n\n"
        "@shared_task\ndef fetch(i):\n    return i\n\n\n"
        "@shared_task\ndef refresh(ids):\n    return wait_all([fetch.delay(i) for i in ids])\n"
    )


def write(root: Path, files: dict[str, str | None]) -> None:
    """Write (or, for ``None``, delete) each file under ``root``."""
    for name, text in files.items():
        target = root / name
        if text is None:
            if target.exists():
                target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def checked(root: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["check", str(root / "shop"), *argv])
    return code, out.getvalue()


def run_files(
    root: Path, config: Config, folder: Path, *, batch: bool = False
) -> tuple[FindingsCache, list[str]]:
    """Check every module of ``shop`` through one cache; the codes found, in file order.
    ``batch``: as ``check`` and flake8's processes do (one pack at the end), else an
    entry file per file, as a pack too large to write leaves them."""
    resolver = ModuleResolver(config.task_decorators, config.max_file_size)
    cache = FindingsCache.for_run(config, resolver, folder, batch=batch)
    codes = []
    for path in sorted((root / "shop").glob("*.py")):
        findings, _ = check_file(path, config, resolver, cache)
        codes += [f"{path.name}:{f.line}:{f.code}" for f in findings]
    cache.close()
    return cache, codes


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {"shop/__init__.py": "", "shop/tasks.py": tasks("helpers"), "shop/helpers.py": JOINS},
    )
    return tmp_path


def test_an_unchanged_project_is_read_from_the_cache(
    shop: Path, private_findings_cache: Path
) -> None:
    first, found = run_files(shop, Config(), private_findings_cache)
    assert (first.hits, first.misses) == (0, 3)
    assert found == ["tasks.py:12:CSF104"]
    second, again = run_files(shop, Config(), private_findings_cache)
    assert (second.hits, second.misses) == (3, 0) and again == found


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"shop/helpers.py": HARMLESS}, []),  # a module the task's helper lives in
        ({"shop/tasks.py": tasks("helpers") + "\n"}, ["tasks.py:12:CSF104"]),  # the file
        ({"shop/helpers.py": None}, []),  # deleted: the import finds nothing now
        # a new module that an import now finds first (shop.helpers -> the package)
        ({"shop/helpers.py": None, "shop/helpers/__init__.py": HARMLESS}, []),
    ],
)
def test_a_change_to_the_file_or_what_it_imports_recomputes_it(
    shop: Path, private_findings_cache: Path, edit: dict[str, str | None], expected: list[str]
) -> None:
    run_files(shop, Config(), private_findings_cache)
    write(shop, edit)
    after, found = run_files(shop, Config(), private_findings_cache)
    assert found == expected
    assert after.misses >= 1


def test_a_new_module_that_an_import_was_missing_recomputes_the_importer(
    shop: Path, private_findings_cache: Path
) -> None:
    write(shop, {"shop/tasks.py": tasks("later"), "shop/helpers.py": None})
    assert run_files(shop, Config(), private_findings_cache)[1] == []
    write(shop, {"shop/later.py": JOINS})
    assert run_files(shop, Config(), private_findings_cache)[1] == ["tasks.py:12:CSF104"]


def test_config_and_version_are_part_of_the_key(
    shop: Path, private_findings_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert checked(shop)[0] == 1
    write(shop, {"pyproject.toml": '[tool.celery-safe]\nignore = ["CSF104"]\n'})
    assert checked(shop) == (0, "No findings.\n")
    write(shop, {"pyproject.toml": None})
    assert checked(shop)[0] == 1
    decorated = tasks("helpers").replace("shared_task", "job").replace(
        "from celery import job", "from myproj.jobs import job"
    )
    write(shop, {"shop/tasks.py": decorated})
    assert checked(shop)[0] == 0
    assert checked(shop, "--task-decorator", "myproj.jobs.job")[0] == 1
    # a new celery-safe: every entry stale (here: the same engine reporting nothing)
    names = set(os.listdir(private_findings_cache))
    monkeypatch.setattr(cache_module, "engine_key", lambda: "another celery-safe")
    assert checked(shop, "--task-decorator", "myproj.jobs.job")[0] == 1
    assert set(os.listdir(private_findings_cache)) > names


def test_check_with_and_without_the_cache_print_the_same(
    shop: Path, private_findings_cache: Path
) -> None:
    for argv in (("--format", "json"), ("--format", "sarif"), ()):
        cold = checked(shop, "--no-cache", *argv)
        checked(shop, *argv)
        assert checked(shop, *argv) == cold


# --- the property: after any sequence of edits, cached == uncached ---------------------

FILES = {
    "shop/tasks.py": st.sampled_from([tasks("helpers"), tasks("other"), None]),
    "shop/helpers.py": st.sampled_from([JOINS, HARMLESS, None]),
    "shop/helpers/__init__.py": st.sampled_from([JOINS, HARMLESS, None]),
    "shop/other.py": st.sampled_from([JOINS, HARMLESS, "from shop.helpers import *\n", None]),
    "pyproject.toml": st.sampled_from([None, '[tool.celery-safe]\nignore = ["CSF104"]\n']),
}
STATES = st.fixed_dictionaries(FILES)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(STATES, min_size=1, max_size=4))
def test_cached_check_equals_uncached_check_after_any_edits(
    states: list[dict[str, str | None]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write(root, {"shop/__init__.py": ""})
        for state in states:  # the cache folder: the test's own (conftest)
            write(root, state)
            cached = checked(root)
            assert cached == checked(root, "--no-cache"), state


# --- the key -----------------------------------------------------------------------------

CODES = sorted(catalogue.all_codes())
PREFIXES = st.sampled_from(sorted({c[:n] for c in CODES for n in range(3, len(c) + 1)}))
CONFIGS = st.builds(
    Config,
    select=st.lists(PREFIXES, max_size=3).map(tuple),
    ignore=st.lists(PREFIXES, max_size=3).map(tuple),
    extend_select=st.lists(PREFIXES, max_size=2).map(tuple),
    task_decorators=st.lists(st.sampled_from(["a.job", "b.task"]), max_size=2).map(tuple),
    max_file_size=st.sampled_from([1_000, 5_000_000]),
)


@given(CONFIGS, CONFIGS)
def test_configs_share_a_key_exactly_when_they_run_the_same_codes_the_same_way(
    a: Config, b: Config
) -> None:
    same = (
        [c for c in CODES if a.enabled(c)] == [c for c in CODES if b.enabled(c)]
        and a.task_decorators == b.task_decorators
        and a.max_file_size == b.max_file_size
    )
    assert (config_key(a) == config_key(b)) is same


TEXT = st.text(max_size=20)


@given(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT)
def test_entry_names_differ_whenever_a_part_differs(
    e1: str, c1: str, p1: str, e2: str, c2: str, p2: str
) -> None:
    assert (entry_name(e1, c1, p1) == entry_name(e2, c2, p2)) is ((e1, c1, p1) == (e2, c2, p2))


# --- the folder --------------------------------------------------------------------------


def cache_files(folder: Path) -> list[Path]:
    """The entries and packs in the cache folder (not its lock, stamp or ``tmp/``)."""
    return sorted(p for p in folder.iterdir() if p.name.endswith(".json"))


def test_the_folder_and_entries_are_private(shop: Path, private_findings_cache: Path) -> None:
    run_files(shop, Config(), private_findings_cache)
    assert stat.S_IMODE(private_findings_cache.stat().st_mode) == 0o700
    entries = cache_files(private_findings_cache)
    assert entries and all(stat.S_IMODE(e.stat().st_mode) == 0o600 for e in entries)
    kept = [json.loads(e.read_text()) for e in entries]
    assert all(k.get("findings", k.get("entries", k.get("answer", ""))) != "" for k in kept)
    temporaries = private_findings_cache / "tmp"
    assert stat.S_IMODE(temporaries.stat().st_mode) == 0o700 and not list(temporaries.iterdir())


def test_a_folder_that_is_a_link_open_to_others_or_a_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(Unusable, match="not a folder we can use"):
        CacheDir.open(tmp_path / "link")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(Unusable, match="closed to others"):
        CacheDir.open(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777  # never loosened or taken over
    (tmp_path / "file").write_text("")
    with pytest.raises(Unusable):
        CacheDir.open(tmp_path / "file")


def test_an_unusable_folder_warns_and_the_run_goes_on(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", str(shared))
    assert main(["check", str(shop / "shop")]) == 1
    captured = capsys.readouterr()
    assert "CSF104" in captured.out
    assert "cache not used" in captured.err and "closed to others" in captured.err
    assert list(shared.iterdir()) == []


def test_entries_that_are_links_or_not_private_are_ignored(
    shop: Path, private_findings_cache: Path, tmp_path: Path
) -> None:
    run_files(shop, Config(), private_findings_cache)
    forged = tmp_path / "forged.json"
    for entry in cache_files(private_findings_cache):
        data = json.loads(entry.read_text())
        data["findings"] = []
        forged.write_text(json.dumps(data))
        forged.chmod(0o600)
        entry.unlink()
        entry.symlink_to(forged)  # a link planted in our folder is never followed
    again, found = run_files(shop, Config(), private_findings_cache)
    assert found == ["tasks.py:12:CSF104"] and again.hits == 0
    assert forged.read_text() == json.dumps(data)  # and never written through
    for entry in cache_files(private_findings_cache):
        entry.chmod(0o644)  # readable by others: someone else could have written it
    assert run_files(shop, Config(), private_findings_cache)[0].hits == 0


def test_concurrent_writers_leave_whole_entries(tmp_path: Path) -> None:
    folder = CacheDir.open(tmp_path / "cache")
    values = [{"writer": n, "payload": "x" * 50_000} for n in range(8)]

    def hammer(value: dict[str, object]) -> None:
        for _ in range(25):
            folder.write("same.json", value)

    threads = [threading.Thread(target=hammer, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for _ in range(100):
        seen = folder.read("same.json")
        assert seen is None or seen in values
    for thread in threads:
        thread.join()
    assert folder.read("same.json") in values
    assert sorted(os.listdir(tmp_path / "cache")) == ["same.json", "tmp"]
    assert os.listdir(tmp_path / "cache" / "tmp") == []  # no temporary left behind
    folder.close()


@pytest.mark.parametrize("distribution", ["celery-safe", "celery"])
def test_the_engine_key_follows_celery_safes_and_celerys_versions(
    monkeypatch: pytest.MonkeyPatch, distribution: str
) -> None:
    real = cache_module.metadata.version
    cache_module.engine_key.cache_clear()
    before = cache_module.engine_key()

    def version(name: str) -> str:
        return "99.0" if name == distribution else real(name)

    monkeypatch.setattr(cache_module.metadata, "version", version)
    cache_module.engine_key.cache_clear()
    try:
        assert cache_module.engine_key() != before
    finally:
        monkeypatch.undo()
        cache_module.engine_key.cache_clear()
    assert cache_module.engine_key() == before


def test_where_the_cache_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cache_dir({"CELERY_SAFE_CACHE_DIR": str(tmp_path)}) == tmp_path
    for off in ("off", "0", "none", "false", "OFF"):
        assert default_cache_dir({"CELERY_SAFE_CACHE_DIR": off}) is None
    xdg = {"XDG_CACHE_HOME": str(tmp_path)}
    assert default_cache_dir(xdg) == tmp_path / "celery-safe"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir({}) == tmp_path / ".cache" / "celery-safe"
    # the XDG spec: a relative path is invalid and ignored (not a folder in the project)
    assert default_cache_dir({"XDG_CACHE_HOME": "cache"}) == tmp_path / ".cache" / "celery-safe"
    assert default_cache_dir({"CELERY_SAFE_CACHE_DIR": "~/x"}) == tmp_path / "x"


def test_a_cache_folder_under_an_unknown_users_home_warns_and_the_run_goes_on(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``~nobody-such/x``: Path.expanduser raises RuntimeError; check must not crash."""
    monkeypatch.chdir(shop)
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", "~celery-safe-no-such-user/cache")
    assert main(["check", str(shop / "shop")]) == 1
    captured = capsys.readouterr()
    assert "CSF104" in captured.out
    assert "cache not used" in captured.err and "celery-safe-no-such-user" in captured.err
    assert sorted(p.name for p in shop.iterdir()) == ["shop"]  # no folder made here


def test_a_hit_gives_back_the_rules_typed_details(tmp_path: Path) -> None:
    """The codemods and reports read a finding's typed detail: a cached finding is the
    same object as a fresh one, detail included (spans, call paths, states)."""
    legacy = Path(__file__).resolve().parents[2] / "examples" / "registry" / "legacy"
    config = Config()
    fresh, cached = [], []
    for attempt in (fresh, cached):
        resolver = ModuleResolver(config.task_decorators, config.max_file_size)
        cache = FindingsCache.for_run(config, resolver, tmp_path / "cache")
        for path in sorted(legacy.glob("*.py")):
            attempt += check_file(path, config, resolver, cache)[0]
        cache.close()
    assert cache.hits and not cache.misses  # the second run came from the cache
    assert {type(f.detail).__name__ for f in fresh} >= {"JoinDetail"}
    assert cached == fresh


# --- check's packs: one file per project and run ------------------------------------------


def packs(folder: Path) -> dict[str, int]:
    """The packs in the cache folder: name -> inode (a rewrite renames a new file in)."""
    return {p.name: p.stat().st_ino for p in folder.iterdir() if p.name.endswith(".pack.json")}


def pack_entries(folder: Path) -> dict[str, object]:
    """The entries of every pack in the folder (each file in exactly one)."""
    entries: dict[str, object] = {}
    for name in packs(folder):
        found = json.loads((folder / name).read_text())["entries"]
        assert not set(found) & set(entries)
        entries.update(found)
    return entries


def pack_of(folder: Path, path: Path) -> Path:
    """The pack that holds (or would hold) ``path``'s entry, checked with the default
    config; its project: the folder above ``shop``."""
    key = str(path.absolute())
    root = str(path.absolute().parent.parent)
    return folder / pack_name(engine_key(), config_key(Config()), root, shard_of(key))


def test_check_writes_private_packs_and_reads_them_back(
    shop: Path, private_findings_cache: Path
) -> None:
    assert checked(shop)[0] == 1
    names = {pack_of(private_findings_cache, shop / "shop" / n).name
             for n in ("__init__.py", "helpers.py", "tasks.py")}  # fmt: skip
    assert set(packs(private_findings_cache)) == names  # each file's, nothing else
    # besides them: the answers of the project scans its files asked (one file each)
    scans = {n for n in os.listdir(private_findings_cache) if n.endswith(".scan.json")}
    assert set(os.listdir(private_findings_cache)) == names | scans | {"lock", "swept", "tmp"}
    for pack in names | scans:
        assert stat.S_IMODE((private_findings_cache / pack).stat().st_mode) == 0o600
    assert sorted(Path(p).name for p in pack_entries(private_findings_cache)) == [
        "__init__.py", "helpers.py", "tasks.py",
    ]  # fmt: skip
    written = packs(private_findings_cache)
    cache, found = run_files(shop, Config(), private_findings_cache, batch=True)
    assert (cache.hits, cache.misses) == (3, 0) and found == ["tasks.py:12:CSF104"]
    assert packs(private_findings_cache) == written  # nothing computed: nothing written


def test_a_pack_keeps_the_entries_of_other_runs_while_their_files_remain(
    shop: Path, private_findings_cache: Path
) -> None:
    """A file deleted since: its entry goes when its pack is next written."""
    checked(shop)
    helpers = shard_of(str((shop / "shop" / "helpers.py").absolute()))
    extra = next(
        f"extra{n}.py" for n in range(100_000)
        if shard_of(str((shop / "shop" / f"extra{n}.py").absolute())) == helpers
    )  # fmt: skip
    write(shop, {f"shop/{extra}": HARMLESS})
    assert main(["check", str(shop / "shop" / extra)]) == 0
    assert sorted(Path(p).name for p in pack_entries(private_findings_cache)) == sorted(
        ["__init__.py", extra, "helpers.py", "tasks.py"]
    )
    write(shop, {f"shop/{extra}": None, "shop/helpers.py": HARMLESS})
    assert checked(shop) == (0, "No findings.\n")  # helpers.py's pack rewritten
    assert sorted(Path(p).name for p in pack_entries(private_findings_cache)) == [
        "__init__.py", "helpers.py", "tasks.py",
    ]  # fmt: skip


def test_check_and_flake8_read_each_others_entries(
    shop: Path, private_findings_cache: Path
) -> None:
    """Entry files (what a pack too large to write leaves) are read by both, and so
    are packs."""
    config = Config()
    run_files(shop, config, private_findings_cache)  # one entry file a source file
    assert not packs(private_findings_cache)
    cache = run_files(shop, config, private_findings_cache, batch=True)[0]
    assert (cache.hits, cache.misses) == (3, 0)
    for entry in cache_files(private_findings_cache):
        entry.unlink()
    checked(shop)  # packs only
    second, found = run_files(shop, config, private_findings_cache)
    assert (second.hits, second.misses) == (3, 0) and found == ["tasks.py:12:CSF104"]


def test_runs_writing_one_pack_at_once_keep_each_others_entries(
    shop: Path, private_findings_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flake8's workers end together, each merging its entries into the project's pack:
    each merge waits for the others (a pack read by two at once lost one's entries)."""
    write(shop, {f"shop/more{n}.py": tasks("helpers") for n in range(5)})
    paths = sorted((shop / "shop").glob("*.py"))
    caches = []
    for path in paths:  # a cache (an open folder) per file, as a process per file
        resolver = ModuleResolver((), Config().max_file_size)
        cache = FindingsCache.for_run(Config(), resolver, private_findings_cache, batch=True)
        check_file(path, Config(), resolver, cache)
        caches.append(cache)
    read = FindingsCache._read_pack

    def slow_read(self: FindingsCache, *args: Any) -> Any:
        found = read(self, *args)
        time.sleep(0.05)  # every merge would read the pack before any had written it
        return found

    monkeypatch.setattr(FindingsCache, "_read_pack", slow_read)
    threads = [threading.Thread(target=cache.close) for cache in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(Path(p).name for p in pack_entries(private_findings_cache)) == sorted(
        p.name for p in paths
    )


@pytest.mark.parametrize("damage", ["link", "open", "not json", "nested", "foreign"])
def test_a_damaged_or_foreign_pack_is_ignored_said_and_replaced(
    shop: Path, private_findings_cache: Path, tmp_path: Path, damage: str
) -> None:
    checked(shop)
    pack = pack_of(private_findings_cache, shop / "shop" / "tasks.py")
    data = json.loads(pack.read_text())
    for entry in data["entries"].values():
        entry["findings"] = []  # a forged pack would hide the finding
    forged = tmp_path / "forged.json"
    if damage == "link":
        forged.write_text(json.dumps(data))
        forged.chmod(0o600)
        pack.unlink()
        pack.symlink_to(forged)
    elif damage == "open":
        pack.write_text(json.dumps(data))
        pack.chmod(0o644)
    elif damage == "not json":
        pack.write_text(json.dumps(data)[:-10])
    elif damage == "nested":  # JSON deeper than the parser's recursion limit
        pack.write_text("[" * 200_000 + "]" * 200_000)
    else:
        data["config"] = "another config"
        pack.write_text(json.dumps(data))
    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["check", str(shop / "shop")]) == 1
    assert "CSF104" in out.getvalue()
    assert f"cache file {pack} ignored" in err.getvalue()
    assert err.getvalue().count("ignored") == 1
    if damage == "link":
        assert json.loads(forged.read_text()) == data  # never written through
    assert not pack.is_symlink() and stat.S_IMODE(pack.stat().st_mode) == 0o600
    assert json.loads(pack.read_text())["config"] != "another config"  # replaced by ours
    assert checked(shop)[0] == 1


@pytest.mark.parametrize(
    "damage",
    [
        "infinite span",  # JSON's Infinity: int() raises OverflowError
        "deep detail",  # parses, but decoding it recurses past the limit
    ],
)
def test_a_stored_finding_that_cannot_be_rebuilt_is_recomputed(
    shop: Path, private_findings_cache: Path, damage: str
) -> None:
    assert checked(shop)[0] == 1
    pack = pack_of(private_findings_cache, shop / "shop" / "tasks.py")
    data = json.loads(pack.read_text())
    (entry,) = (e for e in data["entries"].values() if e["findings"])
    if damage == "infinite span":
        entry["findings"][0]["span"][0] = float("inf")
        text = json.dumps(data)
    else:
        marker = '"MARKER"'
        entry["findings"][0]["detail"] = {"type": "JoinDetail", "fields": {"via": "MARKER"}}
        text = json.dumps(data).replace(marker, "[" * 600 + "]" * 600)
    pack.write_text(text)
    json.loads(text)  # the pack itself is readable JSON
    code, out = checked(shop)
    assert code == 1 and "CSF104" in out
