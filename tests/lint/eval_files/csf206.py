# ruff: noqa
"""CSF206: a beat entry naming a task of the project that nothing registers.

One module: its app's main name (``eval``) is what its tasks are named by when it runs
as ``__main__``, and what a schedule names them by (the multi-module cases, Django
settings naming ``app.tasks.f``: ``tests/lint/test_beat_unregistered.py``).
"""

from celery import Celery, Task, signature
from celery.schedules import crontab
from mylib import job

app = Celery("eval")


@app.task
def report(day=None):
    return day


@app.task(name="eval.renamed")
def old_name():
    return 1


@job  # not known to be Celery's: it may register ``legacy``
def legacy():
    return 0


class Cleanup(Task):
    def run(self):
        return 0


app.conf.beat_schedule = {
    "daily": {"task": "eval.report", "schedule": crontab(hour=3)},
    "renamed": {"task": "eval.renamed", "schedule": 60.0},
    "legacy": {"task": "eval.legacy", "schedule": 60.0},
    "class": {"task": "eval.Cleanup", "schedule": 60.0},
    "celery": {"task": "celery.backend_cleanup", "schedule": 60.0},
    "library": {"task": "django_celery_results.tasks.clean", "schedule": 60.0},
    "typo": {"task": "eval.reprot", "schedule": 60.0},  # CSF206: 22
    "removed": {"task": "eval.old_name", "schedule": 60.0},  # CSF206: 25
}
app.conf.beat_schedule["weekly"] = {"task": "eval.weekly_report", "schedule": 60.0}  # CSF206: 45


@app.on_after_configure.connect
def schedule(sender, **kwargs):
    sender.add_periodic_task(60.0, signature("eval.report"), name="report")
    sender.add_periodic_task(60.0, report.s(), name="by-object")
    sender.add_periodic_task(60.0, signature("eval.reports"), name="typo")  # CSF206: 36
