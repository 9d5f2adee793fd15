"""CSF207's kinds compose: an argument is reported exactly when something JSON refuses
is written in it, directly or inside lists, tuples and dicts, or through a name bound
once; what kombu carries, and what is not known, never is."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.lint import check_source

HEADER = """\
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from celery import shared_task
from django.db import models
from django.shortcuts import get_object_or_404


class Shop(models.Model):
    pass


class Plain:
    pass


@shared_task
def notify(*args, **kwargs):
    return args


def view(request, xs, obj):
"""

#: Written as an argument, each is something kombu's JSON refuses (measured in
#: tests/canvas/test_encoding_kombu.py) ...
REFUSED = (
    "{1, 2}", "frozenset([1])", "(i for i in xs)", "lambda: 1", "timedelta(days=1)",
    "Shop.objects.get(pk=1)", "Shop(pk=1)", "get_object_or_404(Shop, pk=1)",
    "Shop.objects.filter(pk=1).first()", "request.user",
    # a QuerySet, of objects or of values (measured: tests/canvas/test_encoding_kombu.py)
    "Shop.objects.filter(pk=1)", "Shop.objects.values('pk')",
    "Shop.objects.values_list('pk', flat=True)",
)
#: ... and each of these it carries, or the linter cannot know.
OTHER = (
    "1", "'a'", "None", "xs", "obj", "obj.owner", "Shop.objects.get(pk=1).pk",
    "request.user.pk", "datetime.now()", "Decimal('1.5')", "uuid4()", "b'x'",
    "[i for i in xs]", "sorted({1})", "Plain()",
    "list(Shop.objects.values_list('pk', flat=True))",
    "list(Shop.objects.all())",  # ``[]`` when nothing is found: not known
)

Leaf = tuple[str, bool]


def _containers(inner: st.SearchStrategy[Leaf]) -> st.SearchStrategy[Leaf]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        pair.map(lambda p: (f"[{p[0][0]}, {p[1][0]}]", p[0][1] or p[1][1])),
        inner.map(lambda a: (f"({a[0]},)", a[1])),
        inner.map(lambda a: (f"{{'k': {a[0]}}}", a[1])),
    )


LEAVES = st.one_of(
    st.sampled_from(REFUSED).map(lambda e: (e, True)),
    st.sampled_from(OTHER).map(lambda e: (e, False)),
)
ARGUMENTS = st.recursive(LEAVES, _containers, max_leaves=4)


@settings(max_examples=150, deadline=None)
@given(argument=ARGUMENTS, through_a_name=st.booleans(),
       how=st.sampled_from(["delay({})", "s({}).delay()", "apply_async(({},))"]))
def test_reported_exactly_when_json_refuses_something_in_it(
    argument: Leaf, through_a_name: bool, how: str
) -> None:
    text, refused = argument
    if through_a_name:
        body = f"    value = {text}\n    notify.{how.format('1, value')}\n"
    else:
        body = f"    notify.{how.format('1, ' + text)}\n"
    found = [f for f in check_source(HEADER + body, "views.py") if f.code == "CSF207"]
    assert len(found) == (1 if refused else 0), (body, found)


@given(argument=st.sampled_from(REFUSED), how=st.sampled_from(["s", "si"]))
def test_a_signature_kept_is_not_read(argument: str, how: str) -> None:
    """Its arguments may be replaced before it is sent (``sig.kwargs[k] = ...``), or it
    is never sent (a test inspecting it)."""
    source = HEADER + f"    sig = notify.{how}({argument})\n    return sig\n"
    assert [f for f in check_source(source, "views.py") if f.code == "CSF207"] == []


@given(argument=st.sampled_from(REFUSED))
def test_a_project_on_another_serializer_is_never_reported(argument: str) -> None:
    source = HEADER + f"    notify.delay({argument})\n\n\nCELERY_TASK_SERIALIZER = 'pickle'\n"
    assert [f for f in check_source(source, "views.py") if f.code == "CSF207"] == []
