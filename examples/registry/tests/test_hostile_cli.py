"""``python -m registry`` on bad options and an unusable database: one line naming what
was wrong, the documented exit code (1 did not happen, 2 bad usage or input), no
traceback, no password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    (["init", "--collections", "-1"], 2, "argument --collections: must be at least 1, got -1"),
    (["demo", "--bundles", "0"], 2, "argument --bundles: must be at least 1, got 0"),
    (["populate", "--workers", "-1"], 2, "argument --workers: must be at least 0, got -1"),
    (["populate", "--timeout", "nan"], 2, "must be a positive number of seconds, got nan"),
    (["run", "sync", "--timeout", "-3"], 2, "must be a positive number of seconds, got -3"),
    (["serve", "--port", "99999"], 2, "argument --port: must be a TCP port, 0-65535, got 99999"),
    (["worker", "--concurrency", "0"], 2, "argument --concurrency: must be at least 1, got 0"),
    (["list", "--db", "bogus://"], 2,
     "error: --db (REGISTRY_DB_URL) 'bogus://' is not a database URL SQLAlchemy can use"),
    (["list", "--db", "not a url"], 2, "is not a database URL SQLAlchemy can use"),
    # nothing listens on port 1: the server cannot be reached
    (["list", "--db", "postgresql+psycopg://registry:s3cret@127.0.0.1:1/registry"], 1,
     "error: the database postgresql+psycopg://registry:***@127.0.0.1:1/registry cannot "
     "be used: "),
    (["populate", "--broker", "redis://:s3cret@127.0.0.1:1/0"], 1,
     "error: the broker redis://:***@127.0.0.1:1/0 cannot be reached: "),
    (["run", "sync", "--broker", "amqp://guest:s3cret@127.0.0.1:1//"], 1,
     "error: the broker amqp://guest:***@127.0.0.1:1// cannot be reached: "),
    (["health", "--home", "/dev/null/home"], 2,
     "registry: cannot use /dev/null/home as the registry home: "),
    (["health", "--db", "postgresql+psycopg://registry:s3cret@127.0.0.1:1/registry"], 1,
     "cannot be used: "),
]


@pytest.mark.parametrize(("argv", "code", "said"), CASES, ids=lambda v: str(v)[:40])
def test_bad_input_is_one_line_and_a_documented_code(
    tmp_path: Path, argv: list[str], code: int, said: str
) -> None:
    """Reproduces: ``init --collections -1`` and an unreachable or malformed ``--db`` died
    with a traceback and exit code 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    home = [] if "--home" in argv else ["--home", str(tmp_path)]
    run = subprocess.run([sys.executable, "-m", "registry", *argv, *home],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                         timeout=120)
    assert run.returncode == code, run.stdout + run.stderr
    assert said in run.stderr
    assert "Traceback" not in run.stderr and "s3cret" not in run.stdout + run.stderr


@pytest.mark.parametrize("planted", ["own-collections", "own-samples", "populated-db"])
def test_the_demo_deletes_no_data_it_did_not_make(tmp_path: Path, planted: str) -> None:
    """Reproduces: ``demo --home H`` (or a demo after ``populate`` on one's own
    collections.yaml) deleted H's collections.yaml, registry.db and samples/ folder."""
    home = tmp_path / "home"
    home.mkdir()
    mine = {"own-collections": home / "collections.yaml",
            "own-samples": home / "samples" / "notes.txt",
            "populated-db": home / "registry.db"}[planted]
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("mine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    run = subprocess.run([sys.executable, "-m", "registry", "demo", "--home", str(home)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                         timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "was not made by a demo or `init`: it may be yours" in run.stderr
    assert mine.read_text() == "mine"


@pytest.mark.parametrize("existing", ["collections.yaml", "samples"])
def test_init_replaces_nothing(tmp_path: Path, existing: str) -> None:
    """Reproduces: a second ``init`` (to migrate the database after an upgrade) died with a
    FileExistsError traceback (samples/ was there); with only a collections.yaml of one's
    own there, it replaced that file."""
    home = tmp_path / "home"
    home.mkdir()
    mine = home / existing if existing == "collections.yaml" else home / existing / "x.txt"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("mine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    run = subprocess.run([sys.executable, "-m", "registry", "init", "--home", str(home)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr  # the schema is still migrated
    assert "no sample data written: " in run.stdout and "already exist" in run.stdout
    assert "Traceback" not in run.stderr and mine.read_text() == "mine"
    assert (home / "registry.db").is_file()
