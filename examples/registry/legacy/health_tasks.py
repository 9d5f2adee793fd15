"""Health check: the many ``get``/``join`` calls here are not Celery joins (no findings)."""

import os
import shutil
import threading

from legacy.celery_app import app
from legacy.storage import DB_PATH, REPOS_DIR, connect


def _disk_probe(results):
    results["disk_free"] = shutil.disk_usage(str(REPOS_DIR.parent)).free


@app.task
def health_check_task():
    probes = {}
    thread = threading.Thread(target=_disk_probe, args=(probes,))
    thread.start()
    thread.join(timeout=5)
    conn = connect()
    counts = {
        status: count
        for status, count in conn.execute(
            "SELECT status, COUNT(*) FROM codebundles GROUP BY status"
        ).fetchall()
    }
    config = {"db": DB_PATH, "redis": os.environ.get("REDIS_URL", "unset")}
    return {
        "status": "ok" if probes.get("disk_free", 0) > 0 else "degraded",
        "pending": counts.get("pending", 0),
        "completed": counts.get("completed", 0),
        "config": ", ".join(f"{k}={v}" for k, v in sorted(config.items())),
        "redis": config.get("redis"),
    }
