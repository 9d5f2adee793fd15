"""CSF206, static: a task the worker does not register, sent anyway.

* A beat entry whose task is one the project would own — ``a.b.f`` where ``a.b`` is a
  module of the project (or the main name of the app writing the schedule) — and that
  nothing in the project registers. Beat sends it every time it is due; the worker drops
  it ("Received unregistered task"), measured in ``tests/lint/test_joins_api_celery.py``.
* A beat entry naming a task by a module that only imports it (``proj.tasks.cleanup``
  when ``proj/tasks/__init__.py`` does ``from .jobs import cleanup``): Celery registers
  ``proj.tasks.jobs.cleanup``, after the defining module (``interp/registration.py``).
* A beat entry, ``send_task``, or ``.delay()``/``.apply_async()``/signature of a task
  defined in a module the project's worker never imports (``interp/workerimports.py``:
  the ``-A`` module, ``include``/``imports``, autodiscovery, Django's setup, and what they
  import); the sender imported it, the worker did not, and drops the message (measured
  in ``tests/lint/test_worker_imports_celery.py``).

Detection: the interpreter builds the step as one known to be unregistered (any doubt is
silence) and the canvas model reports it, as ``workflows.validate`` does at run time; a
beat entry at its task's name. ``celery.*`` and names of other libraries are never
reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule
from .csf205 import BEAT_WORDS

#: a module sending a task it imports (whose module the worker may never import)
SEND_WORDS = (".delay(", ".apply_async(", "send_task(")

#: a project whose worker never imports the module of a task that a view sends
_PROJECT = """\
# file: shop/__init__.py
from .celery import app as celery_app
# file: shop/celery.py
from celery import Celery

app = Celery("shop")
app.autodiscover_tasks(["shop.orders"])  # imports shop.orders.tasks, nothing else of it
# file: shop/orders/__init__.py
# file: shop/orders/tasks.py
from celery import shared_task


@shared_task
def confirm(order_id):
    return order_id
# file: shop/orders/emails.py
from celery import shared_task


@shared_task
def send_receipt(order_id):
    return order_id
# file: shop/views.py
from shop.orders.emails import send_receipt


def checkout(order_id):
    send_receipt.delay(order_id)  # the worker never imports shop.orders.emails
"""
#: the same project with the module imported where the worker imports tasks
_PROJECT_FIXED = _PROJECT.replace(
    "from celery import shared_task\n\n\n@shared_task\ndef confirm",
    "from celery import shared_task\n\nfrom .emails import send_receipt  # noqa: F401  (the "
    "worker imports it with the tasks)\n\n\n@shared_task\ndef confirm",
).replace("  # the worker never imports shop.orders.emails", "")

#: a beat entry naming a task by the package that re-exports it
_REEXPORTED = """\
# file: shop/__init__.py
# file: shop/celery.py
from celery import Celery

app = Celery("shop", include=["shop.tasks"])
app.conf.beat_schedule = {
    # the worker registers shop.tasks.cleanup.purge_carts: named after where it is defined
    "purge-carts": {"task": "shop.tasks.purge_carts", "schedule": 3600.0},
}
# file: shop/tasks/__init__.py
from .cleanup import purge_carts  # noqa: F401
# file: shop/tasks/cleanup.py
from celery import shared_task


@shared_task
def purge_carts():
    return None
"""
#: the same entry naming the task as Celery registers it
_REEXPORTED_FIXED = _REEXPORTED.replace(
    '"task": "shop.tasks.purge_carts"', '"task": "shop.tasks.cleanup.purge_carts"'
).replace(
    "    # the worker registers shop.tasks.cleanup.purge_carts: named after where it is defined\n",
    "",
)

INVALID = (
    """\
from celery import Celery

app = Celery("reports")


@app.task
def send_digest(user_id=None):
    return user_id


app.conf.beat_schedule = {
    "daily-digest": {
        "task": "reports.send_digests",  # the task is reports.send_digest
        "schedule": 86400.0,
    },
}
""",
    _PROJECT,
    _REEXPORTED,
)

VALID = (
    """\
from celery import Celery

app = Celery("reports")


@app.task
def send_digest(user_id=None):
    return user_id


app.conf.beat_schedule = {
    "daily-digest": {"task": "reports.send_digest", "schedule": 86400.0},
    # Celery's own, and another library's: registered where they are installed
    "cleanup": {"task": "celery.backend_cleanup", "schedule": 86400.0},
    "sessions": {"task": "django_celery_beat.tasks.clear", "schedule": 3600.0},
}
""",
    _PROJECT_FIXED,
    _REEXPORTED_FIXED,
)


@rule(
    "CSF206",
    invalid=INVALID,
    valid=VALID,
    without_tasks=(*CANVAS_WORDS, *SEND_WORDS, *BEAT_WORDS),
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def beat_entry_task_unregistered(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF206")
