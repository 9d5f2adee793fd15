"""What a release promises: a hook manifest pre-commit accepts, and a hook that runs."""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sysconfig.get_path("scripts"))


def test_pre_commit_accepts_the_hook_manifest() -> None:
    run = subprocess.run(
        [str(BIN / "pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_each_hook_runs_a_command_this_package_installs(tmp_path: Path) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    (tmp_path / "ok.py").write_text("x = 1\n")
    for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text()):
        command, *args = hook["entry"].split()
        assert command in scripts, hook
        assert hook["language"] == "python"
        # pre-commit appends the staged files to the entry
        run = subprocess.run([str(BIN / command), *args, str(tmp_path / "ok.py")],
                             capture_output=True, text=True, check=False, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr


def test_each_hook_installs_the_lint_extra() -> None:
    """pre-commit installs the package without extras: a hook lists the [lint] extra."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["lint"]
    for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text()):
        assert hook["additional_dependencies"] == extra, hook["id"]
