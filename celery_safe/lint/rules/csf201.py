"""CSF201: a chain link or callback that cannot accept the parent's result (static)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chain

app = Celery("registry")


@app.task
def store_yaml():
    return ["core", "k8s"]


@app.task
def clone(slugs=None):
    return slugs


def populate(slugs):
    return chain(store_yaml.s(), clone.s(slugs))  # clone gets (<result>, slugs)
""",
    """\
from celery import Celery, Signature, chain

app = Celery("registry")


@app.task(name="registry.store_yaml")
def store_yaml():
    return ["core", "k8s"]


@app.task(name="registry.clone")
def clone(slugs=None):
    return slugs


def populate(slugs):
    # a signature made from a task's name is that task's: clone gets (<result>, slugs)
    return chain(Signature("registry.store_yaml"), Signature("registry.clone", (slugs,)))
""",
    """\
import functools

from celery import Celery, chain

app = Celery("alerts")


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@app.task
def write_notice():
    return "notice.xml"


@app.task
@logged  # Celery's check sees wrapper(*args, **kwargs); the worker calls create_tag
def create_tag(filename, tag, graceid):
    return filename


def publish(graceid):
    # create_tag gets (<result>, "notice.xml", "public", graceid): TypeError in the worker
    return chain(write_notice.s(), create_tag.s("notice.xml", "public", graceid))
""",
)

VALID = (
    """\
from celery import Celery, chain

app = Celery("registry")


@app.task
def store_yaml():
    return ["core", "k8s"]


@app.task
def clone(slugs=None):
    return slugs


def populate(slugs):
    return chain(store_yaml.s(), clone.si(slugs))  # immutable: ignores the result
""",
    """\
import functools

from celery import Celery, chain

app = Celery("alerts")


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@app.task
def write_notice():
    return "notice.xml"


@app.task
@logged
def create_tag(filename, tag, graceid):
    return filename


def publish(graceid):
    return chain(write_notice.s(), create_tag.s("public", graceid))  # filename: the result
""",
)


NO_FIX = "choose between .si() and accepting the parent's result by hand"


@rule(
    "CSF201",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
    no_fix=NO_FIX,
)
def link_cannot_take_parent_result(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF201")
