"""Precision and recall of ``celery-safe check`` on real, public Celery projects.

The corpus is described by ``benchmarks/corpus/manifest.toml`` (project, repository, pinned
commit, license, the Celery-relevant files kept) and judged by hand in
``benchmarks/corpus/labels.toml``:

- ``[[expected]]``: a finding the linter must report (a true join in a task, a broken
  canvas ...); reported = true positive, missing = false negative;
- ``[[false_positive]]``: a finding the linter gives (or gave) that must NOT be reported;
- ``[[allowed]]``: a finding that may or may not be reported (counted neither way).

A finding with no label is counted as a false positive and printed as "unjudged": judge
it and add a label. A CSF000/CSF999 finding, a crash of the CLI or unreadable output is a
crash: the file (or project) was not analysed.

The source files are not committed (they belong to their projects): ``--materialise``
writes the pinned files into ``benchmarks/corpus/<project>/`` from local git snapshots of
the repositories (``--mirrors``, default ``$CELERY_SAFE_CORPUS_MIRRORS`` or
``/work/.mirror``, one ``<owner>+<name>/repo`` git directory per repository).

Every catalogued code is selected explicitly (opt-in ones too); the headline figures count
the default codes plus ``planned_codes`` of labels.toml (codes issue 10 adds that the
catalogue may not have yet), opt-in codes are reported per family. A project's time is the
wall time of its one ``celery-safe check`` process, start-up included.

A report, not a gate: exit 0, unless ``--check MIN_PRECISION MIN_RECALL`` is given and a
headline figure is below its minimum, or a project crashed. ``--speed`` times ``check``
against ``fix --check`` in the same run, on the largest project or the one ``--project`` names.

Two kinds of corpora share this code path: ``--corpus tuning`` (the default,
``benchmarks/corpus/``, which the rules were grown on) and the sealed held-out sets,
``--corpus sealed``, ``--corpus sealed2`` and ``--corpus sealed3`` (``benchmarks/sealed/``,
``benchmarks/sealed2/``, ``benchmarks/sealed3/``, each measured once and now spent) and
``--corpus sealed4`` and ``--corpus sealed5`` (``benchmarks/sealed4/``, ``benchmarks/sealed5/``,
spent too) and ``--corpus sealed6`` (``benchmarks/sealed6/``, the next one): other projects,
judged by hand before the linter ever ran on them, never tuned on. A sealed set is measured
once, when the linter work has landed: running the linter on it needs ``--unseal``;
materialising it does not (it runs no linter).

    .venv/bin/python benchmarks/lint_precision.py --materialise
    .venv/bin/python benchmarks/lint_precision.py [--project NAME ...] [--check 0.98 0.97]
    .venv/bin/python benchmarks/lint_precision.py --speed [--runs 3]
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed --materialise
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed --unseal
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed2 --materialise
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed2 --unseal
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed3 --materialise
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed3 --unseal
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed4 --materialise
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed4 --unseal
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed5 --materialise
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed5 --unseal
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed6 --materialise
    .venv/bin/python benchmarks/lint_precision.py --corpus sealed6 --unseal
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "benchmarks" / "corpus"
SEALED = REPO / "benchmarks" / "sealed"
SEALED2 = REPO / "benchmarks" / "sealed2"
SEALED3 = REPO / "benchmarks" / "sealed3"
SEALED4 = REPO / "benchmarks" / "sealed4"
SEALED5 = REPO / "benchmarks" / "sealed5"
SEALED6 = REPO / "benchmarks" / "sealed6"
#: the corpora ``--corpus`` knows by name: the tuning set and the sealed held-out sets (``sealed``
#: to ``sealed5`` are spent: each measured once, on 2026-12-07; ``sealed6`` is the next one)
CORPORA = {
    "tuning": CORPUS,
    "sealed": SEALED,
    "sealed2": SEALED2,
    "sealed3": SEALED3,
    "sealed4": SEALED4,
    "sealed5": SEALED5,
    "sealed6": SEALED6,
}
#: the held-out sets: running the linter on one needs ``--unseal``
SEALED_SETS = (SEALED, SEALED2, SEALED3, SEALED4, SEALED5, SEALED6)
CRASH_CODES = ("CSF000", "CSF999")
#: label kinds and what a finding matching them counts as
KINDS = ("expected", "false_positive", "allowed")


@dataclass(frozen=True)
class Label:
    kind: str
    project: str
    path: str
    line: int
    code: str
    reason: str
    shape: str = ""


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    end_line: int
    code: str
    message: str

    def matches(self, label: Label) -> bool:
        """Same file and code, and the label's line lies within the finding's span."""
        return (
            label.path == self.path
            and label.code == self.code
            and self.line <= label.line <= max(self.line, self.end_line)
        )


@dataclass
class ProjectResult:
    name: str
    files: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    true_positives: list[tuple[Finding, Label]] = field(default_factory=list)
    false_positives: list[tuple[Finding, Label | None]] = field(default_factory=list)
    allowed: list[Finding] = field(default_factory=list)
    false_negatives: list[Label] = field(default_factory=list)


def corpus_path(value: str) -> Path:
    """``--corpus``: a corpus name (``tuning``, ``sealed``, ``sealed2`` ... ``sealed6``) or a
    folder holding a ``manifest.toml`` and a ``labels.toml``."""
    return CORPORA.get(value, Path(value))


def load_manifest(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """The projects of ``manifest.toml``; ``files`` maps each kept path to its line count."""
    data = tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))
    projects: list[dict[str, Any]] = data["project"]
    return projects


def load_labels(corpus: Path = CORPUS) -> tuple[list[Label], list[str]]:
    """All labels, and the codes issue 10 plans that the catalogue may not have yet."""
    data = tomllib.loads((corpus / "labels.toml").read_text(encoding="utf-8"))
    labels = [
        Label(
            kind=kind,
            project=entry["project"],
            path=entry["path"],
            line=int(entry["line"]),
            code=entry["code"],
            reason=entry["reason"],
            shape=str(entry.get("shape", "")),
        )
        for kind in KINDS
        for entry in data.get(kind, [])
    ]
    return labels, list(data.get("planned_codes", []))


def catalogue_codes() -> dict[str, bool]:
    """Every code ``celery-safe explain --list`` knows -> whether it is on by default."""
    out = _cli("explain", "--list")
    return {
        line.split()[0]: "off by default" not in line
        for line in out.stdout.splitlines()
        if line.startswith("CSF")
    }


def family(code: str) -> str:
    if code.startswith("CSF9"):
        return "opt-in (CSF9xx)"
    return {"CSF1": "joins (CSF1xx)", "CSF2": "canvas (CSF2xx)", "CSF3": "states (CSF3xx)"}.get(
        code[:4], "other"
    )


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "celery_safe.cli", *args]
    env = {**os.environ, "CELERY_SAFE_CACHE_DIR": "off"}  # time the analysis, not the cache
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, env=env)


def _git_dir(mirrors: Path, mirror: str) -> Path:
    """A snapshot is ``<owner>+<name>/repo``: a bare git directory or a work tree's ``.git``."""
    repo = mirrors / mirror / "repo"
    return repo / ".git" if (repo / ".git").is_dir() else repo


