"""The module a real worker runs (``celery -A wf_worker worker``): the test tasks, from env."""

from __future__ import annotations

from wf_tasks import app_from_env

app = app_from_env()
