"""Store YAML, clone, parse: each step a task, and each caller waiting for the last one."""

import json
import logging
from pathlib import Path

from celery import shared_task

from legacy.celery_app import app
from legacy.storage import bundle_dirs, clone, connect, read_collections_yaml, save_bundle

logger = logging.getLogger(__name__)


@app.task
def store_yaml_data_task():
    """Read collections.yaml into the database; takes no arguments."""
    data = read_collections_yaml()
    conn = connect()
    conn.execute("INSERT INTO raw_yaml (content) VALUES (?)", (json.dumps(data),))
    for entry in data.get("codecollections", []):
        conn.execute(
            "INSERT OR REPLACE INTO collections (slug, data) VALUES (?, ?)",
            (entry.get("slug"), json.dumps(entry)),
        )
    conn.commit()
    return {"status": "success", "collections": len(data.get("codecollections", []))}


@app.task
def clone_repository_task(collection_slug):
    conn = connect()
    row = conn.execute(
        "SELECT data FROM collections WHERE slug = ?", (collection_slug,)
    ).fetchone()
    entry = json.loads(row[0])
    path = clone(entry["git_url"], entry.get("git_ref", "main"), collection_slug)
    return {"slug": collection_slug, "path": path}


@app.task
def clone_repositories_task(collection_slugs):
    """Clone every collection, one at a time, waiting for each clone task."""
    results = []
    for slug in collection_slugs:
        # Anti-pattern: run another task synchronously and join it, in a loop.
        results.append(clone_repository_task.apply(args=[slug]).get())
    return results


@app.task
def parse_stored_data_task():
    """Parse every cloned collection; takes no arguments."""
    conn = connect()
    count = 0
    for (slug,) in conn.execute("SELECT slug FROM collections").fetchall():
        checkout = Path("/tmp/legacy-repos") / slug
        for bundle in bundle_dirs(checkout):
            robot = bundle / "runbook.robot"
            data = {"name": bundle.name, "has_runbook": robot.exists()}
            save_bundle(conn, slug, bundle.name, data)
            count += 1
    conn.commit()
    return {"status": "success", "codebundles": count}


@shared_task
def sync_collection_task(collection_slug):
    """Clone then parse one collection by waiting on two other tasks."""
    clone_result = clone_repository_task.delay(collection_slug).get()
    logger.info("cloned %s into %s", collection_slug, clone_result.get("path"))
    parsed = parse_stored_data_task.delay().get(timeout=300)
    return {"slug": collection_slug, "parsed": parsed["codebundles"]}


def _wait(result, timeout=600):
    """A helper that hides the join from the task that calls it."""
    return result.get(timeout=timeout)


@app.task(bind=True)
def populate_registry_task(self, collection_slugs=None):
    """Store, clone and parse, each step started then waited for."""
    self.update_state(state="PROGRESS", meta={"step": "store_yaml"})
    stored = store_yaml_data_task.delay().get()
    slugs = collection_slugs or []
    if not slugs:
        conn = connect()
        slugs = [row[0] for row in conn.execute("SELECT slug FROM collections").fetchall()]
    self.update_state(state="PROGRESS", meta={"step": "clone", "collections": len(slugs)})
    clone_async = clone_repositories_task.apply_async(args=[slugs])
    logger.info("waiting for %d clones (stored %s)", len(slugs), stored.get("collections"))
    cloned = _wait(clone_async)
    self.update_state(state="PROGRESS", meta={"step": "parse"})
    parsed = _wait(parse_stored_data_task.apply_async())
    return {"stored": stored, "cloned": len(cloned), "parsed": parsed}
