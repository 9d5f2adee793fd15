"""``check``'s packs at scale and under concurrency: split by path, merged under a lock,
temporary files of killed writers and stale cache files swept, never anything not ours.

The two-process tests run real ``python`` processes and order them with files (each
says where it is by creating one, and waits for one to go on), never with sleeps.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe.cli import main
from celery_safe.lint import cache as cache_module
from celery_safe.lint.cache import (
    CacheDir,
    FindingsCache,
    merged,
    packed,
    shard_of,
    unpacked,
)
from celery_safe.lint.config import Config
from celery_safe.lint.resolve import ModuleResolver

from .test_cache import HARMLESS, JOINS, checked, pack_entries, run_files, tasks, write

# --- the format and the merge, as functions --------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8,
)
PATHS = st.text(min_size=1, max_size=12)
ENTRIES = st.dictionaries(PATHS, JSON, max_size=8)
HEADERS = st.fixed_dictionaries(
    {"format": st.integers(0, 4), "engine": st.text(max_size=4), "config": st.text(max_size=4),
     "root": st.text(max_size=4), "shard": st.sampled_from(["00", "7f", "ff"])}
)  # fmt: skip


@given(HEADERS, HEADERS, ENTRIES)
def test_a_pack_reads_back_its_entries_and_only_under_its_own_header(
    header: dict[str, object], other: dict[str, object], entries: dict[str, object]
) -> None:
    data = json.loads(packed(header, entries))
    assert unpacked(data, header) == entries
    assert (unpacked(data, other) is None) is (other != header)


@given(ENTRIES, ENTRIES, st.sets(PATHS))
def test_a_merge_loses_no_entry_and_the_later_one_wins(
    on_disk: dict[str, object], computed: dict[str, object], gone: set[str]
) -> None:
    result = merged(on_disk, computed, lambda path: path not in gone)
    for path, entry in computed.items():  # this run's: all of them, as computed
        assert result[path] == entry
    for path, entry in on_disk.items():  # the others': while their file exists
        if path not in computed:
            assert (path in result) is (path not in gone)
            assert path not in result or result[path] == entry
    assert set(result) <= set(on_disk) | set(computed)


# --- the merge through the cache: runs that read before either wrote ---------------------


def entry(path: Path, text: str) -> dict[str, object]:
    """An entry as ``check`` stores it, for a file with no imports and no findings."""
    return {"path": str(path), "digest": cache_module.text_digest(text), "imports": [],
            "files": {}, "findings": []}  # fmt: skip


def stored(project: Path, folder: Path) -> dict[str, object]:
    """Every entry in ``project``'s packs, read as a new run reads them."""
    config = Config()
    cache = FindingsCache.for_run(config, ModuleResolver(), folder, batch=True)
    found = {}
    for shard in range(256):
        found.update(cache._pack(str(project), f"{shard:02x}"))
    cache.close()
    return found


NAMES = [f"m{n}.py" for n in range(12)]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.dictionaries(st.sampled_from(NAMES), st.sampled_from("abc"), max_size=6),
             min_size=1, max_size=4),
    st.sets(st.sampled_from(NAMES)),
)  # fmt: skip
def test_runs_that_overlap_keep_every_entry_the_last_writer_wins(
    tmp_path_factory: pytest.TempPathFactory,
    runs: list[dict[str, str]],
    deleted: set[str],
) -> None:
    """Each run reads the packs of its files, then all write in turn: every file's entry
    is the last run's that computed it, except files deleted before the last write."""
    project = tmp_path_factory.mktemp("project")
    folder = project / "cache"
    for name in NAMES:
        (project / name).write_text("")
    caches = []
    for run in runs:
        cache = FindingsCache.for_run(Config(), ModuleResolver(), folder, batch=True)
        for name in run:  # what findings() reads before computing
            cache._pack(str(project), shard_of(str(project / name)))
        cache._pending[str(project)] = {
            str(project / name): entry(project / name, text) for name, text in run.items()
        }
        caches.append(cache)
    for name in deleted:
        (project / name).unlink()
    expected: dict[str, object] = {}
    for cache in caches:
        for name in NAMES:  # what a later write drops: files gone, in packs it rewrites
            path = str(project / name)
            touched = {shard_of(p) for p in cache._pending[str(project)]}
            if name in deleted and shard_of(path) in touched and path not in \
                    cache._pending[str(project)]:  # fmt: skip
                expected.pop(path, None)
        expected.update(cache._pending[str(project)])
        cache.close()
    assert stored(project, folder) == expected


