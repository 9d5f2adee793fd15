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


# Through helpers, constants, defaults, variables, and the result backend itself
from celery import Task, current_task

FAILED = states.FAILURE
PROGRESS = "PROGRESS"


def write_status(task, state, status):
    task.update_state(state=state, meta={"status": status})


def set_failure(task):
    write_status(task, FAILED, "failed")  # CSF301: 5


def fail_with(task, meta):
    task.update_state(state=FAILED, meta=meta)


def forward_state(task, state):
    write_status(task, state, "forwarded")


def fail_by_default(task, state=states.FAILURE):
    task.update_state(state=state, meta={"why": "default"})  # CSF301: 5


class Reported(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        set_failure(self)
        forward_state(self, "FAILURE")  # CSF301: 9
        fail_with(self, {"why": str(exc)})  # CSF301: 9
        fail_by_default(self)

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        meta = {"status": status}
        self.update_state(state=FAILED, meta=meta)  # CSF301: 9
        current_task.update_state(state="FAILURE", meta={"x": 1})  # CSF301: 9


@app.task(bind=True)
def through_the_backend(self, task_id):
    self.app.backend.store_result(task_id, {"reason": "gone"}, states.FAILURE)  # CSF301: 5
    app.backend.store_result(task_id, result={"r": 1}, state="FAILURE")  # CSF301: 5
    self.backend.mark_as_failure(task_id, {"reason": "gone"})  # CSF301: 5
    self.backend.mark_as_retry(task_id, {"reason": "again"})  # CSF301: 5


# look-alikes
@app.task(bind=True)
def decodable(self, task_id, cache, exc):
    write_status(self, PROGRESS, "half way")
    write_status(self, states.SUCCESS, "done")
    forward_state(self, "STARTED")
    fail_with(self, {"exc_type": "LookupError", "exc_message": ["gone"]})
    meta = {"status": "x"}
    meta["exc_type"] = "LookupError"
    self.update_state(state=FAILED, meta=meta)
    self.backend.mark_as_failure(task_id, exc)
    self.backend.mark_as_failure(task_id, LookupError("gone"))
    self.backend.store_result(task_id, {"done": 1}, states.SUCCESS)
    cache.store_result(task_id, {"reason": "gone"}, "FAILURE")  # not a result backend
    FAILED_LOCAL = "PROGRESS"
    self.update_state(state=FAILED_LOCAL, meta={"x": 1})


# A string meta: the backend reads it back with dict("..."), which raises ValueError
from celery.exceptions import Ignore


@app.task(bind=True)
def stores_a_message(self, slug):
    try:
        return slug.encode("ascii")
    except UnicodeError as exc:
        self.update_state(state=FAILURE, meta=str(exc))  # CSF301: 9
        raise Ignore() from exc


@app.task(bind=True)
def stores_messages(self, task_id, slug, exc):
    self.update_state(state=states.FAILURE, meta=f"bad slug {slug}")  # CSF301: 5
    self.update_state(state="FAILURE", meta="not found")  # CSF301: 5
    self.update_state(state=FAILED, meta="failed: %s" % exc)  # CSF301: 5
    self.update_state(state=FAILED, meta="failed: {}".format(exc))  # CSF301: 5
    message = repr(exc)
    self.update_state(state=FAILED, meta=message)  # CSF301: 5
    self.backend.mark_as_failure(task_id, str(exc))  # CSF301: 5
    fail_with(self, str(exc))  # CSF301: 5
    fail_as(self, "FAILURE", exc)  # CSF301: 5
    fail_as(self, "PROGRESS", exc)
    raise Ignore()


def fail_as(task, state, exc):
    task.update_state(state=state, meta=str(exc))


# look-alikes: a string under a state Celery stores as is, or a name not the builtin
@app.task(bind=True)
def strings_stored_as_is(self, exc, str_of, text):
    self.update_state(state="PROGRESS", meta=str(exc))
    self.update_state(state=states.SUCCESS, meta=f"done {exc}")
    self.update_state(state=FAILED, meta=str_of(exc))
    self.update_state(state=FAILED, meta=text)
    self.update_state(state=FAILED, meta=text.format(exc))


@app.task(bind=True)
def str_is_not_the_builtin(self, exc, str):
    self.update_state(state=FAILED, meta=str(exc))
