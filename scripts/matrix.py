"""Run the core, workflow and embedded suites on every supported Celery minor.

    python scripts/matrix.py                     # Celery 5.3 .. 5.7 on this Python
    python scripts/matrix.py --celery 5.3 5.5     # some of them
    python scripts/matrix.py --python 3.10 3.13 --celery 5.7

One virtual environment per (Celery, Python) pair under ``var/matrix/`` (gitignored),
kept between runs and rebuilt when its pins or ``pyproject.toml`` change. Each pins the
latest patch release of its Celery minor and the kombu of the same minor, installs this
checkout in editable mode with the ``test`` extra, and runs the suites with real workers.
The declared range in ``pyproject.toml`` must be exactly the minors listed here: a test
keeps the two equal. Exit status: 0 only when every environment passed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Celery minor -> (latest Celery patch, kombu of the same minor). The lowest is the
#: declared floor, the highest the latest release: update both ends together with
#: ``dependencies`` in pyproject.toml.
CELERY_RELEASES: dict[str, tuple[str, str]] = {
    "5.3": ("5.3.6", "5.3.7"),
    "5.4": ("5.4.0", "5.4.2"),
    "5.5": ("5.5.3", "5.5.4"),
    "5.6": ("5.6.3", "5.6.2"),
    "5.7": ("5.7.0", "5.7.0"),
}

SUITES = ("tests/core", "tests/workflows", "tests/embedded")


def _stamp(celery: str, kombu: str, python: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    return f"celery=={celery} kombu=={kombu} python={python} pyproject={digest}\n"


def _interpreter(python: str | None) -> str:
    """The interpreter for ``python`` ("3.12"): on PATH, else an installed pyenv version
    (pyenv's shims answer only for versions it has activated)."""
    if python is None:
        return sys.executable
    candidates = [shutil.which(f"python{python}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        (str(path) for path in pyenv_root.glob(f"versions/{python}.*/bin/python{python}")),
        key=lambda path: [int(part) for part in path.split("/versions/")[1].split("/")[0]
                          .split(".") if part.isdigit()],
        reverse=True,
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True)
        if probe.returncode == 0:
            return candidate
    raise SystemExit(f"matrix: no working python{python} (on PATH or under {pyenv_root})")


def ensure_venv(minor: str, python: str | None, root: Path) -> Path:
    """The venv for Celery ``minor`` on ``python``, created or refreshed as needed."""
    celery, kombu = CELERY_RELEASES[minor]
    interpreter = _interpreter(python)
    version = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    venv = root / f"celery-{minor}-py{version}"
    stamp = _stamp(celery, kombu, version)
    stamp_file = venv / ".matrix-stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "-e", f"{ROOT}[test]", f"celery=={celery}", f"kombu=={kombu}"], check=True
    )
    stamp_file.write_text(stamp)
    return venv


def run_suites(venv: Path, extra: list[str]) -> int:
    """Run the suites in ``venv``; pytest's exit status."""
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    command = [str(venv / "bin" / "python"), "-m", "pytest", "-q", *SUITES, *extra]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--celery", nargs="+", choices=sorted(CELERY_RELEASES),
                        default=sorted(CELERY_RELEASES), help="Celery minors (default: all)")
    parser.add_argument("--python", nargs="+", default=[None],
                        help="Python versions, e.g. 3.10 (default: the one running this)")
    parser.add_argument("--venvs", type=Path, default=ROOT / "var" / "matrix")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    options = parser.parse_args(argv)

    rows: list[tuple[str, str, str, float]] = []
    for python in options.python:
        for minor in options.celery:
            started = time.monotonic()
            label = f"celery {CELERY_RELEASES[minor][0]} / python {python or 'current'}"
            print(f"== matrix: {label}", flush=True)
            venv = ensure_venv(minor, python, options.venvs)
            status = run_suites(venv, options.pytest_args)
            rows.append((minor, python or "current", "passed" if status == 0 else
                         f"FAILED ({status})", time.monotonic() - started))
    print("== matrix summary")
    for minor, python, outcome, seconds in rows:
        celery, kombu = CELERY_RELEASES[minor]
        print(f"celery {celery:6} kombu {kombu:6} python {python:8} {outcome:12} {seconds:6.0f} s")
    return 0 if all(row[2] == "passed" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