# --- two real processes -----------------------------------------------------------------

#: A ``check`` run in a process of its own, as ``role`` (see the tests), on ``files``.
DRIVER = r"""
import os, sys, time
from pathlib import Path
from celery_safe.lint import cache as cache_module
from celery_safe.lint.cache import CacheDir, FindingsCache, default_cache_dir
from celery_safe.lint.config import Config
from celery_safe.lint.front.cli import check_file
from celery_safe.lint.resolve import ModuleResolver

signals, role, files = Path(sys.argv[1]), sys.argv[2], [Path(f) for f in sys.argv[3:]]

def say(word):
    (signals / f"{role}.{word}").touch()

def wait_for(name):
    while not (signals / name).exists():
        time.sleep(0.001)

config = Config()
resolver = ModuleResolver(config.task_decorators, config.max_file_size)
cache = FindingsCache.for_run(config, resolver, default_cache_dir(), batch=True)
for path in files:
    check_file(path, config, resolver, cache)
say("checked")
if role == "first":  # holds the lock, has read the packs again, waits before writing
    write_bytes = CacheDir.write_bytes
    def paused(self, name, data):
        say("writing")
        wait_for("go")
        write_bytes(self, name, data)
    CacheDir.write_bytes = paused
elif role == "second":  # says when it finds the lock taken
    wait_for("flush")
    flock = cache_module.fcntl.flock
    def said(fd, operation):
        try:
            flock(fd, operation)
        except BlockingIOError:
            say("blocked")
            raise
    cache_module.fcntl.flock = said
elif role == "killed":  # killed between writing its temporary file and renaming it
    def never(*args, **kwargs):
        say("writing")
        wait_for("never")
    cache_module.os.replace = never
cache.close()
say("done")
"""


