"""The README as a newcomer uses it: its examples run, and its numbers are the code's.

- The first example is pasted into ``proj.py`` and run the way the README says, with a
  real worker on the embedded default.
- Every ``python`` block of the README runs (Sybil, in order, one namespace per file);
  one that cannot run is preceded by ``<!-- skip: next "why" -->``, and must say why.
- Code ranges (``CSF201`` to ``CSF213``), the workflows README's code table and the legacy
  example's counts are compared with the catalogue and a real ``celery-safe check`` run.
- The README stays a short user's guide: its first lines give the two commands, and every
  relative link in it and in the pages it links to resolves (file and heading).
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
EMBEDDED = ROOT / "celery_safe" / "embedded" / "README.md"
LINT = ROOT / "celery_safe" / "lint" / "README.md"
#: the README and the docs pages it sends users to, where ranges of codes appear
READMES = [README, ROOT / "celery_safe" / "workflows" / "README.md", LINT, EMBEDDED,
           ROOT / "celery_safe" / "deployment" / "README.md",
           ROOT / "examples" / "registry" / "README.md",
           ROOT / "examples" / "registry" / "legacy" / "README.md",
           ROOT / "docs" / "tasks-and-guard.md", ROOT / "docs" / "supported-versions.md",
           ROOT / "docs" / "hostile-inputs.md", ROOT / "benchmarks" / "README.md"]
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
#: ``[text](target)`` and ``![alt](target)``, target without a scheme
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_stays_short() -> None:
    assert len(README.read_bytes()) < 20_000  # depth goes in docs pages beside the code


def test_the_first_lines_give_the_two_commands() -> None:
    """CI (``.ci/run``) and newcomers start here: the main job, then the tests."""
    first_block = re.search(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    assert first_block is not None and README.read_text().index("```sh") < 40
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make demo", "make test"]
    targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert {"demo", "test"} <= set(targets)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link names a file of the repository, and its heading if it gives one."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s):, mailto: ... not a file of ours
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or ROOT not in linked.parents:
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor}")
    assert broken == [], f"{page.relative_to(ROOT)}: {broken}"


def test_the_readme_links_every_docs_page() -> None:
    """Each page checked above is one link away from the README, so nothing moved is lost."""
    linked = {(ROOT / target.partition("#")[0]).resolve()
              for target in LINK.findall(README.read_text()) if not re.match(r"[a-z]+:", target)}
    assert [p for p in READMES[1:] if p.resolve() not in linked] == []


@pytest.mark.worker
def test_the_first_example_runs_as_pasted(tmp_path: Path) -> None:
    first = PYTHON_BLOCK.search(README.read_text())
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
    # later blocks import the first one as the README says: saved as proj.py beside them
    (tmp_path / "proj.py").write_text(_python_blocks()[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "proj", raising=False)
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
    sys.modules.pop("proj", None)


def _python_blocks() -> list[str]:
    return PYTHON_BLOCK.findall(README.read_text())


def test_the_workflow_example_prints_what_it_says(tmp_path: Path) -> None:
    """Saved as ``flows.py`` beside ``proj.py`` and run: it prints its closing comment."""
    proj, flows = _python_blocks()[:2]
    assert "from proj import app" in flows
    (tmp_path / "proj.py").write_text(proj)
    (tmp_path / "flows.py").write_text(flows)
    run = subprocess.run([sys.executable, "flows.py"], cwd=tmp_path, capture_output=True,
                         text=True, check=False, timeout=180)
    assert run.returncode == 0, run.stderr
    said = " ".join(line.lstrip("# ") for line in flows.rstrip().splitlines()[-2:])
    assert run.stdout.strip() == said


def _codes() -> list[int]:
    return sorted(int(code[3:]) for code in catalogue.all_codes())


#: the deployment page's ``CSF401-CSF404`` is what ``check_app`` runs without workers
RANGED = [page for page in READMES if page.parent.name != "deployment"]


@pytest.mark.parametrize("path", RANGED, ids=lambda p: str(p.relative_to(ROOT)))
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
    lint = re.search(r"On the registry's `legacy/`, `fix` rewrites (\d+) joins in \d+ tasks and "
                     r"explains the (\d+) findings it leaves", " ".join(LINT.read_text().split()))
    assert lint is not None
    assert lint.groups() == claim.groups()


def test_the_embedded_defaults_are_the_readmes() -> None:
    """The embedded page's 'messages wait, 60 s by default' and 'a poll every 0.5 s'."""
    from celery_safe import embedded

    text = " ".join(EMBEDDED.read_text().split())
    timeout = re.search(r"a dead worker's messages wait, ([\d.]+) s by default", text)
    poll = re.search(r"a poll every ([\d.]+) s, `polling_interval`", text)
    assert timeout is not None and poll is not None
    assert float(timeout.group(1)) == embedded.DEFAULT_VISIBILITY_TIMEOUT
    assert float(poll.group(1)) == embedded.DEFAULT_POLLING_INTERVAL


@pytest.mark.parametrize("path", [ROOT / "examples" / "registry" / "README.md"],
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