def materialise(projects: Iterable[dict[str, Any]], mirrors: Path, corpus: Path) -> None:
    """Write each project's pinned files (and license) from its local git snapshot."""
    for project in projects:
        git_dir = _git_dir(mirrors, project["mirror"])
        if not git_dir.is_dir():
            raise SystemExit(f"no snapshot of {project['repository']} at {git_dir}")
        files: dict[str, int] = project["files"]
        for name in (project["license_file"], *files):
            shown = subprocess.run(
                ["git", "--git-dir", str(git_dir), "show", f"{project['commit']}:{name}"],
                capture_output=True,
                check=False,
            )
            if shown.returncode:
                why = shown.stderr.decode(errors="replace").strip()
                raise SystemExit(
                    f"{project['name']}: cannot read {name} at {project['commit']} from the "
                    f"snapshot {git_dir} (a full history is needed for an old pin): {why}"
                )
            blob = shown.stdout
            if name in files and len(blob.splitlines()) != files[name]:
                raise SystemExit(f"{project['name']}/{name}: not the pinned file (line count)")
            target = corpus / project["name"] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
        print(f"{project['name']}: {len(files)} files and the license from {project['commit']}")


def run_project(
    name: str, codes: Sequence[str], labels: Sequence[Label], corpus: Path
) -> ProjectResult:
    result = ProjectResult(name)
    folder = corpus / name
    result.files = sum(1 for _ in folder.rglob("*.py"))
    prefix = folder.relative_to(REPO).as_posix() + "/" if folder.is_relative_to(REPO) else ""
    started = time.perf_counter()
    out = _cli("check", "--format", "json", "--select", ",".join(codes), str(folder))
    result.seconds = time.perf_counter() - started
    if out.returncode not in (0, 1):
        result.crashes.append(f"exit {out.returncode}: {out.stderr.strip()[-500:]}")
        return result
    try:
        raw = json.loads(out.stdout)
    except json.JSONDecodeError as exc:
        result.crashes.append(f"unreadable output ({exc}): {out.stdout[:200]!r}")
        return result
    for item in raw:
        path = Path(item["path"]).as_posix()
        path = path.removeprefix(prefix).removeprefix(folder.as_posix() + "/")
        finding = Finding(
            path, item["line"], item.get("end_line") or item["line"], item["code"], item["message"]
        )
        if finding.code in CRASH_CODES:
            result.crashes.append(f"{path}:{finding.line}: {finding.message}")
        else:
            result.findings.append(finding)
    judge(result, [label for label in labels if label.project == name])
    return result