def driver(signals: Path, role: str, files: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(signals), role, *map(str, files)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(signals: Path, *names: str, process: subprocess.Popen[str] | None = None) -> str:
    """The first of ``names`` to appear (or ``"exited"`` when ``process`` ends first)."""
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assumption
    while time.monotonic() < deadline:
        for name in names:
            if (signals / name).exists():
                return name
        if process is not None and process.poll() is not None:
            return "exited"
        time.sleep(0.001)
    raise AssertionError(f"none of {names} within 120 s")


@contextlib.contextmanager
def processes(*running: subprocess.Popen[str]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
            process.wait()


def same_shard(folder: Path, count: int) -> list[Path]:
    """``count`` module paths in ``folder`` whose entries share one pack."""
    first = shard_of(str(folder / "m0.py"))
    names = (folder / f"m{n}.py" for n in range(100_000))
    return [p for p in names if shard_of(str(p)) == first][:count]


def test_two_runs_writing_one_pack_at_once_keep_both_their_entries(
    tmp_path: Path, private_findings_cache: Path
) -> None:
    """The second run reads the pack before the first writes it, and tries to write while
    the first holds the lock: it waits, reads the first's pack again and merges."""
    package = tmp_path / "proj" / "app"
    write(tmp_path, {"proj/app/__init__.py": ""})
    modules = same_shard(package, 6)
    for path in modules:
        path.write_text(HARMLESS)
    signals = tmp_path / "signals"
    signals.mkdir()
    first = driver(signals, "first", modules[:3])
    second = driver(signals, "second", modules[3:])
    with processes(first, second):
        assert wait_for(signals, "first.writing", process=first) == "first.writing"
        assert wait_for(signals, "second.checked", process=second) == "second.checked"
        (signals / "flush").touch()
        # without a lock, the second would write now and the first overwrite it after
        wait_for(signals, "second.blocked", process=second)
        (signals / "go").touch()
        for process in (first, second):
            assert process.wait() == 0, process.communicate()
    entries = pack_entries(private_findings_cache)
    assert sorted(entries) == sorted(str(p) for p in modules)
    config = Config()
    resolver = ModuleResolver(config.task_decorators, config.max_file_size)
    cache = FindingsCache.for_run(config, resolver, private_findings_cache, batch=True)
    for path in modules:
        cache.findings(path, HARMLESS, lambda: pytest.fail("not from the cache"))
    assert (cache.hits, cache.misses) == (6, 0)
    cache.close()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    write(tmp_path, {"shop/__init__.py": "", "shop/tasks.py": tasks("helpers"),
                     "shop/helpers.py": JOINS})  # fmt: skip
    return tmp_path


def temporaries(folder: Path) -> list[Path]:
    return sorted((folder / "tmp").iterdir())


def test_a_writer_killed_mid_write_leaves_a_temporary_file_the_next_runs_delete(
    shop: Path, private_findings_cache: Path
) -> None:
    signals = shop / "signals"
    signals.mkdir()
    modules = sorted((shop / "shop").glob("*.py"))
    killed = driver(signals, "killed", modules)
    with processes(killed):
        assert wait_for(signals, "killed.writing", process=killed) == "killed.writing"
        killed.send_signal(signal.SIGKILL)
        assert killed.wait() == -signal.SIGKILL
    (left,) = temporaries(private_findings_cache)
    assert left.stat().st_size > 0 and not list(private_findings_cache.glob("*.pack.json"))
    assert checked(shop) == checked(shop, "--no-cache")  # the next run: fine
    assert checked(shop)[0] == 1
    assert temporaries(private_findings_cache) == [left]  # young: maybe a live writer's
    old = time.time() - cache_module.TEMP_AGE - 60
    os.utime(left, (old, old))
    assert checked(shop)[0] == 1
    assert temporaries(private_findings_cache) == []


def test_a_lock_held_too_long_skips_writing_and_says_so_when_verbose(
    shop: Path, private_findings_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "LOCK_TIMEOUT", 0.05)
    CacheDir.open(private_findings_cache).close()
    fd = os.open(private_findings_cache / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run, hung while writing
        for argv in ([], ["-v"]):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                assert main(["check", str(shop / "shop"), *argv]) == 1
            assert "CSF104" in out.getvalue()
            assert ("cache not written (3 new entries)" in err.getvalue()) is bool(argv)
            assert not list(private_findings_cache.glob("*.pack.json"))
    finally:
        os.close(fd)
    assert checked(shop, "-v")[0] == 1
    assert len(pack_entries(private_findings_cache)) == 3


def test_a_lock_file_that_is_a_link_is_not_used(
    shop: Path, private_findings_cache: Path, tmp_path: Path
) -> None:
    CacheDir.open(private_findings_cache).close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    (private_findings_cache / "lock").symlink_to(elsewhere)
    assert checked(shop)[0] == 1
    assert not list(private_findings_cache.glob("*.pack.json"))  # not written, not followed
    assert elsewhere.read_text() == "" and (private_findings_cache / "lock").is_symlink()


# --- what keeps the folder from growing ------------------------------------------------


def age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when), follow_symlinks=False)


def test_the_sweep_deletes_only_our_stale_regular_files(
    shop: Path, private_findings_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_files(shop, Config(), private_findings_cache)  # one entry file a module
    assert checked(shop)[0] == 1  # and packs
    folder = private_findings_cache
    ours = sorted(folder.glob("*.json"))
    stale, fresh = ours[:2], ours[2:]
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    link = folder / ("0" * 64 + ".json")  # named as ours, but a link
    link.symlink_to(elsewhere)
    notes = folder / "notes.txt"  # not named as ours
    notes.write_text("")
    named = folder / ("1" * 64 + ".pack.json")  # named as ours, but a folder
    named.mkdir()
    temporary = folder / "tmp" / f".{'2' * 64}.json.1.{'3' * 16}.tmp"
    temporary.write_text("")
    for path in (*stale, link, notes, named, elsewhere, temporary):
        age(path, cache_module.MAX_AGE + 60)
    directory = CacheDir.open(folder)
    directory._temporary_folder()  # opened as ours, before everything looks another's
    with monkeypatch.context() as patch:  # everything looks another user's: nothing goes
        uid = os.getuid()
        patch.setattr(cache_module.os, "getuid", lambda: uid + 1)
        assert directory.sweep() == 0
    assert directory.sweep() == 3  # the stale entries and the temporary file
    directory.close()
    assert sorted(p for p in folder.glob("*.json") if not p.is_dir()) == sorted([*fresh, link])
    assert notes.exists() and named.is_dir() and elsewhere.read_text() == "{}"
    assert not temporary.exists()


def test_the_sweep_runs_once_a_day(private_findings_cache: Path) -> None:
    CacheDir.open(private_findings_cache).close()
    stale = private_findings_cache / ("4" * 64 + ".json")
    stale.write_text("{}")
    stale.chmod(0o600)
    age(stale, cache_module.MAX_AGE + 60)
    FindingsCache.for_run(Config(), ModuleResolver(), private_findings_cache).close()
    FindingsCache.for_run(Config(), ModuleResolver(), private_findings_cache).close()
    assert not stale.exists()  # the first run swept it (no stamp yet), and left its stamp
    stale.write_text("{}")
    age(stale, cache_module.MAX_AGE + 60)
    FindingsCache.for_run(Config(), ModuleResolver(), private_findings_cache).close()
    assert stale.exists()  # swept already today
    age(private_findings_cache / "swept", cache_module.SWEEP_EVERY + 60)
    FindingsCache.for_run(Config(), ModuleResolver(), private_findings_cache).close()
    assert not stale.exists()


def test_a_cache_file_in_use_is_not_swept(shop: Path, private_findings_cache: Path) -> None:
    """Reading a file refreshes its age (once a day), so the sweep keeps what is read."""
    assert checked(shop)[0] == 1
    packed_files = sorted(private_findings_cache.glob("*.pack.json"))
    for path in packed_files:
        age(path, cache_module.MAX_AGE - 3600)
    assert checked(shop)[0] == 1  # every pack read
    assert all(time.time() - p.stat().st_mtime < 600 for p in packed_files)
    age(private_findings_cache / "swept", cache_module.SWEEP_EVERY + 60)
    assert checked(shop)[0] == 1
    assert sorted(private_findings_cache.glob("*.pack.json")) == packed_files


# --- the cost of a small check in a large cache ----------------------------------------


def test_a_one_file_check_reads_and_writes_one_pack_of_a_large_project(
    tmp_path: Path, private_findings_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "proj" / "app"
    write(tmp_path, {"proj/app/__init__.py": ""})
    modules = [package / f"m{n}.py" for n in range(2000)]
    for path in modules:
        path.write_text("")
    assert main(["check", str(package), "--output", os.devnull]) == 0
    before = {p.name: p.stat().st_ino for p in private_findings_cache.glob("*.pack.json")}
    assert len(before) == len({shard_of(str(p)) for p in modules}) > 200
    target = modules[7]
    target.write_text(HARMLESS)
    opened: list[str] = []
    load = CacheDir.load_stamped

    def counted(self: CacheDir, name: str, *args: object) -> object:
        opened.append(name)
        return load(self, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(CacheDir, "load_stamped", counted)
    assert main(["check", str(target)]) == 0
    after = {p.name: p.stat().st_ino for p in private_findings_cache.glob("*.pack.json")}
    changed = [name for name in before if after[name] != before[name]]
    packs_read = [name for name in opened if name.endswith(".pack.json")]
    assert len(changed) == 1 and set(packs_read) == set(changed)
    assert len(pack_entries(private_findings_cache)) == len(modules) + 1
