"""The registry's home (database, checkouts, embedded broker, logs) is private: another
local user can neither read it nor have planted it for us to write into."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def _registry(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run(
        [sys.executable, "-m", "registry", *args], cwd=cwd, env=env, capture_output=True,
        text=True, check=False, timeout=300, preexec_fn=lambda: os.umask(0o022),
    )


def _other_user() -> pwd.struct_passwd:
    """An unprivileged user that is not us (root creates one)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a directory of another user")
    name = "celerysafe-probe"
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        return pwd.getpwnam(name)


def test_everything_init_writes_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """Reproduces: registry.db, collections.yaml and the sample git repositories were
    0644/0755 under umask 022: any local user could read the database."""
    run = _registry("init", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    home = tmp_path / "var" / "registry"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    open_to_others = sorted(
        f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p.relative_to(home)}"
        for p in home.rglob("*") if not p.is_symlink() and p.lstat().st_mode & 0o077
    )
    assert open_to_others == []
    assert (home / "registry.db").is_file()


def test_an_existing_home_open_to_others_is_made_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o755)
    run = _registry("init", "--home", str(home), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert f"{home} was open to others (mode 755): made 0700" in run.stderr


@pytest.mark.parametrize("planted", ["directory", "link"])
def test_a_home_another_user_planted_is_refused_and_left_alone(
    tmp_path: Path, planted: str
) -> None:
    """Reproduces: a home made by another user (or a link to their directory) was used:
    they could read the database and replace or link anything in it."""
    other = _other_user()
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o777)
    os.chmod(theirs, 0o777)
    os.chown(theirs, other.pw_uid, other.pw_gid)
    home = theirs
    if planted == "link":
        home = tmp_path / "home"
        home.symlink_to(theirs)
        os.lchown(home, other.pw_uid, other.pw_gid)
    for verb in ("init", "health"):
        run = _registry(verb, "--home", str(home), cwd=tmp_path)
        assert run.returncode == 2, (verb, run.stdout, run.stderr)
        assert f"registry home {home} belongs to {other.pw_name}" in run.stderr
        assert "Traceback" not in run.stderr
    assert os.listdir(theirs) == []
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o777  # not ours to change
