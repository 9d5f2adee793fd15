# ruff: noqa
"""CSF208: an error callback that cannot take what Celery passes it."""

from celery import Celery

app = Celery("eval")


@app.task
def add(x, y):
    return x + y


@app.task
def on_error_new(request, exc, traceback):
    return None


@app.task
def on_error_id(task_id):
    return None


@app.task
def cleanup(task_id, folder, extra):
    return None


@app.task
def nothing():
    return None


add.apply_async((1, 2), link_error=on_error_new.s(1))  # CSF208: 36
add.s(1, 2).on_error(cleanup.s("/tmp", 1, 2))  # CSF208: 22
add.s(1, 2).link_error(on_error_id.s(1))  # CSF208: 24

# fine: what Celery passes binds
add.apply_async((1, 2), link_error=on_error_new.s())
add.s(1, 2).on_error(on_error_id.s())
add.s(1, 2).on_error(cleanup.s())  # cleanup(task_id, folder, extra) is called (request, exc, traceback)
add.s(1, 2).on_error(nothing.si())

# a chord's error callback runs for the chord (and, with
# task_allow_error_cb_on_chord_header, for each failed header part): same convention
from celery import chord


@app.task
def total(values):
    return sum(values)


chord([add.s(1, 2)], total.s()).apply_async(link_error=on_error_new.s(1))  # CSF208: 56
chord([add.s(1, 2), add.s(3, 4)], total.s()).apply_async(link_error=on_error_id.s(1))  # CSF208: 69
chord([add.s(1, 2)], total.s()).apply_async(link_error=on_error_new.s())
chord([add.s(1, 2)], total.s()).apply_async(link_error=[on_error_id.s(), nothing.si()])


# partial arguments that bind, but never reach a parameter of their own: Celery passes
# (request, exc, traceback) to an unbound *args callback, (task_id,) to a bound one, and
# the partial arguments come after them, inside *args (measured on real workers:
# tests/workflows/test_wf_liveness.py::test_an_error_callbacks_partial_arguments_...)
@app.task
def restore(*args):
    return None


@app.task
def restore_from(backup, *args):
    return None


@app.task(bind=True)
def restore_bound(self, *args):
    return None


@app.task
def restore_after(request, exc, traceback, backup, *rest):
    return None


add.apply_async((1, 2), link_error=restore.s("backup-1"))  # CSF208: 36
add.apply_async((1, 2), link_error=restore_from.s("backup-1"))  # CSF208: 36
add.s(1, 2).on_error(restore_bound.s("backup-1"))  # CSF208: 22

# fine: the callback takes what Celery passes first, or ignores it
add.apply_async((1, 2), link_error=restore.si("backup-1"))
add.apply_async((1, 2), link_error=restore.s())
add.apply_async((1, 2), link_error=restore_after.s("backup-1"))

# every way to attach an error callback: ``.set(link_error=)``, ``send_task(link_error=)``
add.s(1, 2).set(link_error=on_error_id.s(1)).delay()  # CSF208: 28
app.send_task("eval.add", (1, 2), link_error=on_error_id.s(1))  # CSF208: 46

# a chain as error callback: Celery calls it in the worker with (request, exc, traceback),
# and sends them to its first task: JSON cannot encode them, nothing of it runs; a group
# or a chord is sent as a task with the failed task's id for each member (measured:
# tests/workflows/test_wf_liveness.py::test_a_canvas_as_error_callback...)
from celery import chain, group

add.apply_async((1, 2), link_error=chain(on_error_id.s(), nothing.si()))  # CSF208: 42
add.apply_async((1, 2), link_error=chain(on_error_new.s(), nothing.si()))  # CSF208: 42
add.apply_async((1, 2), link_error=group(on_error_new.s(), on_error_id.s()))  # CSF208: 42
add.apply_async((1, 2), link_error=group(on_error_id.s(), restore.s("backup-1")))  # CSF208: 59

# fine: the chain's first step ignores what it is called with; group members take the id
add.apply_async((1, 2), link_error=chain(nothing.si(), on_error_id.si("x")))
add.apply_async((1, 2), link_error=group(on_error_id.s(), restore.s()))
add.s(1, 2).set(link_error=on_error_id.s()).delay()
