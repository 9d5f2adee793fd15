# ruff: noqa
"""CSF401: a task may hold its message past Redis's visibility_timeout (literal config)."""

from celery import Celery
from celery.schedules import crontab

HOUR = 3600

app = Celery("eval", broker="redis://localhost:6379/0")
app.conf.broker_transport_options = {"visibility_timeout": HOUR}
app.conf.task_reject_on_worker_lost = True


@app.task(acks_late=True, time_limit=2 * HOUR)  # CSF401: 2
def rebuild_index():
    pass


@app.task(acks_late=True, soft_time_limit=HOUR + 1)  # CSF401: 2
def export():
    pass


@app.task(autoretry_for=(ConnectionError,), default_retry_delay=4000)  # CSF401: 2
def sync_stock():
    pass


# fine: within the timeout, no time limit (unknown is not a problem), not acks_late
@app.task(acks_late=True, time_limit=HOUR)
def quick():
    pass


@app.task(acks_late=True)
def unbounded():
    pass


@app.task(time_limit=5 * HOUR)
def early_ack():
    pass


# fine: an option that is not literal leaves the task unjudged
@app.task(acks_late=True, time_limit=int("7200"))
def computed():
    pass


app.conf.beat_schedule = {
    "nightly": {  # CSF401: 5
        "task": "eval.export",
        "schedule": crontab(hour=3),
        "options": {"countdown": 2 * HOUR},
    },
    "soon": {"task": "eval.quick", "schedule": 60.0, "options": {"countdown": 30}},
}


def nightly_export():
    export.apply_async(countdown=2 * HOUR)  # CSF401: 5
    export.s().apply_async(countdown=3 * HOUR)  # CSF401: 5
    export.apply_async(countdown=60)
    export.apply_async(countdown=int("7200"))  # not literal: not judged
