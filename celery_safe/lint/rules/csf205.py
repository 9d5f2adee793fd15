"""CSF205: a signature's own arguments cannot bind to its task (static front-end of the
canvas model's check; the first steps of a canvas are skipped, as the arguments the
canvas is called with are not known where it is built, unless they are: a task or lone
signature sent with arguments written at the call, ``t.delay(1, eta=when)``, gets those
and no more; Celery refuses the message with ``TypeError``, or the worker's call fails).
Beat entries and ``add_periodic_task`` signatures are complete calls: beat sends them as
written."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

#: A beat schedule is written with one (a settings or config module's top level,
#: ``app.conf``); ``add_periodic_task`` is given a signature, which ``CANVAS_WORDS`` wake
#: on. Narrow on purpose: Celery's own modules, which read ``conf.beat_schedule``, stay
#: asleep (a schedule in a config class's body is found only in a module woken anyway).
BEAT_WORDS = ("BEAT_SCHEDULE", "\nbeat_schedule", "conf.beat_schedule =",
              'conf.beat_schedule["', "conf.beat_schedule['", "beat_schedule=")

INVALID = (
    """\
from celery import Celery, chain

app = Celery("registry")


@app.task
def fetch(path):
    return path


@app.task
def resize(path, width, *, height=None):
    return path


def thumbnail(path):
    return chain(fetch.s(path), resize.s(100, depth=8))  # no parameter named depth
""",
    """\
from celery import Celery

app = Celery("registry")


@app.task
def resize(path, width):
    return path


def thumbnails():
    # map gives each item as the one argument: resize("a.png") misses width
    return resize.map(["a.png", "b.png"]).delay()
""",
    """\
from celery import Celery
from celery.schedules import crontab

app = Celery("reports")


@app.task(name="reports.collect")
def collect(frequency="month"):
    return frequency


app.conf.beat_schedule = {
    "collect-monthly": {  # beat sends collect(types=[...]): no parameter named types
        "task": "reports.collect",
        "schedule": crontab(day_of_month=1, hour=3, minute=0),
        "kwargs": {"types": ["loans"]},
    },
}
""",
    """\
from celery import Celery

app = Celery("reports")


@app.task
def purge(days):
    return days


@app.on_after_configure.connect
def schedule(sender, **kwargs):
    sender.add_periodic_task(3600.0, purge.s(), name="purge")  # purge() misses days
""",
    """\
from celery import shared_task


@shared_task
def send_digest(user_id):
    return user_id


def schedule(user, when):
    send_digest.delay(user.pk, eta=when)  # delay() passes eta to the task: apply_async(eta=)
""",
)

VALID = (
    """\
from celery import Celery, chain

app = Celery("registry")


@app.task
def fetch(path):
    return path


@app.task
def resize(path, width, *, height=None):
    return path


def thumbnail(path):
    return chain(fetch.s(path), resize.s(100, height=80))
""",
    """\
from celery import Celery

app = Celery("registry")


@app.task
def resize(path, width):
    return path


def thumbnails():
    # starmap splats each item: resize("a.png", 100)
    return resize.starmap([("a.png", 100), ("b.png", 200)]).delay()
""",
    """\
from celery import Celery
from celery.schedules import crontab

app = Celery("reports")


@app.task(name="reports.collect")
def collect(frequency="month"):
    return frequency


app.conf.beat_schedule = {
    "collect-yearly": {
        "task": "reports.collect",
        "schedule": crontab(day_of_month=1, month_of_year=1, hour=3, minute=0),
        "kwargs": {"frequency": "year"},
    },
}
""",
    """\
from celery import Celery

app = Celery("reports")


@app.task
def purge(days):
    return days


@app.on_after_configure.connect
def schedule(sender, **kwargs):
    sender.add_periodic_task(3600.0, purge.s(30), name="purge")
""",
    """\
from celery import shared_task


@shared_task
def send_digest(user_id):
    return user_id


def schedule(user, when):
    send_digest.apply_async((user.pk,), eta=when)
""",
)


@rule(
    "CSF205",
    invalid=INVALID,
    valid=VALID,
    without_tasks=(*CANVAS_WORDS, *BEAT_WORDS),
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def signature_arguments_do_not_match(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF205")
