"""The README as a newcomer uses it: its examples run, and its numbers are the code's.

- The first example is pasted into ``proj.py`` and run the way the README says, with a
  real worker on the embedded default.
- Every ``python`` block of the README runs (Sybil, in order, one namespace per file);
  one that cannot run is preceded by ``<!-- skip: next "why" -->``, and must say why.
- Code ranges (``CSF201`` to ``CSF213``), the workflows README's code table and the legacy
  example's counts are compared with the catalogue and a real ``celery-safe check`` run.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from unittest import SkipTest

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

from celery_safe import catalogue

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: every README a user reads, where ranges of codes appear
READMES = [README, ROOT / "celery_safe" / "workflows" / "README.md",
           ROOT / "celery_safe" / "lint" / "README.md",
           ROOT / "examples" / "registry" / "README.md"]
FIRST_PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_readme_stays_short() -> None:
    assert len(README.read_bytes()) < 30_000  # depth goes in docs pages beside the code


@pytest.mark.worker
def test_the_first_example_runs_as_pasted(tmp_path: Path) -> None:
    first = FIRST_PYTHON.search(README.read_text())
    assert first is not None
    (tmp_path / "proj.py").write_text(first.group(1))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "proj", "worker", "-c", "1", "-l", "warning"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        run = subprocess.run([sys.executable, "proj.py"], cwd=tmp_path, capture_output=True,
                             text=True, check=False, timeout=180)
    finally:
        worker.send_signal(signal.SIGTERM)
        log, _ = worker.communicate(timeout=60)
    assert run.returncode == 0, run.stderr + log
    assert run.stdout == "3\n3\n"


def test_every_python_block_runs_or_says_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the first example's var/proj lands here
    document = Sybil(parsers=[PythonCodeBlockParser(), SkipParser()]).parse(README)
    ran = 0
    for example in document:
        try:
            example.evaluate()
        except SkipTest as skipped:
            assert str(skipped).strip(), f"README.md line {example.line}: a skip says why"
            continue
        ran += "```python" in README.read_text().splitlines()[example.line - 1] or 0
    unexplained = re.findall(r"<!-- skip: next -->", README.read_text())
    assert unexplained == [], "each skipped block says why: <!-- skip: next \"why\" -->"
    assert ran >= 2


def _codes() -> list[int]:
    return sorted(int(code[3:]) for code in catalogue.all_codes())


@pytest.mark.parametrize("path", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_ranges_span_their_whole_family(path: Path) -> None:
    """A range ``CSFaaa`` to ``CSFbbb`` means every code of that hundred: the first and the last."""
    codes = _codes()
    for start, end in re.findall(r"CSF(\d{3})[\u2013-]CSF(\d{3})", path.read_text()):
        family = [c for c in codes if c // 100 == int(start) // 100]
        assert (int(start), int(end)) == (family[0], family[-1]), (
            f"{path.name}: CSF{start} to CSF{end}, but the catalogue's CSF{start[0]}xx codes "
            f"run CSF{family[0]} to CSF{family[-1]}"
        )


def test_workflows_code_table_is_the_catalogue() -> None:
    text = (ROOT / "celery_safe" / "workflows" / "README.md").read_text()
    rows = re.findall(r"^\| (CSF2\d\d) \|.*\| (yes|no)[^|]*\| (yes|no)[^|]*\|$", text, re.MULTILINE)
    entries = catalogue.all_codes()
    assert [code for code, _, _ in rows] == sorted(c for c in entries if c.startswith("CSF2"))
    for code, runtime, lint in rows:
        scope = entries[code].scope
        assert (runtime == "yes", lint == "yes") == (
            scope in ("runtime", "both"), scope in ("static", "both")
        ), f"{code} is [{scope}] in the catalogue"


def test_legacy_counts_are_what_check_reports() -> None:
    """'reports N findings in F files (CSF101 x9, ...)': counted by a real run."""
    claim = re.search(r"reports (\d+) findings in (\d+) files \(([^)]*)\)", README.read_text())
    assert claim is not None
    run = subprocess.run(
        [sys.executable, "-m", "celery_safe.cli", "check", "examples/registry/legacy",
         "--format", "json"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )
    assert run.returncode == 1, run.stderr
    findings = json.loads(run.stdout)
    counted = Counter(f["code"] for f in findings)
    stated = {code: int(times or 1) for code, times in
              re.findall(r"(CSF\d{3})(?: \u00d7(\d+))?", claim.group(3))}
    assert (len(findings), len({f["path"] for f in findings})) == (
        int(claim.group(1)), int(claim.group(2))
    )
    assert stated == dict(counted)


def test_the_demo_paragraph_gives_the_same_legacy_count() -> None:
    text = README.read_text()
    claim = re.search(r"reports (\d+) findings in", text)
    demo = re.search(r"on `legacy/` \((\d+) findings", text)
    assert claim is not None and demo is not None
    assert demo.group(1) == claim.group(1)


def test_legacy_fix_counts_are_what_fix_reports() -> None:
    """'fix --diff examples/registry/legacy rewrites 5 of them ... the other 15'."""
    text = " ".join(README.read_text().split())
    claim = re.search(r"`celery-safe fix --diff examples/registry/legacy` rewrites (\d+) of "
                      r"them .*? why each of the other (\d+) needs a human", text)
    assert claim is not None
    run = subprocess.run(
        [sys.executable, "-m", "celery_safe.cli", "fix", "--diff", "examples/registry/legacy"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )
    summary = re.search(r"Would fix (\d+) finding\(s\) in \d+ file\(s\); (\d+) remain\.",
                        run.stdout + run.stderr)
    assert summary is not None, run.stdout + run.stderr
    assert summary.groups() == claim.groups()


def test_the_embedded_defaults_are_the_readmes() -> None:
    """'after `visibility_timeout` (60 s)', 'a poll every 0.5 s, `polling_interval`'."""
    from celery_safe import embedded

    text = " ".join(README.read_text().split())
    timeout = re.search(r"after `visibility_timeout` \(([\d.]+) s\)", text)
    poll = re.search(r"a poll every ([\d.]+) s, `polling_interval`", text)
    assert timeout is not None and poll is not None
    assert float(timeout.group(1)) == embedded.DEFAULT_VISIBILITY_TIMEOUT
    assert float(poll.group(1)) == embedded.DEFAULT_POLLING_INTERVAL


@pytest.mark.parametrize("path", [README, ROOT / "examples" / "registry" / "README.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_run_wait_lines_are_what_the_cli_prints(path: Path) -> None:
    """The ``run sync --wait`` example's lines are ``registry.follow.progress_line``'s."""
    from registry.follow import progress_line

    block = re.search(r"\$ python -m registry run sync --wait[^\n]*\n(.*?)\n(?:\$|```)",
                      path.read_text(), re.DOTALL)
    assert block is not None
    lines = [line for line in block.group(1).splitlines()[1:] if line != "..."]
    assert lines
    for line in lines:
        shown = re.fullmatch(r"run ([0-9a-f]{8})  ([\w-]+)  (queued|running \d+/\d+|finished)"
                             r"(?:  in ([\d.]+) s)?", line)
        assert shown is not None, f"{path.name}: {line!r} is not a line the CLI prints"
        run_id, action, headline, seconds = shown.groups()
        view = {"id": run_id + "-0000", "action": action, "headline": headline, "trace": [],
                "status": headline.split()[0], "seconds": float(seconds or 0)}
        assert progress_line(view) == line
