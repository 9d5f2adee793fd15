# ruff: noqa
"""CSF201: a chain link or callback that cannot accept the parent's result."""

from celery import Celery, chain, signature

app = Celery("eval")


@app.task
def add(x, y):
    return x + y


@app.task
def done():
    return True


@app.task(bind=True)
def bound(self, value):
    return value


@app.task
def flexible(*values, **options):
    return values


@app.task
def keyword_only(value, *, key):
    return value


@app.task(typing=False)
def untyped(x):
    return x


chain(add.s(1, 2), add.s(3, 4)).delay()  # CSF201: 20
(add.s(1, 2) | done.s()).delay()  # CSF201: 16
add.s(1, 2) | add.s(3) | bound.s(9)  # CSF201: 26
add.apply_async((1, 2), link=done.s())  # CSF201: 30
add.s(1, 2).link(done.s())  # CSF201: 18

step = done.s()
workflow = chain(add.s(1, 2), step)  # CSF201: 31

# fine: the parent's result fills the missing argument, or the step is immutable
chain(add.s(1, 2), add.s(3), bound.s(), flexible.s(1, 2)).delay()
chain(add.s(1, 2), done.si(), add.si(1, 2), done.signature(immutable=True)).delay()
chain(add.s(1, 2), keyword_only.s(key=1), done.s().set(immutable=True)).delay()
chain(add.s(1, 2), untyped.s(1, 2, 3)).delay()
chain(add.s(1, 2), signature("tasks.unknown")).delay()
add.s(1) | add.s(3)

# every way Celery builds a signature resolves to its task (celery/canvas.py, app/base.py):
# a task named by a string (an explicit ``name=``), a task object, a dict, a clone
from celery import Signature, subtask


@app.task(name="eval.finish")
def finish():
    return True


chain(add.s(1, 2), Signature("eval.finish"))  # CSF201: 20
chain(add.s(1, 2), signature("eval.finish", args=()))  # CSF201: 20
chain(add.s(1, 2), subtask("eval.finish"))  # CSF201: 20
chain(add.s(1, 2), app.signature("eval.finish"))  # CSF201: 20
chain(add.s(1, 2), signature(finish))  # CSF201: 20
chain(add.s(1, 2), Signature.from_dict({"task": "eval.finish", "args": []}))  # CSF201: 20
chain(add.s(1, 2), app.tasks["eval.finish"].s())  # CSF201: 20
chain(add.s(1, 2), app.tasks.get("eval.finish").s())  # CSF201: 20
chain(add.s(1, 2), finish.s().clone())  # CSF201: 20
chain(add.s(1, 2), add.s().replace(args=(1, 2)))  # CSF201: 20
chain(add.s(1, 2), add.s().clone(args=(1, 2)))  # CSF201: 20
chain(add.s(1, 2), add.s(1).link(finish.s()))  # CSF201: 34

# fine: what Celery builds binds (clone's args come first; an immutable one keeps its own)
chain(add.s(1, 2), Signature("eval.finish", immutable=True))
chain(add.s(1, 2), Signature.from_dict({"task": "eval.finish", "immutable": True}))
chain(add.s(1, 2), add.s().clone(args=(1,)))
chain(add.s(1, 2), add.si(1, 2).clone(args=(3,)))
chain(add.s(1, 2), add.s(1, 2).replace(args=(1,)))
chain(add.s(1, 2), app.signature("eval.unknown"))
chain(add.s(1, 2), Signature.from_dict({"task": "celery.chain", "subtask_type": "chain"}))


# a project decorator between @app.task and the def: Celery's check sees only the
# wrapper's (*args, **kwargs); the worker calls what the wrapper forwards to
# (tests/workflows/test_wf_beat_calls.py)
import functools

from somewhere_else import opaque


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def in_session(fn):
    def wrapper(*args, **kwargs):
        return fn("session", *args, **kwargs)

    return wrapper


@app.task
@logged
def tag(filename, tag):
    return filename


@app.task
@in_session
def store(session, item):
    return item


@app.task
@opaque
def hidden(filename, tag):
    return filename


chain(add.s(1, 2), tag.s("a.xml", "public"))  # CSF201: 20
chain(add.s(1, 2), store.s("extra"))  # CSF201: 20
chain(add.s(1, 2), tag.s("public"))
chain(add.s(1, 2), store.s())
chain(add.s(1, 2), hidden.s("a.xml", "public"))  # another library's decorator: unknown

# a canvas grown with ``|=`` is the chain ``canvas | group(...)``
grown = add.s(1, 2)
grown |= tag.s("a.xml", "public")  # CSF201: 10
grown |= finish.si()


def cooldown(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs.pop("_force", False):  # it takes more than it forwards: not known
            return None
        return fn(*args, **kwargs)

    return wrapper


@app.task
@cooldown
def cooled(filename):
    return filename


chain(add.s(1, 2), cooled.s(_force=True))
chain(add.s(1, 2), cooled.s("extra", _force=True))  # the wrapper's parameters: not known
