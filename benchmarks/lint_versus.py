"""Is the linter of this tree slower than another commit's? Both measured in the same run.

The ``celery_safe`` package of ``--base`` (a git revision of this repository) is written
to a private temporary folder with ``git archive``; each measurement is a fresh process
importing one tree or the other (``PYTHONPATH``), alternated, best of ``--runs``:

(a) ``celery-safe check``'s ``check_main`` in-process (an empty findings cache, written
    as it goes), CPU seconds after imports, and read + ``ast.parse`` of the same files
    in the same process as a yardstick;
(b) the flake8 plugin's ``run()`` over the already parsed trees (no findings cache);
(c) with ``--flake8``: whole flake8 runs, ``-j 1`` then flake8's default jobs, CPU of all
    its processes, each round three in turn: without the plugin, with the base's, with
    this tree's (an empty findings cache each, every module from bytecode as after
    ``pip install``: a private ``PYTHONPYCACHEPREFIX`` filled by an untimed run of each);
    each round's overhead against its own baseline and this tree's CPU over the base's,
    min / median;
(d) with ``--callgrind``: instructions (``valgrind --tool=callgrind``, repeatable on a
    busy machine, unlike time) of one process that parses the files as flake8 does and
    hands each tree to the plugin's ``run()`` as flake8 ``-j 1`` does (an empty findings
    cache, its writes included), minus the same process that only parses: the plugin's
    instructions, per tree, and this tree's over the base's;
(e) with ``--callgrind-flake8``: instructions of whole ``flake8 -j 1`` runs under callgrind:
    without the plugin, then with each tree's plugin on an empty findings cache (cold) and
    again on the cache that run left (warm: what a second run of flake8, or a run after
    ``check``, costs); each side's overhead over flake8 without the plugin.

Prints each tree's figures and this tree's time over the base's (1.00: same speed).

    .venv/bin/python benchmarks/lint_versus.py --base main [--runs 5] [--packages celery kombu]
        [--flake8] [--callgrind] [--callgrind-flake8]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
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


#: One flake8 run: ``without`` takes our plugin out of flake8's discovery; otherwise the
#: entry point imports ``celery_safe`` from the tree on ``PYTHONPATH``.
FLAKE8 = """\
import os, sys, time
from flake8.plugins import finder
if sys.argv[1] == "without":
    found = finder.find_plugins
    finder.find_plugins = lambda cfg, opts: [
        p for p in found(cfg, opts) if p.package != "celery-safe"
    ]
