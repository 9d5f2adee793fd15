"""Enhance bundles: AI descriptions and access levels, with the old failure reporting."""

import json
import logging

from celery.result import allow_join_result

from legacy.celery_app import app
from legacy.storage import connect

logger = logging.getLogger(__name__)


def describe(data):
    name = data.get("name", "bundle")
    access = "read-write" if "restart" in name or "scale" in name else "read-only"
    return {"description": f"Troubleshooting tasks for {name}", "access_level": access}


@app.task(bind=True, max_retries=3)
def enhance_codebundle_task(self, collection_slug, bundle_slug):
    conn = connect()
    row = conn.execute(
        "SELECT data FROM codebundles WHERE collection = ? AND slug = ?",
        (collection_slug, bundle_slug),
    ).fetchone()
    try:
        if row is None:
            raise LookupError(f"no codebundle {collection_slug}/{bundle_slug}")
        data = json.loads(row[0])
        data.update(describe(data))
        conn.execute(
            "UPDATE codebundles SET data = ?, status = 'completed' "
            "WHERE collection = ? AND slug = ?",
            (json.dumps(data), collection_slug, bundle_slug),
        )
        conn.commit()
        return {"status": "completed", "bundle": bundle_slug}
    except Exception as exc:
        # Anti-pattern: a FAILURE state whose meta has no exc_type; reading it back
        # raises "Exception information must include the exception type".
        self.update_state(
            state="FAILURE",
            meta={"error": str(exc), "bundle": bundle_slug, "step": "enhance"},
        )
        raise


@app.task(bind=True)
def enhance_pending_codebundles_task(self, limit=50):
    """Enhance pending bundles one by one, waiting for each, reporting progress."""
    conn = connect()
    pending = conn.execute(
        "SELECT collection, slug FROM codebundles WHERE status = 'pending' LIMIT ?", (limit,)
    ).fetchall()
    done, failed = 0, 0
    for index, (collection, slug) in enumerate(pending):
        r = enhance_codebundle_task.apply_async(args=[collection, slug], countdown=0)
        self.update_state(state="PROGRESS", meta={"current": index, "total": len(pending)})
        try:
            outcome = r.get(timeout=600)
        except Exception:
            failed += 1
            continue
        if outcome.get("status") == "completed":
            done += 1
    if failed and not done:
        self.update_state(state="FAILURE", meta={"enhanced": done, "failed": failed})
    return {"enhanced": done, "failed": failed}


@app.task
def enhance_collection_task(collection_slug):
    """Enhance one collection's bundles, sidestepping Celery's join check twice."""
    conn = connect()
    slugs = [
        row[0]
        for row in conn.execute(
            "SELECT slug FROM codebundles WHERE collection = ?", (collection_slug,)
        ).fetchall()
    ]
    results = [enhance_codebundle_task.delay(collection_slug, slug) for slug in slugs]
    outcomes = []
    with allow_join_result():
        for result in results[: len(results) // 2]:
            outcomes.append(result.get())
    for result in results[len(results) // 2 :]:
        outcomes.append(result.get(disable_sync_subtasks=False))
    return {"collection": collection_slug, "enhanced": len(outcomes)}
