"""``bound_around``: a name bound in the functions around a join asks libcst's scopes;
one bound nowhere there is the module's (and libcst's scopes agree)."""

from __future__ import annotations

import ast

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ScopeProvider

from celery_safe.lint.codemods.bindings import bound_around
from celery_safe.lint.interp.index import build_index

SOURCE = '''\
import fetch_mod
from celery import shared_task


@shared_task
def fetch(x):
    return x


def outer(item):
    def inner(x):
        return fetch.delay(x).get()  # line 12: outer binds fetch in other scopes: unsure

    def shadowed(fetch):
        return fetch.delay(1).get()  # line 15: a parameter

    def imports():
        from tasks import fetch
        return fetch.delay(1).get()  # line 19: imported inside

    def declared():
        global fetch
        return fetch.delay(1).get()  # line 23: declared global (libcst decides)

    def comprehended(xs):
        return [fetch.delay(1).get() for fetch in xs]  # line 26: a comprehension target

    def assigned():
        fetch = item
        return fetch.delay(1).get()  # line 30: assigned

    def walrus():
        if (fetch := item):
            return fetch.delay(1).get()  # line 34: walrus

    def caught():
        try:
            pass
        except ValueError as fetch:
            return fetch.delay(1).get()  # line 40: except ... as

    return inner, shadowed, imports, declared, comprehended, assigned, walrus, caught


fetch.delay(1).get()  # line 45: module level (libcst decides)


def plain(x):
    return fetch.delay(x).get()  # line 49: fetch from the module
'''


@pytest.mark.parametrize(
    ("line", "bound"),
    [(49, False), (12, True), (15, True), (19, True), (23, True), (26, True), (30, True),
     (34, True), (40, True), (45, True)],
)
def test_bound_around(line: int, bound: bool) -> None:
    index = build_index(ast.parse(SOURCE))
    assert bound_around("fetch", line, index) is bound


def test_not_bound_means_libcst_scopes_say_global() -> None:
    """Every ``fetch`` the fast path calls unbound is a global name to libcst too."""
    module = cst.parse_module(SOURCE)
    wrapper = MetadataWrapper(module)
    scopes = wrapper.resolve(ScopeProvider)
    positions = wrapper.resolve(cst.metadata.PositionProvider)
    index = build_index(ast.parse(SOURCE))
    checked = 0
    for node, scope in scopes.items():
        if isinstance(node, cst.Name) and node.value == "fetch" and scope is not None:
            line = positions[node].start.line
            if not bound_around("fetch", line, index):
                assert all(a.scope is scope.globals for a in scope["fetch"]), line
                checked += 1
    assert checked >= 1
