"""The workflow's shape and its drawings, built without a broker or a worker."""

from __future__ import annotations

from pathlib import Path

import yaml
from registry import pipeline
from registry.cli import format_summary

from celery_safe.workflows import validate

BROKEN_ENTRY = {"name": "No slug", "git_url": "file:///nowhere"}


def _yaml_text(shared_samples: Path, *extra: dict[str, str]) -> tuple[str, list[str]]:
    data = yaml.safe_load(shared_samples.read_text())
    slugs = [entry["slug"] for entry in data["codecollections"]]
    data["codecollections"].extend(extra)
    return yaml.safe_dump(data), slugs


def _task_names(graph: str) -> list[str]:
    """The task of every node of a Mermaid flowchart, in drawing order (not subgraphs)."""
    return [
        line.split('["', 1)[1].split("(", 1)[0]
        for line in graph.splitlines()
        if '["' in line and "subgraph" not in line
    ]


def test_the_sent_workflow_is_store_then_one_sync_per_valid_collection(
    shared_samples: Path,
) -> None:
    text, slugs = _yaml_text(shared_samples, BROKEN_ENTRY)
    workflow = pipeline.build_workflow(text)
    assert validate(workflow) == []
    names = _task_names(pipeline.workflow_graph(text))
    assert names == ["store_yaml", "launch_enhancements", "summarize"] + ["sync_collection"] * len(
        slugs
    )
    # The broken entry is left out of the group and handed to summarize as its error.
    summarize = workflow.tasks[-1].body.tasks[-1]
    assert summarize.task == "registry.summarize"
    assert summarize.args == ([f"collection #{len(slugs) + 1}: slug: is required"],)


def test_after_a_run_the_whole_pipeline_is_drawn_with_the_enhancement_chord(
    shared_samples: Path,
) -> None:
    text, slugs = _yaml_text(shared_samples)
    sent, whole = pipeline.workflow_graph(text, [4, 5, 6]).split("\n\n")
    assert "launch_enhancements" in sent and "enhance_bundle" not in sent
    names = _task_names(whole)
    assert sorted(names) == sorted(
        ["store_yaml", "tally_enhancements", "summarize"]
        + ["sync_collection"] * len(slugs)
        + ["enhance_bundle"] * 3
    )
    assert validate(pipeline.executed_workflow(text, [4, 5, 6])) == []
    assert "tally_enhancements" in whole and "--> " in whole


def test_the_human_summary_names_collections_bundles_tasks_enhanced_failed() -> None:
    summary = {
        "collections_synced": 2, "collections_failed": 1,
        "bundles": {"created": 5, "updated": 1, "unchanged": 2, "removed": 1},
        "totals": {"tasks": 17, "bundles": 8},
        "enhanced": 6, "enhance_failed": 1,
        "errors": ["collection 'x': unreachable", "bundle #3: bad"],
    }
    text = format_summary(summary, 1.5)
    assert "2 synced, 1 failed" in text
    assert "8 parsed (5 new, 1 updated, 2 unchanged, 1 removed)" in text
    assert "17 robot tasks in 8 stored bundles" in text
    assert "6 completed, 1 failed" in text
    assert "2 item(s)" in text and "- collection 'x': unreachable" in text
