"""The registry's workflow, built and validated with ``celery_safe.workflows``.

    store_yaml -> group(sync_collection per collection) -> launch_enhancements -> summarize
                                                           |
                     becomes chord(enhance_bundle per pending bundle) -> tally_enhancements

Why the chord is built inside a task: which bundles need enhancing is only known once
every collection is synced, so it cannot be part of the canvas sent at the start.
``launch_enhancements`` runs as the body of the sync group (Celery runs it after the
last sync), reads the pending bundle ids, and *replaces itself* with the chord
(``Task.replace``). The replacement inherits the task's id and the rest of the chain,
so ``summarize`` runs after the chord's body, and the caller's single result handle
still resolves to the summary. Nothing ever waits inside a task: the broker drives
every step, and the only join is the caller's, outside any task.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

from celery.canvas import Signature
from celery.result import AsyncResult

from celery_safe.workflows import chain, chord, group, map_reduce, to_mermaid
from registry import sources, tasks

__all__ = [
    "PipelineRun",
    "build_workflow",
    "collection_slugs",
    "enhancement_chord",
    "executed_workflow",
    "run_pipeline",
    "task_growth_workflow",
    "workflow_graph",
]


def enhancement_chord(bundle_ids: Sequence[int], sync_results: list[dict[str, Any]]) -> Any:
    """One ``enhance_bundle`` per pending bundle, then ``tally_enhancements``."""
    body = tasks.tally_enhancements.s(sync_results)
    return map_reduce(tasks.enhance_bundle.s(), bundle_ids, body)


def task_growth_workflow(slugs: Sequence[str]) -> Any:
    """Analytics: ``collection_task_growth`` per collection, then ``merge_task_growth``.

    A ``map_reduce`` (a chord, validated before it is sent): the collections' histories
    are walked in parallel and the reduce gets the list of their reports.
    """
    return map_reduce(tasks.collection_task_growth.s(), sorted(slugs),
                      tasks.merge_task_growth.s())


def _source_errors(collections_yaml: str) -> tuple[list[str], list[str]]:
    loaded = sources.parse_collections_text(collections_yaml)
    return [spec.slug for spec in loaded.collections], [str(e) for e in loaded.errors]


def collection_slugs(collections_yaml: str) -> list[str]:
    """The slugs of the valid collections a run of ``collections_yaml`` syncs."""
    return _source_errors(collections_yaml)[0]


def build_workflow(collections_yaml: str) -> Any:
    """The whole run for the text of a ``collections.yaml``, validated before it is sent.

    Invalid entries are reported by ``summarize`` (and left out of the group);
    the valid ones each get their own ``sync_collection`` in the group.
    """
    slugs, errors = _source_errors(collections_yaml)
    steps: list[Any] = [tasks.store_yaml.si(collections_yaml)]
    if slugs:
        steps.append(group([tasks.sync_collection.si(slug) for slug in slugs]))
        steps.append(tasks.launch_enhancements.s())
    else:
        steps.append(tasks.launch_enhancements.si([]))
    steps.append(tasks.summarize.s(errors))
    return chain(*steps)


def executed_workflow(collections_yaml: str, bundle_ids: Sequence[int]) -> Any:
    """The whole run as it executed: the sent workflow with the chord it grew spliced in.

    For drawing only (never sent): ``launch_enhancements`` is shown as what it became,
    the chord over ``bundle_ids``. Its header tasks take no parent result (``.si``),
    as in the real run, where the chord is a fresh canvas replacing a task.
    """
    slugs, errors = _source_errors(collections_yaml)
    enhancements = chord(
        [tasks.enhance_bundle.si(bundle_id) for bundle_id in bundle_ids],
        tasks.tally_enhancements.s([]),
    )
    steps: list[Any] = [tasks.store_yaml.si(collections_yaml)]
    if slugs:
        steps.append(group([tasks.sync_collection.si(slug) for slug in slugs]))
    steps += [enhancements, tasks.summarize.s(errors)]
    return chain(*steps)


def workflow_graph(collections_yaml: str, bundle_ids: Sequence[int] | None = None) -> str:
    """Mermaid flowchart(s) of the run: the workflow sent, then the whole run as executed.

    Before a run the chord's size is unknown and ``launch_enhancements`` stands for it;
    with ``bundle_ids`` (a finished run's ``enhanced_ids``) a second flowchart draws the
    whole pipeline with ``launch_enhancements`` replaced by the chord it became.
    """
    graphs = [str(to_mermaid(build_workflow(collections_yaml))).rstrip()]
    if bundle_ids:
        graphs.append(str(to_mermaid(executed_workflow(collections_yaml, bundle_ids))).rstrip())
    return "\n\n".join(graphs) + "\n"


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    """One finished run: its summary (see ``tasks.summarize``) and how long it took."""

    workflow_id: str
    seconds: float
    summary: dict[str, Any]


def run_pipeline(
    collections_yaml: str, *, timeout: float = 300.0,
    on_sent: Callable[[Signature, AsyncResult], None] | None = None,
) -> PipelineRun:
    """Send the workflow and wait for its summary (from a script or the CLI, never a task).

    ``on_sent`` gets the workflow and its result handle once sent, before the wait: the
    CLI records the run there, so its page exists while it runs.
    """
    workflow: Signature = build_workflow(collections_yaml)
    started = time.perf_counter()
    result = workflow.apply_async()
    if on_sent is not None:
        on_sent(workflow, result)
    summary = result.get(timeout=timeout)
    return PipelineRun(str(result.id), time.perf_counter() - started, summary)
