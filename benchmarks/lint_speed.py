"""How much the linter costs, on the installed celery + kombu sources (~73k lines).

(a) flake8's default checks with our plugin registered vs the same run with the plugin
    removed from flake8's plugin discovery (everything else identical), in N rounds
    that alternate the two; each round's ratio is against its own baseline, and the
    min and median of the rounds are printed. CPU is summed over flake8 and its worker
    processes. Twice: ``-j 1`` (one process), and flake8's default ``--jobs`` (``auto``:
    one worker per core, as ``flake8 src/`` runs in CI). The plugin runs cold (an
    empty findings cache, as on a fresh CI machine: it analyses every file and writes
    its entries) and warm (the entries of the run before). Target: the cold overhead
    <= 5 % of CPU. Plus the plugin's own time measured directly over the same trees.
    Every module runs from bytecode, as after ``pip install`` (pip compiles it): the
    processes of (a) share a private ``PYTHONPYCACHEPREFIX``, filled by one untimed run of
    each side first, so ``PYTHONDONTWRITEBYTECODE=1`` with an editable checkout (where
    each flake8 process would compile celery_safe from source, flake8's own modules never)
    does not count. Printed beside it, not in the ratio: the CPU a process pays to import
    the plugin and the engine it runs, from bytecode and compiled from source.
(b) ``celery-safe check`` (read, pre-filter, parse, analyse, noqa, report; an empty
    findings cache, so entries are written too) vs just reading and ``ast.parse``-ing
    the same files: per round, one fresh process that has imported the CLI module
    parses them all, then runs ``check`` once, as a user's run does (the same code as
    ``lint_versus.py``); CPU seconds, each round's ratio, min and median. Target: <= 2x.
    Printed beside it, not in the ratio: what a ``check`` process pays once to import
    the CLI (CPU of ``import`` vs ``pass``).
(c) One large module (5 MB, generated, a join in every task): ``check`` vs reading
    and ``ast.parse``-ing it, and the peak memory of each (the issue measured 31 s
    and 1.17 GB for ``check``).

(d) A second ``celery-safe check`` of an unchanged project vs the first (an empty
    cache), each a process of its own, start-up included: celery + kombu + django,
    1,127 files. Target: <= 0.25x. With ``--base REV``, REV's ``celery_safe`` (``git
    archive``) is measured too, the two alternated per round.

    .venv/bin/python benchmarks/lint_speed.py [--runs 5] [--packages celery kombu]
        [--project celery kombu django] [--large-size 5000000] [--parts abcd] [--base main]
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fix_speed import generated_module  # same folder: run as a script
from lint_versus import CHECK, FLAKE8, REPO, archived
from lint_versus import run as run_tree

from celery_safe.lint.front.flake8_plugin import Plugin

PACKAGES = ("celery", "kombu")



def corpus(packages: list[str]) -> list[Path]:
    site = Path(sysconfig.get_paths()["purelib"])
    return [path for name in packages for path in sorted((site / name).rglob("*.py"))]


#: Environment overrides for the measured processes (part (a): bytecode, see above).
BYTECODE: dict[str, str | None] = {}


def process_seconds(
    argv: list[str], cache: str = "off", extra: dict[str, str] | None = None
) -> tuple[float, float]:
    """(wall, CPU) seconds of one process; CPU time resists other load on the box."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {**os.environ, "CELERY_SAFE_CACHE_DIR": cache, **(extra or {})}
    for name, value in BYTECODE.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert out.returncode in (0, 1), out.stderr
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def flake8_seconds(mode: str, roots: list[str], cache: str = "off") -> tuple[float, float]:
    """(wall, CPU) seconds of one flake8 process (the findings cache in ``cache``)."""
    return process_seconds([sys.executable, "-c", FLAKE8, mode, *roots], cache)


@contextmanager
def bytecode() -> Iterator[None]:
    """Every measured process runs from bytecode kept in a private folder (removed after)."""
    with tempfile.TemporaryDirectory() as folder:  # mkdtemp: 0700
        BYTECODE.update(PYTHONPYCACHEPREFIX=folder, PYTHONDONTWRITEBYTECODE=None)
        try:
            yield
        finally:
            BYTECODE.clear()


#: What a flake8 process pays to import our plugin (its engine and rules with it).
IMPORT = """\
import sys
import flake8.main.cli
if sys.argv[1] == "plugin":
    import celery_safe.lint.front.flake8_plugin
"""


