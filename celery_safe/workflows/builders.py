"""``chain``, ``group``, ``chord``: Celery's own constructors, validated before they return.

They take exactly what Celery's take (varargs, one iterable or generator, canvases
composed with ``|``, nested canvases, options) and return Celery's own objects, so
everything downstream (``apply_async``, ``|``, ``.link``) is plain Celery. The one
difference: a workflow with problems raises :class:`WorkflowError` listing all of them.

    workflow = chain(store.s(), clone.si(slugs), parse.si())   # raises if any step is wrong
    workflow.delay()
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery import canvas as celery_canvas
from celery.canvas import Signature

from ..canvas.problems import WorkflowError
from .validate import validate

__all__ = ["chain", "checked", "chord", "group"]


def checked(canvas: Signature, kind: str, app: Celery | None = None) -> Signature:
    """``canvas`` itself when it validates clean; :class:`WorkflowError` otherwise."""
    problems = validate(canvas, app=app)
    if problems:
        raise WorkflowError(problems, kind)
    return canvas


def chain(*tasks: Any, **options: Any) -> Signature:
    """A validated ``celery.chain``: each step must accept its parent's result.

        chain(fetch.s(url), parse.s(), store.s())   # fetch -> parse(<page>) -> store(<doc>)

    ``chain(a, b)`` may fold into a single chord or group, exactly as with Celery.
    """
    return checked(celery_canvas.chain(*tasks, **options), "chain", options.get("app"))


def group(*tasks: Any, **options: Any) -> Signature:
    """A validated ``celery.group``: every member is checked, with no parent result."""
    return checked(celery_canvas.group(*tasks, **options), "group", options.get("app"))


def chord(header: Any, body: Any = None, **options: Any) -> Signature:
    """A validated ``celery.chord``: the body must accept the list of header results.

        chord(price.s(i) for i in ids)(total.s())    # as with Celery
        chord([price.s(i) for i in ids], total.s())

    Without a body, the header is checked now and the body when the chord is called.
    """
    made = celery_canvas.chord(header, body, **options)
    if made.body is None:
        made = PendingChord(made.tasks, None, **options)
    return checked(made, "chord", options.get("app"))


class PendingChord(celery_canvas._chord):  # type: ignore[misc]
    """A chord waiting for its body: ``chord(header)(body)`` validates the whole before sending."""

    def __call__(self, body: Any = None, **options: Any) -> Any:
        if body is not None:
            whole = celery_canvas.chord(self.tasks, body, app=self._app, **self.options)
            checked(whole, "chord", self._app)
        return super().__call__(body, **options)
