"""The legacy orchestration: canvases that cannot run as written, and joins on them."""

import logging

from celery import chain, chord, group

from legacy.celery_app import app
from legacy.enhancement_tasks import enhance_codebundle_task, enhance_pending_codebundles_task
from legacy.registry_tasks import (
    clone_repositories_task,
    parse_stored_data_task,
    store_yaml_data_task,
    sync_collection_task,
)
from legacy.storage import connect

logger = logging.getLogger(__name__)


@app.task(ignore_result=True)
def record_summary_task(results):
    logger.info("workflow finished: %s", results)
    return {"steps": len(results)}


@app.task
def sync_all_collections_task(collection_slugs=None):
    """Store, clone, parse as a chain, then wait for it inside this task."""
    collection_slugs = collection_slugs or []
    # Broken chain: each .s() receives its parent's result as the first argument,
    # but store_yaml_data_task and parse_stored_data_task take no arguments, and
    # clone_repositories_task already gets collection_slugs.
    workflow = chain(
        store_yaml_data_task.s(),
        clone_repositories_task.s(collection_slugs),
        parse_stored_data_task.s(),
    )
    result = workflow.apply_async()
    logger.info("started sync chain %s", result.id)
    return result.get(timeout=1800)


@app.task
def sync_collections_parallel_task(collection_slugs):
    """One sync per collection in a group, joined here."""
    job = group(sync_collection_task.s(slug) for slug in collection_slugs)
    group_result = job.apply_async()
    summaries = group_result.join(timeout=1800)
    return {"synced": len(summaries), "names": ", ".join(s["slug"] for s in summaries)}


@app.task
def enhance_everything_task():
    """A chord whose body ignores its result and whose header joins again."""
    conn = connect()
    pairs = conn.execute("SELECT collection, slug FROM codebundles").fetchall()
    header = [enhance_codebundle_task.s(collection, slug) for collection, slug in pairs]
    outcome = chord(header)(record_summary_task.s())
    return outcome.get()


@app.task
def nightly_task():
    """Everything, one step after another, each waited for."""
    sync_all_collections_task.delay().get()
    enhance_pending_codebundles_task.apply(kwargs={"limit": 500}).get()
    return "done"