def import_seconds(runs: int) -> str:
    """The plugin's import over flake8's own, min of the runs (at least 3): from
    the bytecode folder, then with no bytecode anywhere (an empty prefix, nothing written)."""
    found = []
    for compiled in (True, False):
        with tempfile.TemporaryDirectory() as empty:
            if not compiled:
                BYTECODE.update(PYTHONPYCACHEPREFIX=empty, PYTHONDONTWRITEBYTECODE="1")
            cpu: dict[str, list[float]] = {"flake8": [], "plugin": []}
            for _ in range(max(runs, 3)):
                for side, seconds in cpu.items():
                    seconds.append(process_seconds([sys.executable, "-c", IMPORT, side])[1])
            found.append(min(cpu["plugin"]) - min(cpu["flake8"]))
    return f"{found[0]:5.3f} s CPU from bytecode, {found[1]:5.3f} s compiled from source"


def flake8_overhead(roots: list[str], runs: int) -> list[tuple[float, float]]:
    """(a): per round, flake8 without the plugin, with it cold, with it warm; for ``-j 1``
    and flake8's default jobs. Returns the ``-j 1`` baselines (wall, CPU)."""
    single: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as folder:  # untimed: fills the bytecode folder
        flake8_seconds("without", roots)
        flake8_seconds("with", roots, str(Path(folder) / "cache"))
    for jobs, name in ((["-j", "1"], "-j 1"), ([], f"default -j (auto, {os.cpu_count()} cores)")):
        without, cold, warm = [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as folder:
                cache = str(Path(folder) / "cache")
                without.append(flake8_seconds("without", [*jobs, *roots]))
                cold.append(flake8_seconds("with", [*jobs, *roots], cache))
                warm.append(flake8_seconds("with", [*jobs, *roots], cache))
        single = single or without
        for label, pick in (("CPU", 1), ("wall", 0)):
            base = min(t[pick] for t in without)
            print(
                f"(a) flake8 {label:>4}, {name}: without plugin {base:6.2f} s"
                f" | overhead min / median of {runs} rounds:"
                f" cold {_overhead(cold, without, pick)}, warm {_overhead(warm, without, pick)};"
                " target cold <= 5 %"
            )
    return single


def _overhead(ours: list[tuple[float, float]], base: list[tuple[float, float]], pick: int) -> str:
    """Each round's ratio to the baseline of the same round: min / median, in %."""
    ratios = [mine[pick] / theirs[pick] - 1 for mine, theirs in zip(ours, base, strict=True)]
    return f"{100 * min(ratios):+5.1f} / {100 * statistics.median(ratios):+5.1f} %"


def plugin_seconds(files: list[Path]) -> tuple[float, int]:
    """CPU seconds of the plugin's ``run()`` over each tree, without the findings cache
    (all analysed)."""
    os.environ["CELERY_SAFE_CACHE_DIR"] = "off"
    total, findings = 0.0, 0
    for path in files:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        lines = source.splitlines(keepends=True)
        started = time.process_time()
        findings += len(list(Plugin(tree, str(path), lines).run()))
        total += time.process_time() - started
    del os.environ["CELERY_SAFE_CACHE_DIR"]
    return total, findings


def check_versus_parse(roots: list[str], runs: int) -> None:
    """(b): per round, a fresh process that has imported the CLI module reads and parses
    the files, then runs ``check`` once, as a user's run does (CPU seconds of each)."""
    rounds = [run_tree(REPO, CHECK, ["celery_safe.lint.front.cli", *roots]) for _ in range(runs)]
    parses = [parse for parse, _ in rounds]
    checks = [check for _, check in rounds]
    ratios = [check / parse for parse, check in rounds]
    print(
        f"(b) CPU, a process per round, imports done: read + ast.parse {min(parses):6.3f} s"
        f" | celery-safe check {min(checks):6.3f} s | ratio min / median of {runs} rounds:"
        f" {min(ratios):4.2f}x / {statistics.median(ratios):4.2f}x; target <= 2x"
    )
    startup = [
        process_seconds([sys.executable, "-c", code])[1]
        for _ in range(runs)
        for code in ("pass", "import celery_safe.lint.front.cli")
    ]
    imports = min(startup[1::2]) - min(startup[0::2])
    print(f"    not in the ratio: a check process imports its CLI once, {imports:5.2f} s CPU")


def second_check(roots: list[str], runs: int, base: str | None = None) -> None:
    """(d): ``check`` twice over an unchanged project, the second from the cache; with
    ``base`` (a git revision), that revision's ``celery_safe`` too, alternated per round."""
    argv = [sys.executable, "-m", "celery_safe.cli", "check", *roots, "--output", os.devnull]
    files = sum(1 for root in roots for _ in Path(root).rglob("*.py"))
    with tempfile.TemporaryDirectory() as trees_folder:
        trees = {"this tree": REPO}
        if base is not None:
            trees = {base: archived(base, Path(trees_folder)), **trees}
        times: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {
            side: ([], []) for side in trees
        }
        for _ in range(runs):
            for side, tree in trees.items():
                firsts, seconds = times[side]
                with tempfile.TemporaryDirectory() as folder:
                    cache = str(Path(folder) / "cache")
                    env = {"PYTHONPATH": str(tree)}
                    firsts.append(process_seconds(argv, cache, env))
                    seconds.append(process_seconds(argv, cache, env))
    for side, (firsts, seconds) in times.items():
        for label, pick in (("CPU", 1), ("wall", 0)):
            first = min(t[pick] for t in firsts)
            second = min(t[pick] for t in seconds)
            ratios = [b[pick] / a[pick] for a, b in zip(firsts, seconds, strict=True)]
            print(
                f"(d) {side}: check {files} files {label:>4}: first (empty cache) {first:6.2f} s"
                f" | second (unchanged) {second:6.2f} s | ratio of mins {second / first:4.2f}x,"
                f" per round min / median {min(ratios):4.2f}x / {statistics.median(ratios):4.2f}x;"
                " target <= 0.25x"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--packages", nargs="+", default=list(PACKAGES),
                        help="installed packages to lint (default: celery kombu)")
    parser.add_argument("--project", nargs="+", default=["celery", "kombu", "django"],
                        help="installed packages checked twice for (d)")
    parser.add_argument("--large-size", type=int, default=5_000_000,
                        help="bytes of the generated module of (c)")
    parser.add_argument("--parts", default="abcd", help="which measurements (default: abcd)")
    parser.add_argument("--base", default=None,
                        help="(d): also measure this git revision's celery_safe, alternated")
    options = parser.parse_args()
    runs, packages = options.runs, options.packages
    files = corpus(packages)
    site = Path(sysconfig.get_paths()["purelib"])
    roots = [str(site / name) for name in packages]
    lines = sum(p.read_text(encoding="utf-8").count("\n") for p in files)
    print(f"corpus: {', '.join(packages)} — {len(files)} files, {lines} lines, best of {runs}")

    parts = options.parts
    if "a" in parts:
        with bytecode():
            without = flake8_overhead(roots, runs)
            imports = import_seconds(runs)
        direct, findings = plugin_seconds(files)
        base = min(t[1] for t in without)
        print(
            f"    plugin run() alone {direct:6.3f} s = {100 * direct / base:4.1f} % of flake8's"
            f" CPU ({findings} finding(s))"
        )
        print(f"    not in the ratio: a flake8 process imports the plugin and its engine:"
              f" {imports}")
    if "b" in parts:
        check_versus_parse(roots, runs)
    if "c" in parts:
        large_file(min(runs, 2), options.large_size)
    if "d" in parts:
        second_check([str(site / name) for name in options.project], min(runs, 3), options.base)


LARGE = """\
import ast, resource, sys, time
from pathlib import Path
started = time.perf_counter()
if sys.argv[1] == "parse":
    ast.parse(Path(sys.argv[2]).read_bytes())
else:
    from celery_safe.cli import main
    main(["check", sys.argv[2], "--max-file-size", "10000000", "--output", "/dev/null",
          "--no-cache"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(time.perf_counter() - started, peak)
"""


def large_file(runs: int, size: int = 5_000_000) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "large.py"
        target.write_text(generated_module(size))

        def measure(mode: str) -> tuple[float, float]:
            argv = [sys.executable, "-c", LARGE, mode, str(target)]
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            wall, peak = map(float, out.split())
            return wall, peak

        parse = min(measure("parse") for _ in range(runs))
        check = min(measure("check") for _ in range(runs))
    print(
        f"(c) {size / 1e6:g} MB module: read + ast.parse {parse[0]:5.2f} s, {parse[1]:5.0f} MB"
        f" | celery-safe check {check[0]:5.2f} s, {check[1]:5.0f} MB"
        f" | ratio {check[0] / parse[0]:4.2f}x"
    )


if __name__ == "__main__":
    main()
