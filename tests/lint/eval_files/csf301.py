# ruff: noqa
"""CSF301: update_state with a failure state and a meta without exc_type."""

import celery
from celery import Celery, states
from celery.states import FAILURE

app = Celery("eval")


@app.task(bind=True)
def enhance(self, slug):
    self.update_state(state=states.FAILURE, meta={"error": "not found"})  # CSF301: 5
    self.update_state(state="FAILURE", meta=dict(slug=slug))  # CSF301: 5
    self.update_state(None, FAILURE, {"slug": slug})  # CSF301: 5
    enhance.update_state(state=celery.states.FAILURE, meta={})  # CSF301: 5
    self.update_state(state=states.REVOKED, meta={"why": "cancelled"})  # CSF301: 5
    return slug


def outside_a_task(task_id):
    app.backend.update_state = None
    enhance.update_state(task_id, "FAILURE", {"note": 1})  # CSF301: 5


@app.task(bind=True)
def fine(self, slug, meta):
    self.update_state(state=states.FAILURE, meta={"exc_type": "LookupError", "exc_message": [slug]})
    self.update_state(state="PROGRESS", meta={"done": 1})
    self.update_state(state=states.SUCCESS, meta={"done": 1})
    self.update_state(state=states.FAILURE, meta=meta)
    self.update_state(state=states.FAILURE, meta={**meta})
    self.update_state(state="CUSTOM_FAILED", meta={"reason": slug})
