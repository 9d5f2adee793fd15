"""CSF207 through the values the interpreter follows: a container holding something
kombu's JSON refuses is refused (however deep, whatever the container), a QuerySet is
refused, and both flow through names, helpers' returns and ``apply_async``'s packs.

The generated arguments are also real Python values: the linter reports one exactly
when kombu's JSON encoder (the installed kombu, asked here) refuses it. A Django model
object, a QuerySet and ``values_list(flat=True)`` stand in as ``object()`` (kombu
refuses that too); that kombu refuses the real ones, on a real model and an in-memory
SQLite database, is measured in ``tests/canvas/test_encoding_kombu.py``.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kombu.exceptions import EncodeError
from kombu.serialization import dumps

from celery_safe.lint import check_source

HEADER = """\
from datetime import datetime
from decimal import Decimal

from celery import shared_task
from django.db import models


class Order(models.Model):
    pass


@shared_task
def ship(*args, **kwargs):
    return args


def build(pk):
    order = Order.objects.get(pk=pk)
    return {value}


def view(request, pk, flag, normalize):
    order = Order.objects.get(pk=pk)
"""

#: What a model object is to kombu's encoder, for this file (see the module's doc).
MODEL = object()
#: Leaves: their source, and the value it makes.
LEAVES: tuple[tuple[str, Any], ...] = (
    ("1", 1),
    ("'a'", "a"),
    ("None", None),
    ("Decimal('1.5')", decimal.Decimal("1.5")),
    ("b'x'", b"x"),
    ("datetime(2024, 1, 2)", datetime.datetime(2024, 1, 2)),
    ("order.pk", 1),
    ("[]", []),
    ("{1, 2}", {1, 2}),
    ("order", MODEL),
    ("Order.objects.filter(pk=pk)", MODEL),
    ("Order.objects.values_list('pk', flat=True)", MODEL),
    ("Order.objects.exclude(pk=1).order_by('pk').values('pk')", MODEL),
    ("list(Order.objects.values_list('pk', flat=True))", [1]),
)

Made = tuple[str, Any]


def _containers(inner: st.SearchStrategy[Made]) -> st.SearchStrategy[Made]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        pair.map(lambda p: (f"[{p[0][0]}, {p[1][0]}]", [p[0][1], p[1][1]])),
        inner.map(lambda a: (f"({a[0]},)", (a[1],))),
        pair.map(lambda p: (f"{{'a': {p[0][0]}, 'b': {p[1][0]}}}", {"a": p[0][1], "b": p[1][1]})),
        inner.map(lambda a: (f"dict(k={a[0]})", {"k": a[1]})),
    )


VALUES = st.recursive(st.sampled_from(LEAVES), _containers, max_leaves=5)

#: How the value reaches the send: ``{value}`` is its source.
FLOWS = {
    "at the call": "    ship.delay({value})\n",
    "through a name": "    payload = {value}\n    ship.delay(payload)\n",
    "through two names": "    inner = {value}\n    outer = [inner]\n    ship.delay(outer)\n",
    "from a helper": "    ship.delay(build(pk))\n",
    "as a keyword": "    ship.delay(data={value})\n",
    "in apply_async's args": "    ship.apply_async(args=({value},))\n",
    "in a kept args pack": "    packed = [{value}]\n    ship.apply_async(args=packed)\n",
    "in a signature sent later": "    sig = ship.s({value})\n    sig.delay()\n",
    "as a kept signature's keyword": "    sig = ship.si(note={value})\n    sig.apply_async()\n",
    "in a kept kwargs pack": (
        "    options = {{'data': {value}}}\n    ship.apply_async(kwargs=options)\n"
    ),
}


def _refused_by_kombu(value: Any) -> bool:
    try:
        dumps(((value,), {}, {}), serializer="json")  # type: ignore[no-untyped-call]
    except EncodeError:
        return True
    return False


def _found(source: str) -> list[str]:
    return [f.message for f in check_source(source, "views.py") if f.code == "CSF207"]


@settings(max_examples=300, deadline=None)
@given(made=VALUES, flow=st.sampled_from(sorted(FLOWS)))
def test_reported_exactly_when_kombu_refuses_the_value(made: Made, flow: str) -> None:
    text, value = made
    source = HEADER.format(value=text) + FLOWS[flow].format(value=text)
    found = _found(source)
    assert len(found) == (1 if _refused_by_kombu(value) else 0), (source, found)


#: What may happen to the container between being made and being sent: the rule cannot
#: know what is sent any more, and is silent.
CHANGED = {
    "an item replaced": "    payload['k'] = 1\n",
    "an item deleted": "    del payload['k']\n",
    "updated": "    payload.update(k=1)\n",
    "merged into": "    payload |= {'k': 1}\n",
    "handed to a function": "    normalize(payload)\n",
    "changed through an alias": "    alias = payload\n    alias['k'] = 1\n",
    "changed inside another": "    outer = {'in': payload}\n    outer['in']['k'] = 1\n",
    "replaced": "    payload = normalize(payload)\n",
    "replaced on one path": "    if flag:\n        payload = {'k': order.pk}\n",
}


@given(change=st.sampled_from(sorted(CHANGED)),
       container=st.sampled_from(["{'k': order}", "dict(k=order)", "{'k': [order]}"]))
def test_silent_when_the_container_may_change_before_it_is_sent(
    change: str, container: str
) -> None:
    source = HEADER.format(value="None") + (
        f"    payload = {container}\n{CHANGED[change]}    ship.delay(payload)\n"
    )
    assert _found(source) == [], source


SIGNATURE_CHANGED = {
    "its args replaced": "    sig.args = (order.pk,)\n",
    "its kwargs changed": "    sig.kwargs['note'] = 1\n",
    "handed to a function": "    normalize(sig)\n",
    "made on one path": "    if flag:\n        sig = ship.s(order.pk)\n",
}


@given(change=st.sampled_from(sorted(SIGNATURE_CHANGED)))
def test_silent_when_a_kept_signature_may_change_before_it_is_sent(change: str) -> None:
    source = HEADER.format(value="None") + (
        f"    sig = ship.s(order)\n{SIGNATURE_CHANGED[change]}    sig.delay()\n"
    )
    assert _found(source) == [], source


def test_a_signature_kept_and_not_sent_here_is_not_read() -> None:
    """Returned, stored, put in a canvas: whoever sends it may change it first."""
    for end in ("    return sig\n", "    chain(sig, ship.s()).delay()\n"):
        source = "from celery import chain\n" + HEADER.format(value="None") + (
            "    sig = ship.s(order)\n" + end
        )
        assert _found(source) == [], source


@given(
    container=st.sampled_from(["{'k': order}", "[order]", "Order.objects.all()"]),
    how=st.sampled_from(["read", "logged", "len"]),
)
def test_reading_a_container_keeps_what_it_holds(container: str, how: str) -> None:
    read = {
        "read": "    payload.get('k') if isinstance(payload, dict) else None\n",
        "logged": "    print(payload)\n",
        "len": "    len(payload)\n",
    }[how]
    source = HEADER.format(value="None") + (
        f"    payload = {container}\n{read}    ship.delay(payload)\n"
    )
    assert len(_found(source)) == 1, source


UNSURE = {
    # the value on one path only: it may be plain data when sent
    "bound on one path": "    payload = [order.pk]\n    if flag:\n        payload = [order]\n",
    "a loop's body": "    payload = []\n    for _ in range(pk):\n        payload = [order]\n",
    # the helper may return plain data
    "a helper's returns differ": None,
    # ``list(qs)`` is ``[]`` when nothing is found: carried
    "listing a QuerySet": "    payload = list(Order.objects.filter(pk=pk))\n",
    # a name the function binds is not the model class
    "a shadowed class": "    Order = normalize\n    payload = [Order.objects.filter(pk=pk)]\n",
}


@given(case=st.sampled_from(sorted(UNSURE)))
def test_silent_where_the_value_is_not_known(case: str) -> None:
    body = UNSURE[case]
    header = HEADER.format(value="None")
    if body is None:
        header = header.replace(
            "    return None\n", "    if pk:\n        return [order]\n    return [pk]\n"
        )
        body = "    payload = build(pk)\n"
    source = header + body + "    ship.delay(payload)\n"
    assert _found(source) == [], source


def test_the_message_says_where_the_refused_value_is() -> None:
    source = HEADER.format(value="None") + (
        "    payload = {'user': {'orders': [1, order]}}\n    ship.delay(payload)\n"
        "    ship.delay(Order.objects.filter(pk=pk))\n"
    )
    held, queryset = _found(source)
    assert "(Order, a Django model instance, at ['user']['orders'][1])" in held
    assert "send its primary key (payload['user']['orders'][1].pk)" in held
    assert "(Order, a Django QuerySet)" in queryset
    assert "list(Order.objects.filter(pk=pk).values_list('pk', flat=True))" in queryset


def test_a_project_on_another_serializer_is_never_reported() -> None:
    source = HEADER.format(value="None") + (
        "    ship.delay({'k': order}, Order.objects.all())\n\n\n"
        "CELERY_TASK_SERIALIZER = 'pickle'\n"
    )
    assert _found(source) == []


@given(change=st.sampled_from(sorted(CHANGED)),
       container=st.sampled_from(["{'k': frozenset([1])}", "[request.user]", "(view,)"]))
def test_silent_when_a_container_the_interpreter_does_not_track_may_change(
    change: str, container: str
) -> None:
    """Items only the rule reads from the source (``frozenset(...)``, ``request.user``,
    a function): a change of the container is read from the source too."""
    source = HEADER.format(value="None") + (
        f"    payload = {container}\n{CHANGED[change]}    ship.delay(payload)\n"
    )
    assert _found(source) == [], source
    unchanged = HEADER.format(value="None") + (
        f"    payload = {container}\n    ship.delay(payload)\n"
    )
    assert len(_found(unchanged)) == 1, unchanged


@given(depth=st.integers(min_value=1, max_value=4), kinds=st.lists(
    st.sampled_from(["[{}]", "({},)", "{{'k': {}}}", "dict(k={})"]), min_size=4, max_size=4,
))
def test_containers_are_followed_four_deep(depth: int, kinds: list[str]) -> None:
    text, value = "order", MODEL
    for kind in kinds[:depth]:
        text = kind.format(text)
        value = {"k": value}  # what kombu sees: one more container around it
    assert _refused_by_kombu(value)
    source = HEADER.format(value="None") + f"    payload = {text}\n    ship.delay(payload)\n"
    assert len(_found(source)) == 1, source
