"""Is the linter of this tree slower than another commit's? Both measured in the same run.

The ``celery_safe`` package of ``--base`` (a git revision of this repository) is written
to a private temporary folder with ``git archive``; each measurement is a fresh process
importing one tree or the other (``PYTHONPATH``), alternated, best of ``--runs``:

(a) ``celery-safe check``'s ``check_main`` in-process (an empty findings cache, written
    as it goes), CPU seconds after imports, and read + ``ast.parse`` of the same files
    in the same process as a yardstick;
(b) the flake8 plugin's ``run()`` over the already parsed trees (no findings cache).

Prints each tree's figures and this tree's time over the base's (1.00: same speed).

    .venv/bin/python benchmarks/lint_versus.py --base main [--runs 5] [--packages celery kombu]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHECK = r"""
import ast, contextlib, io, os, sys, tempfile, time
from pathlib import Path
from importlib import import_module
check_main = import_module(sys.argv[1]).check_main
roots = sys.argv[2:]
files = [p for r in roots for p in sorted(Path(r).rglob("*.py"))]
started = time.process_time()
for p in files:
    ast.parse(p.read_bytes())
parse = time.process_time() - started
with tempfile.TemporaryDirectory() as folder:
    os.environ["CELERY_SAFE_CACHE_DIR"] = str(Path(folder) / "cache")
    started = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        check_main(roots)
    check = time.process_time() - started
print(parse, check)
"""

PLUGIN = r"""
import ast, os, sys, time
from pathlib import Path
from importlib import import_module
os.environ["CELERY_SAFE_CACHE_DIR"] = "off"
Plugin = import_module(sys.argv[1]).Plugin
trees = []
for root in sys.argv[2:]:
    for path in sorted(Path(root).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        trees.append((ast.parse(source), str(path), source.splitlines(keepends=True)))
started = time.process_time()
findings = sum(len(list(Plugin(tree, path, lines).run())) for tree, path, lines in trees)
print(time.process_time() - started, findings)
"""


def front_module(tree: Path, name: str) -> str:
    """``celery_safe.lint.front.X``, or ``celery_safe.lint.X`` in a tree from before the split."""
    if (tree / "celery_safe" / "lint" / "front" / f"{name}.py").is_file():
        return f"celery_safe.lint.front.{name}"
    return f"celery_safe.lint.{name}"


def run(tree: Path, code: str, argv: list[str]) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"the run on {tree} failed:\n{out.stderr}")
    return [float(word) for word in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--packages", nargs="+", default=["celery", "kombu"],
                        help="installed packages to lint (default: celery kombu)")
    options = parser.parse_args()
    site = Path(sysconfig.get_paths()["purelib"])
    roots = [str(site / name) for name in options.packages]
    with tempfile.TemporaryDirectory() as folder:  # mkdtemp: private to this user
        base = Path(folder)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", options.base, "celery_safe"],
            capture_output=True, check=False,
        )
        if archive.returncode != 0:
            raise SystemExit(f"git archive {options.base}: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        trees = {options.base: base, "this tree": REPO}
        best: dict[str, list[float]] = {side: [1e9, 1e9, 1e9] for side in trees}
        findings: dict[str, float] = {}
        for _ in range(options.runs):
            for side, tree in trees.items():
                parse, check = run(tree, CHECK, [front_module(tree, "cli"), *roots])
                plugin, found = run(tree, PLUGIN, [front_module(tree, "flake8_plugin"), *roots])
                now = (parse, check, plugin)
                best[side] = [min(a, b) for a, b in zip(best[side], now, strict=True)]
                findings[side] = found
    print(f"corpus: {', '.join(options.packages)}; best of {options.runs}, CPU seconds")
    for side, (parse, check, plugin) in best.items():
        print(
            f"{side:>12}: read + ast.parse {parse:6.3f} s | check {check:6.3f} s"
            f" ({check / parse:4.2f}x) | flake8 plugin run() {plugin:6.3f} s"
            f" ({findings[side]:.0f} finding(s))"
        )
    ours, theirs = best["this tree"], best[options.base]
    print(
        f"this tree / {options.base}: check {ours[1] / theirs[1]:4.2f}x,"
        f" plugin run() {ours[2] / theirs[2]:4.2f}x"
    )


if __name__ == "__main__":
    main()
