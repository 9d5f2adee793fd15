"""Mermaid and DOT rendering, the `celery-safe graph` command, and the CSF2xx pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import canvas as celery_canvas
from wf_tasks import make_app

from celery_safe import catalogue
from celery_safe.workflows import chain, chord, group, to_dot, to_mermaid, validate
from celery_safe.workflows.cli import graph_main

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def t() -> SimpleNamespace:
    return make_app()


def _edges(mermaid: str) -> list[tuple[str, str, str]]:
    labels = dict(re.findall(r'^\s+(t\d+)\["(.*)"\]$', mermaid, re.M))
    found = re.findall(r"^\s+(t\d+) (.+?) (t\d+)$", mermaid, re.M)
    return [(labels[a], arrow, labels[b]) for a, arrow, b in found]


def test_mermaid_chain_shows_data_flow_and_order(t: SimpleNamespace) -> None:
    fixed = chain(
        t.store_yaml_data_task.s(),
        t.clone_repositories_task.si(["core"]),
        t.parse_stored_data_task.si(),
        t.inc.s(),
    )
    text = to_mermaid(fixed)
    assert text.startswith("flowchart LR\n")
    assert _edges(text) == [
        ("store_yaml_data_task()", "-.->", "clone_repositories_task(['core'])"),
        ("clone_repositories_task(['core'])", "-.->", "parse_stored_data_task()"),
        ("parse_stored_data_task()", "-->", "inc()"),
    ]


def test_mermaid_chord_and_group_are_subgraphs(t: SimpleNamespace) -> None:
    canvas = chain(t.add.s(1, 2), chord([t.inc.s(), group(t.inc.s(), t.add.s(5))], t.tsum.s()))
    text = to_mermaid(canvas)
    assert re.search(r'subgraph c\d+\["chord"\]', text)
    assert re.search(r'subgraph h\d+\["header"\]', text)
    assert re.search(r'subgraph g\d+\["group"\]', text)
    edges = _edges(text)
    assert ("add(1, 2)", "-->", "add(5)") in edges
    assert ("inc()", "-->", "tsum()") in edges
    assert ("add(5)", "-->", "tsum()") in edges
    assert text.count("end") == 3


def test_links_and_errbacks_are_drawn(t: SimpleNamespace) -> None:
    sig = t.add.s(1, 2)
    sig.link(t.inc.s())
    sig.on_error(t.on_error.s())
    edges = _edges(to_mermaid(sig))
    assert edges == [
        ("add(1, 2)", "-- link -->", "inc()"),
        ("add(1, 2)", "-. on error .->", "on_error()"),
    ]


def test_labels_are_short_and_escaped(t: SimpleNamespace) -> None:
    sig = t.count.s('say "hi" ' + "x" * 100)
    text = to_mermaid(sig)
    assert "#quot;" in text and '"hi"' not in text
    assert max(len(line) for line in text.splitlines()) < 80
    assert '\\"hi\\"' in to_dot(sig)


def test_dot_is_valid_graphviz(t: SimpleNamespace, tmp_path: Path) -> None:
    canvas = chain(t.add.s(1, 2), chord([t.inc.s(), t.add.s(5)], t.tsum.s()), t.inc.s())
    dot_text = to_dot(canvas)
    assert dot_text.startswith("digraph workflow {")
    assert dot_text.count("subgraph cluster_") == 2
    assert "style=dotted" not in dot_text
    if shutil.which("dot") is None:
        pytest.skip("graphviz not installed")
    out = subprocess.run(["dot", "-Tsvg"], input=dot_text, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "tsum()" in out.stdout


# -- the CLI ------------------------------------------------------------------------


def _graph(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = graph_main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_graph_cli_prints_mermaid_and_dot(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _graph(["wf_graphs:fixed"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("flowchart LR") and "clone_repositories_task(['core'])" in out
    code, out, _ = _graph(["wf_graphs:build_fanout", "--format", "dot"], capsys)
    assert code == 0 and out.startswith("digraph workflow")


def test_graph_cli_reports_problems_but_still_draws(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _graph(["wf_graphs:broken"], capsys)
    assert code == 1
    assert out.startswith("flowchart LR")
    assert "CSF201 chain[1] clone_repositories_task" in err


def test_graph_cli_bad_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _graph(["wf_graphs"], capsys)
    assert code == 2 and "module:attr" in err
    code, _, err = _graph(["wf_graphs:nothing_here"], capsys)
    assert code == 2 and "nothing_here" in err
    code, _, err = _graph(["wf_graphs:NOT_A_CANVAS"], capsys)
    assert code == 2 and "not a Celery canvas" in err


def test_graph_cli_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("dot") is None:
        pytest.skip("graphviz not installed")
    target = tmp_path / "graph.png"
    code, _, err = _graph(["wf_graphs:fixed", "--format", "png", "-o", str(target)], capsys)
    assert (code, err) == (0, "")
    assert target.read_bytes().startswith(b"\x89PNG")


def test_graph_cli_png_without_graphviz(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = _graph(["wf_graphs:fixed", "--format", "png", "-o", "x.png"], capsys)
    assert code == 2
    assert "graphviz" in err and "--format dot" in err


def test_graph_command_through_the_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "celery_safe.cli", "graph", "wf_graphs:fixed"],
        capture_output=True, text=True, cwd=HERE,
    )
    assert done.returncode == 0, done.stderr
    assert "parse_stored_data_task()" in done.stdout


# -- the catalogue pages of this area ----------------------------------------------

WORKFLOW_CODES = [f"CSF20{n}" for n in range(1, 9)]


@pytest.mark.parametrize("code", WORKFLOW_CODES)
def test_workflow_codes_are_documented(code: str) -> None:
    entry = catalogue.get(code)
    for section in (*catalogue.REQUIRED_SECTIONS, "Known problems", "Fix safety"):
        assert entry.section(section), f"{code} lacks ## {section}"
    assert "{step}" in entry.message
    assert entry.scope in ("runtime", "both")


def test_every_workflow_code_is_reachable(t: SimpleNamespace) -> None:
    """Each CSF2xx page is used by the validator: one canvas raising all of them."""
    bad_errback = t.add.s(1, 2)
    bad_errback.on_error(t.bad_errback.s())
    no_backend = make_app({"broker_url": "memory://"})
    found = {
        p.code
        for canvas in (
            celery_canvas.chain(t.const.si(), t.const.s()),
            celery_canvas.chord([t.quiet.s(1)], t.const.s()),
            celery_canvas.group(t.add.s(), t.app.signature("wf.x"), t.count.s({1})),
            bad_errback,
            celery_canvas.chord([no_backend.inc.s(1)], no_backend.tsum.s()),
        )
        for p in validate(canvas)
    }
    assert found == set(WORKFLOW_CODES)