from flake8.main.cli import main
started = time.perf_counter()
main(["--exit-zero", "--output-file", os.devnull, *sys.argv[2:]])
print(time.perf_counter() - started)
"""


def flake8_cpu(tree: Path, mode: str, roots: list[str], pycache: str) -> float:
    """CPU seconds of one flake8 run (its workers included; an empty findings cache,
    bytecode in ``pycache``), the plugin imported from ``tree``; ``roots`` may start with
    flake8's options."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": pycache,
               "CELERY_SAFE_CACHE_DIR": str(Path(folder) / "cache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([sys.executable, "-c", FLAKE8, mode, *roots],
                             capture_output=True, text=True, env=env, cwd=folder, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"flake8 with {tree} failed:\n{out.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def flake8_versus(trees: dict[str, Path], roots: list[str], runs: int) -> None:
    """(c): flake8 without the plugin, with each tree's, per round; overheads and ratio."""
    base, ours = trees
    sides = {"without": (REPO, "without"), base: (trees[base], "with"),
             ours: (trees[ours], "with")}
    with tempfile.TemporaryDirectory() as pycache:  # mkdtemp: 0700
        for tree, mode in sides.values():  # untimed: fills the bytecode folder
            flake8_cpu(tree, mode, roots, pycache)
        for jobs, name in ((["-j", "1"], "-j 1"), ([], "default -j")):
            cpu: dict[str, list[float]] = {side: [] for side in sides}
            for _ in range(runs):
                for side, (tree, mode) in sides.items():
                    cpu[side].append(flake8_cpu(tree, mode, [*jobs, *roots], pycache))
            print(f"(c) flake8 {name}, CPU, cold cache, without the plugin"
                  f" {min(cpu['without']):6.2f} s")
            for side in (base, ours):
                ratios = [w / wo - 1 for w, wo in zip(cpu[side], cpu["without"], strict=True)]
                print(f"{side:>12}: overhead min / median of {runs} rounds:"
                      f" {100 * min(ratios):+5.1f} / {100 * statistics.median(ratios):+5.1f} %")
            ratios = [o / b for o, b in zip(cpu[ours], cpu[base], strict=True)]
            print(f"this tree / {base}, {name}: flake8 CPU {min(ratios):5.3f}x /"
                  f" {statistics.median(ratios):5.3f}x (min / median of the rounds)")


#: (d): parse every file as flake8 does; with ``run``, hand each to the plugin as ``-j 1``
#: does (``parse_options`` first, the process's exit writes the findings cache).
PLUGIN_RUN = r"""
import argparse, ast, sys
from pathlib import Path
from importlib import import_module
Plugin = import_module(sys.argv[2]).Plugin
Plugin.parse_options(argparse.Namespace())
for root in sys.argv[3:]:
    for path in sorted(Path(root).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines(keepends=True)
        tree = ast.parse(source)
        if sys.argv[1] == "run":
            list(Plugin(tree, str(path), lines).run())
"""


def instructions(tree: Path, mode: str, roots: list[str], pycache: str) -> int:
    """Instructions (callgrind) of one ``PLUGIN_RUN`` process with ``tree``'s plugin."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": pycache,
               "CELERY_SAFE_CACHE_DIR": str(Path(folder) / "cache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        argv = [sys.executable, "-c", PLUGIN_RUN, mode, front_module(tree, "flake8_plugin"),
                *roots]  # fmt: skip
        subprocess.run(argv, env={**env, "CELERY_SAFE_CACHE_DIR": str(Path(folder) / "warm")},
                       capture_output=True, check=True)  # untimed: fills the bytecode folder
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
            capture_output=True, text=True, env=env, cwd=folder, check=False,
        )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"callgrind with {tree} failed:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def plugin_instructions(trees: dict[str, Path], roots: list[str]) -> None:
    """(d): the plugin's instructions (parse and run, minus parse only), per tree."""
    found: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as pycache:
        for side, tree in trees.items():
            run, parse = (instructions(tree, mode, roots, pycache) for mode in ("run", "parse"))
            found[side] = run - parse
            print(f"(d) {side:>10}: parse + plugin {run:,} instructions, parse only {parse:,}:"
                  f" the plugin's {run - parse:,}")
    base, ours = found.values()
    print(f"this tree / {next(iter(trees))}: plugin instructions {ours / base:5.3f}x")


def flake8_instructions(tree: Path, mode: str, roots: list[str], pycache: str,
                        cache: Path) -> int:
    """Instructions (callgrind, every process) of one ``flake8 -j 1`` run, the plugin
    imported from ``tree`` (``mode`` ``without``: no plugin), its findings cache in ``cache``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": pycache,
           "CELERY_SAFE_CACHE_DIR": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    argv = [sys.executable, "-c", FLAKE8, mode, "-j", "1", *roots]
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        capture_output=True, text=True, env=env, cwd=cache.parent, check=False,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"callgrind of flake8 with {tree} failed:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def flake8_callgrind(trees: dict[str, Path], roots: list[str]) -> None:
    """(e): flake8 -j 1's instructions without the plugin, and with each tree's, cold and
    warm."""
    with tempfile.TemporaryDirectory() as pycache, tempfile.TemporaryDirectory() as folder:
        for side, tree in {"without": REPO, **trees}.items():  # untimed: fills the bytecode
            mode = "without" if side == "without" else "with"
            flake8_cpu(tree, mode, ["-j", "1", *roots], pycache)
        without = flake8_instructions(REPO, "without", roots, pycache, Path(folder) / "none")
        print(f"(e) flake8 -j 1 without the plugin: {without:,} instructions")
        for number, (side, tree) in enumerate(trees.items()):
            cache = Path(folder) / f"cache{number}"
            for state in ("cold", "warm"):  # warm: the cache the cold run left
                found = flake8_instructions(tree, "with", roots, pycache, cache)
                print(f"{side:>12} {state}: {found:,} instructions,"
                      f" {100 * (found / without - 1):+.2f} % over flake8 without the plugin")


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


def archived(revision: str, folder: Path) -> Path:
    """``revision``'s ``celery_safe`` package, written under ``folder`` (``git archive``)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "celery_safe"],
        capture_output=True, check=False,
    )  # fmt: skip
    if archive.returncode != 0:
        raise SystemExit(f"git archive {revision}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--runs", type=int, default=5,
                        help="timed rounds of (a), (b), (c); 0: none (only --callgrind)")
    parser.add_argument("--packages", nargs="+", default=["celery", "kombu"],
                        help="installed packages to lint (default: celery kombu)")
    parser.add_argument("--flake8", action="store_true",
                        help="also (c): whole flake8 runs with each tree's plugin")
    parser.add_argument("--callgrind", action="store_true",
                        help="also (d): the plugin's instructions under valgrind, per tree")
    parser.add_argument("--callgrind-flake8", action="store_true",
                        help="also (e): whole flake8 -j 1 runs under valgrind, cold and warm")
    options = parser.parse_args()
    site = Path(sysconfig.get_paths()["purelib"])
    roots = [str(site / name) for name in options.packages]
    with tempfile.TemporaryDirectory() as folder:  # mkdtemp: private to this user
        base = archived(options.base, Path(folder))
        trees = {options.base: base, "this tree": REPO}
        if options.runs > 0:
            timed(trees, roots, options)
        if options.callgrind:
            plugin_instructions(trees, roots)
        if options.callgrind_flake8:
            flake8_callgrind(trees, roots)


def timed(trees: dict[str, Path], roots: list[str], options: argparse.Namespace) -> None:
    """(a), (b) and, with ``--flake8``, (c)."""
    base = next(iter(trees))
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
    ours, theirs = best["this tree"], best[base]
    print(
        f"this tree / {base}: check {ours[1] / theirs[1]:4.2f}x,"
        f" plugin run() {ours[2] / theirs[2]:4.2f}x"
    )
    if options.flake8:
        flake8_versus(trees, roots, options.runs)


if __name__ == "__main__":
    main()