def judge(result: ProjectResult, labels: Sequence[Label]) -> None:
    matched: set[Label] = set()
    for finding in result.findings:
        label = next((lb for lb in labels if finding.matches(lb)), None)
        if label is None:
            result.false_positives.append((finding, None))
            continue
        matched.add(label)
        if label.kind == "expected":
            result.true_positives.append((finding, label))
        elif label.kind == "false_positive":
            result.false_positives.append((finding, label))
        else:
            result.allowed.append(finding)
    result.false_negatives = [lb for lb in labels if lb.kind == "expected" and lb not in matched]


def _in_family(name: str, code: str) -> bool:
    return family(code) == name


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def figures(results: Sequence[ProjectResult], keep: Callable[[str], bool]) -> tuple[int, int, int]:
    """(TP, FP, FN) over ``results``, counting only codes ``keep`` accepts."""
    tp = sum(1 for r in results for f, _ in r.true_positives if keep(f.code))
    fp = sum(1 for r in results for f, _ in r.false_positives if keep(f.code))
    fn = sum(1 for r in results for lb in r.false_negatives if keep(lb.code))
    return tp, fp, fn


def _row(name: object, files: int, counts: Sequence[int], seconds: float) -> str:
    findings, tp, fp, fn, crashes = counts
    numbers = f"{files:>5} {findings:>8} {tp:>4} {fp:>4} {fn:>4} {crashes:>7}"
    return f"{name!s:<18} {numbers} {seconds:>6.2f}s"


def _counts(r: ProjectResult) -> list[int]:
    lists: Sequence[Sequence[object]] = (
        r.findings,
        r.true_positives,
        r.false_positives,
        r.false_negatives,
        r.crashes,
    )
    return [len(items) for items in lists]


def _figure(title: str, counts: tuple[int, int, int]) -> tuple[float, float]:
    tp, fp, fn = counts
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    print(
        f"{title:<20} precision {tp}/{tp + fp} = {precision:.3f}, "
        f"recall {tp}/{tp + fn} = {recall:.3f}"
    )
    return precision, recall


def report(results: Sequence[ProjectResult], opt_in: set[str]) -> tuple[float, float]:
    """Print the table, the figures and every FP/FN; return (precision, recall) of the
    default codes (opt-in ones excluded; planned codes not yet catalogued included)."""
    header = f"{'project':<18} {'files':>5} {'findings':>8} {'TP':>4} {'FP':>4} {'FN':>4} "
    header += f"{'crashes':>7} {'time':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(_row(r.name, r.files, _counts(r), r.seconds))
    print("-" * len(header))
    totals = [sum(column) for column in zip(*(_counts(r) for r in results), strict=True)]
    files, seconds = sum(r.files for r in results), sum(r.seconds for r in results)
    print(_row("total", files, totals, seconds))
    print()

    def not_opt_in(code: str) -> bool:
        return code not in opt_in

    precision, recall = _figure("default codes:", figures(results, not_opt_in))
    codes = sorted(
        {f.code for r in results for f in r.findings}
        | {lb.code for r in results for lb in r.false_negatives}
    )
    for name in sorted({family(code) for code in codes}):
        _figure(f"  {name}", figures(results, partial(_in_family, name)))
    for code in codes:
        tp, fp, fn = figures(results, code.__eq__)
        print(f"    {code}: TP {tp}, FP {fp}, FN {fn}")
    allowed = sum(len(r.allowed) for r in results)
    if allowed:
        print(f"  ({allowed} finding(s) labelled 'allowed': counted neither way)")
    for r in results:
        for finding, label in r.false_positives:
            why = f"[{label.shape}] {label.reason}" if label else "UNJUDGED: add a label"
            print(f"FP {r.name}/{finding.path}:{finding.line} {finding.code}: {why}")
            print(f"     {finding.message}")
        for label in r.false_negatives:
            where = f"{r.name}/{label.path}:{label.line}"
            print(f"FN {where} {label.code}: [{label.shape}] {label.reason}")
        for crash in r.crashes:
            print(f"CRASH {r.name}: {crash}")
    return precision, recall


