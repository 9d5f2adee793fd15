# ruff: noqa
"""CSF404: priorities the broker ignores (literal config)."""

from celery import Celery
from kombu import Queue

app = Celery("eval", broker="amqp://guest@localhost//")
app.conf.task_queues = [
    Queue("celery"),  # CSF404: 5
    Queue("urgent", queue_arguments={"x-max-priority": 10}),
]
app.conf.task_routes = {"eval.page": {"queue": "urgent", "priority": 9}}


@app.task(priority=5)
def charge_card(order_id):
    pass


@app.task(name="eval.page")
def page(who):
    pass


@app.task
def notify(order_id):
    pass
