# ruff: noqa
"""CSF205: a signature's own arguments cannot bind to its task's parameters."""

from celery import Celery, chain, chord, group

app = Celery("eval")


@app.task
def add(x, y):
    return x + y


@app.task
def keyword_only(value, *, key):
    return value


@app.task
def total(values):
    return sum(values)


@app.task
def flexible(*values, **options):
    return values


# wrong even without the parent's result: its own arguments are the problem
chain(add.s(1, 2), keyword_only.s()).delay()  # CSF205: 20
chain(add.s(1, 2), add.s(1, 2, 3)).delay()  # CSF205: 20
chain(add.s(1, 2), add.s(1, z=2)).delay()  # CSF205: 20
chord([add.s(1, 2)], total.s([1], [2]))()  # CSF205: 22
group(add.s(1, 2), add.s(1, 2)) | add.s(1, 2, 3)  # CSF205: 35

# fine, or not known here
chain(add.s(1), keyword_only.s(key=1)).delay(2)  # the first step gets the call's arguments
chain(add.s(1, 2), flexible.s(1, 2, 3, z=4)).delay()
chain(add.s(1, 2), add.s(*range(1))).delay()  # cannot count *args
chain(add.s(1, 2), add.s(**{"y": 1})).delay()  # cannot read **kwargs
chain(add.s(1, 2), app.signature("tasks.unknown", args=(1, 2, 3))).delay()

# send_task names a task by its registered name; Celery checks nothing before the worker
# calls it (``apply_async`` checks a task's arguments, ``send_task`` cannot)
@app.task(name="eval.resize")
def resize_named(path, width):
    return path


app.send_task("eval.resize", ("a.png",))  # CSF205: 1
app.send_task("eval.resize", args=("a.png",), kwargs={"depth": 8})  # CSF205: 1
app.send_task("eval.resize", ("a.png", 100))
app.send_task("eval.resize", args=["a.png"], kwargs={"width": 100})
app.send_task("eval.unknown", ("a.png",))


# a beat entry is a call of its task by registered name, sent as written when due (beat
# prepends nothing); a wrong one fails every time (tests/workflows/test_wf_beat_calls.py)
@app.task(name="eval.report", bind=True)
def report(self, frequency="month", *, dry_run=False):
    return frequency


app.conf.beat_schedule = {
    "monthly": {"task": "eval.report", "schedule": 60, "kwargs": {"types": 1}},  # CSF205: 5
    "twice": {"task": "eval.resize", "schedule": 60, "args": ["a.png", 1, 2]},  # CSF205: 5
    "bare": {"task": "eval.resize", "schedule": 60},  # CSF205: 5
    "yearly": {"task": "eval.report", "schedule": 60, "kwargs": {"frequency": "year"}},
    "positional": {"task": "eval.report", "schedule": 60, "args": ("year",)},
    "dry": dict(task="eval.report", schedule=60, kwargs={"dry_run": True}),
    "not-known": {"task": "other.report", "schedule": 60, "args": (1, 2, 3)},
    "not-literal": {"task": "eval.resize", "schedule": 60, "args": SOME_ARGS},
}
app.conf.beat_schedule["later"] = {"task": "eval.resize", "args": (1,)}  # CSF205: 24
app.conf.update(beat_schedule={"upd": dict(task="eval.report", args=(1, 2))})  # CSF205: 32
CELERY_BEAT_SCHEDULE = {"django": {"task": "eval.report", "kwargs": {"freq": 1}}}  # CSF205: 25
CELERY_BEAT_SCHEDULE.update({"django-ok": {"task": "eval.report", "args": ()}})


@app.on_after_configure.connect
def periodic(sender, **kwargs):
    sender.add_periodic_task(60.0, resize_named.s("a.png"), name="thumbs")  # CSF205: 36
    sender.add_periodic_task(60.0, resize_named.s(), args=("a.png", 100), name="ok")
    sender.add_periodic_task(60.0, resize_named.s("a.png", 100))
    sender.add_periodic_task(60.0, report.s(), kwargs={"frequency": "day"})


app.add_periodic_task(60.0, resize_named.s("a.png"))  # CSF205: 29


@app.on_after_finalize.connect
def periodic_by_position(celery_app, **kwargs):
    celery_app.add_periodic_task(60.0, resize_named.s("a.png"))  # CSF205: 40


def includeme(config):
    # a web framework's directive of the same name (Pyramid's ``config.add_directive``):
    # ``config`` is whatever the function is given, not known to be a Celery app
    config.add_periodic_task(60.0, resize_named.s("a.png"))


@app.on_after_finalize.connect
def periodic_elsewhere(sender, registry, **kwargs):
    registry.add_periodic_task(60.0, resize_named.s("a.png"))  # not the signal's sender


# a canvas sent with no arguments: its first steps get only their own
chain(add.s(1), add.s(2)).delay()  # CSF205: 7
chain(add.s(1), add.s(2)).apply_async(queue="q")  # CSF205: 7
add.s(1).apply_async(countdown=5)  # CSF205: 1
chain(add.s(1, 2), add.s(2)).delay()
chain(add.s(1), add.s(2)).delay(2)  # given when sent: not checked here
chain(add.s(1), add.s(2)).apply_async((2,))


# a class task: what its run forwards to (``self.run_impl``, found on its own class)
from celery import Task


class ProjectTask(Task):
    def run(self, *args, **kwargs):
        return self.run_impl("db", *args, **kwargs)


class Processor(ProjectTask):
    name = "eval.processor"

    def run_impl(self, db, previous, *, repo=None):
        return previous


processor = app.register_task(Processor())
processor.s(repo=1).apply_async()  # CSF205: 1
Processor().s(repo=1).apply_async()  # CSF205: 1
chain(add.s(1, 2), processor.s(1, 2, repo=1)).delay()  # CSF205: 20
app.send_task("eval.processor", kwargs={"repo": 1})  # CSF205: 1
processor.s({}, repo=1).apply_async()
chain(add.s(1, 2), processor.s(repo=1)).delay()


# a module run as a script (``__main__``) names its tasks after its app: ``eval.add``
app.conf.beat_schedule["main-named"] = {"task": "eval.add", "args": (1,)}  # CSF205: 24
app.conf.beat_schedule["main-named-ok"] = {"task": "eval.add", "args": (1, 2)}
chain(add.s(1, 2), app.tasks[Processor.name].s(1, 2, repo=1)).delay()  # CSF205: 20
chain(add.s(1, 2), app.tasks[Processor.name].s(repo=1)).delay()

# a task's message: every keyword of delay() is the task's (``eta`` belongs to apply_async)
add.delay(1, eta=60)  # CSF205: 1
add.apply_async((1, 2), {"z": 3})  # CSF205: 1
add.delay(1, 2)
add.apply_async((1,), {"y": 2}, countdown=60)
add.delay(*range(2))