def _best(command: Sequence[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        out = _cli(*command)
        times.append(time.perf_counter() - started)
        if out.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} exited {out.returncode}: {out.stderr[-300:]}")
    return min(times)


def speed(project: str, runs: int, corpus: Path) -> None:
    """Best-of-N wall time of ``check`` and ``fix --check`` on one project, and of both on
    an empty folder (process start-up and imports), so the work itself can be compared."""
    # the same files and codes on both sides (fix acts on the default codes)
    folder = str(corpus / project)
    with tempfile.TemporaryDirectory() as empty:
        check_start = _best(["check", empty], runs)
        fix_start = _best(["fix", "--check", "-q", empty], runs)
    check = _best(["check", folder], runs)
    fix = _best(["fix", "--check", "-q", folder], runs)
    files = sum(1 for _ in (corpus / project).rglob("*.py"))
    print(f"{project} ({files} files), best of {runs}:")
    print(f"  whole process: check {check:.2f} s, fix --check {fix:.2f} s: {fix / check:.2f}x")
    work_check, work_fix = check - check_start, fix - fix_start
    print(
        f"  minus start-up ({check_start:.2f} s / {fix_start:.2f} s): check {work_check:.2f} s, "
        f"fix --check {work_fix:.2f} s: {work_fix / max(work_check, 1e-3):.2f}x"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--project", action="append", default=[], help="run only this project (repeatable)"
    )
    parser.add_argument(
        "--corpus",
        type=corpus_path,
        default=CORPUS,
        metavar="tuning|sealed|sealed2|...|sealed6|DIR",
        help="the tuning set (default), a sealed held-out set, or a folder of the same form",
    )
    parser.add_argument(
        "--unseal",
        action="store_true",
        help="run the linter on a sealed set (done once, when the linter work has landed)",
    )
    parser.add_argument(
        "--materialise", action="store_true", help="write the pinned files, then exit"
    )
    parser.add_argument(
        "--mirrors",
        type=Path,
        default=Path(os.environ.get("CELERY_SAFE_CORPUS_MIRRORS", "/work/.mirror")),
    )
    parser.add_argument("--check", nargs=2, type=float, metavar=("MIN_PRECISION", "MIN_RECALL"))
    parser.add_argument(
        "--speed", action="store_true", help="time check vs fix --check on the largest project"
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    projects = [
        p for p in load_manifest(args.corpus) if not args.project or p["name"] in args.project
    ]
    if args.project and len(projects) != len(set(args.project)):
        parser.error(f"unknown project in {args.project}")
    if args.materialise:
        materialise(projects, args.mirrors, args.corpus)
        return 0
    if args.corpus.resolve() in {s.resolve() for s in SEALED_SETS} and not args.unseal:
        parser.error(
            "the sealed set is measured once, when the linter work has landed; "
            "nobody tunes on it: add --unseal to measure it"
        )
    missing = [p["name"] for p in projects if not (args.corpus / p["name"]).is_dir()]
    if missing:
        print(f"not materialised: {', '.join(missing)} (run with --materialise)", file=sys.stderr)
        return 2
    catalogue = catalogue_codes()
    codes = list(catalogue)
    opt_in = {code for code, default in catalogue.items() if not default}
    if args.speed:
        largest = max(projects, key=lambda p: len(p["files"]))
        speed(largest["name"], args.runs, args.corpus)
        return 0
    labels, planned = load_labels(args.corpus)
    print(f"corpus: {args.corpus} ({len(projects)} projects)")
    results = [run_project(p["name"], codes, labels, args.corpus) for p in projects]
    precision, recall = report(results, opt_in)
    now_catalogued = sorted(set(planned) & set(codes))
    if now_catalogued:
        print(
            f"note: planned code(s) {', '.join(now_catalogued)} are in the catalogue now; "
            "drop them from planned_codes in labels.toml"
        )
    if args.check:
        crashed = any(r.crashes for r in results)
        low = precision < args.check[0] or recall < args.check[1]
        return 1 if crashed or low else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
