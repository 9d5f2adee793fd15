# ruff: noqa
"""CSF402: acks_late without reject_on_worker_lost (literal config)."""

from celery import Celery, shared_task

app = Celery("eval")
app.conf.update(task_serializer="json")


@app.task(acks_late=True)  # CSF402: 2
def charge_card(order_id):
    pass


@shared_task(acks_late=True, bind=True)  # CSF402: 2
def refund(self, order_id):
    pass


# fine: asks to run again, or does not acknowledge late
@app.task(acks_late=True, reject_on_worker_lost=True)
def ship(order_id):
    pass


@app.task
def notify(order_id):
    pass


# fine: not literal, so not known
@app.task(acks_late=True, reject_on_worker_lost=bool(order_id := 0))
def pack(order_id):
    pass
