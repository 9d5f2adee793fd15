# ruff: noqa
"""CSF403: a task_routes key that matches no task (literal config, names all known)."""

from celery import Celery

app = Celery("eval", broker="redis://localhost:6379/0")
app.conf.task_routes = {
    "eval.send_invoce": {"queue": "mail"},  # CSF403: 5
    "eval.send_invoice": {"queue": "mail"},
    "eval.report*": "slow",
    "evl.*": {"queue": "x"},  # CSF403: 5
    "billing.charge": {"queue": "billing"},  # another service's task: not judged
}


@app.task(name="eval.send_invoice")
def send_invoice(order_id):
    pass


@app.task(name="eval.reports")
def reports():
    pass
