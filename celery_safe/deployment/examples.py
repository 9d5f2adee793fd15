"""The deployment rules' VALID/INVALID examples: app configurations, shared by the
runtime rules (``csf401.py``...: run through ``check_app``) and the linter's (run through
flake8 and ``celery-safe check``); the first of each fills the page. A module of strings
only: the linter imports it without loading Celery."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["EXAMPLES", "Examples"]


class Examples(NamedTuple):
    """Whole modules that give exactly the code, and look-alikes that give nothing."""

    invalid: tuple[str, ...]
    valid: tuple[str, ...]


CSF401_INVALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.broker_transport_options = {"visibility_timeout": 3600}


@app.task(acks_late=True, reject_on_worker_lost=True, time_limit=2 * 3600)
def rebuild_search_index() -> None: ...
'''

CSF401_VALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
# longer than anything a task may hold: its time limit, its countdowns
app.conf.broker_transport_options = {"visibility_timeout": 3 * 3600}


@app.task(acks_late=True, reject_on_worker_lost=True, time_limit=2 * 3600)
def rebuild_search_index() -> None: ...
'''

CSF401_INVALID_BEAT = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")


@app.task
def send_digest() -> None: ...


app.conf.beat_schedule = {
    "digest": {"task": "shop.send_digest", "schedule": 86400,
               "options": {"countdown": 2 * 3600}},
}
'''

CSF401_INVALID_RETRY = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")


@app.task(autoretry_for=(ConnectionError,), default_retry_delay=2 * 3600)
def sync_stock() -> None: ...
'''

CSF402_INVALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")


@app.task(acks_late=True)
def charge_card(order_id: int) -> None: ...
'''

CSF402_VALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True  # a lost worker's task runs again


@app.task
def charge_card(order_id: int) -> None: ...
'''

CSF402_INVALID_APP_WIDE = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_acks_late = True


@app.task
def charge_card(order_id: int) -> None: ...
'''

CSF403_INVALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_routes = {"shop.tasks.send_invoce": {"queue": "mail"}}


@app.task(name="shop.tasks.send_invoice")
def send_invoice(order_id: int) -> None: ...
'''

CSF403_VALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_routes = {"shop.tasks.send_invoice": {"queue": "mail"}, "shop.reports.*": "slow"}


@app.task(name="shop.tasks.send_invoice")
def send_invoice(order_id: int) -> None: ...


@app.task(name="shop.reports.monthly")
def monthly() -> None: ...
'''

CSF403_INVALID_GLOB = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_routes = {"shop.report.*": {"queue": "slow"}}


@app.task(name="shop.reports.monthly")
def monthly() -> None: ...
'''

CSF403_INVALID_NO_MODULE = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
# a task's name is its module's and its own: this one is "shop.tasks.send_receipt"
app.conf.task_routes = {"send_receipt": {"queue": "mail"}}


@app.task(name="shop.tasks.send_receipt")
def send_receipt(order_id: int) -> None: ...
'''

CSF404_INVALID = '''\
from celery import Celery

app = Celery("shop", broker="amqp://guest@localhost//")
app.conf.task_routes = {"shop.charge_card": {"priority": 9}}


@app.task(name="shop.charge_card")
def charge_card(order_id: int) -> None: ...
'''

CSF404_VALID = '''\
from celery import Celery

app = Celery("shop", broker="amqp://guest@localhost//")
app.conf.task_routes = {"shop.charge_card": {"priority": 9}}
app.conf.task_queue_max_priority = 10  # Celery declares its queues with x-max-priority


@app.task(name="shop.charge_card")
def charge_card(order_id: int) -> None: ...
'''

CSF404_INVALID_REDIS = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_routes = {
    "shop.tasks.urgent": {"queue": "work", "priority": 1},
    "shop.tasks.routine": {"queue": "work", "priority": 2},
}


@app.task(name="shop.tasks.urgent")
def urgent() -> None: ...


@app.task(name="shop.tasks.routine")
def routine() -> None: ...
'''

CSF404_INVALID_NOT_A_NUMBER = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")


@app.task(name="shop.tasks.reindex", priority="low_priority")
def reindex() -> None: ...
'''

CSF404_VALID_QUEUE_MAX_PRIORITY = '''\
from celery import Celery
from kombu import Queue

app = Celery("shop", broker="amqp://guest@localhost//")
app.conf.task_queues = [Queue("celery"), Queue("fast", max_priority=10)]
app.conf.task_routes = {"shop.tasks.charge_card": {"queue": "fast", "priority": 9}}


@app.task(name="shop.tasks.charge_card")
def charge_card(order_id: int) -> None: ...
'''

CSF405_INVALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_routes = {"shop.tasks.send_invoice": {"queue": "mail"}}


@app.task(name="shop.tasks.send_invoice")
def send_invoice(order_id: int) -> None: ...

# what `inspect active_queues` answers: each live worker and the queues it consumes
workers = {"celery@web-1": ["celery"]}
'''

CSF405_VALID = '''\
from celery import Celery

app = Celery("shop", broker="redis://localhost:6379/0")
app.conf.task_routes = {"shop.tasks.send_invoice": {"queue": "mail"}}


@app.task(name="shop.tasks.send_invoice")
def send_invoice(order_id: int) -> None: ...

# what `inspect active_queues` answers: each live worker and the queues it consumes
workers = {"celery@web-1": ["celery"], "celery@mail-1": ["mail"]}
'''

#: code -> its examples
EXAMPLES = {
    "CSF401": Examples(
        invalid=(CSF401_INVALID, CSF401_INVALID_BEAT, CSF401_INVALID_RETRY), valid=(CSF401_VALID,)
    ),
    "CSF402": Examples(invalid=(CSF402_INVALID, CSF402_INVALID_APP_WIDE), valid=(CSF402_VALID,)),
    "CSF403": Examples(invalid=(CSF403_INVALID, CSF403_INVALID_GLOB, CSF403_INVALID_NO_MODULE),
                       valid=(CSF403_VALID,)),
    "CSF404": Examples(invalid=(CSF404_INVALID, CSF404_INVALID_REDIS, CSF404_INVALID_NOT_A_NUMBER),
                       valid=(CSF404_VALID, CSF404_VALID_QUEUE_MAX_PRIORITY)),
    "CSF405": Examples(invalid=(CSF405_INVALID,), valid=(CSF405_VALID,)),
}
