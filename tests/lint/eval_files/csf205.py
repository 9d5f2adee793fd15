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
chain(add.s(1), keyword_only.s(key=1)).delay(2)  # the first step gets the call's argument
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
