"""``task.map``/``starmap``/``chunks`` in the one canvas model: the linter and the
runtime's ``validate`` give the same answer on the same canvas (the facts are measured
on real workers by ``tests/workflows/test_wf_map_chunks.py``)."""

from __future__ import annotations

import pytest
from celery import Celery

from celery_safe.lint.engine import check_source
from celery_safe.workflows import validate

TASKS = """\
from celery import Celery, chain, chunks, xmap, xstarmap

app = Celery("shop", set_as_current=False)


@app.task(shared=False)
def add(x, y):
    return x + y


@app.task(shared=False)
def inc(x):
    return x + 1


@app.task(shared=False)
def total(numbers):
    return sum(numbers)
"""

CANVASES = [
    ("add.map([1, 2])", ["CSF205"]),
    ("inc.map([1, 2])", []),
    ("inc.starmap([(1, 2)])", ["CSF205"]),
    ("add.starmap([(1, 2), [3, 4]])", []),
    ("add.chunks([(1, 2), (3,)], 1)", ["CSF205"]),
    ("inc.chunks([(1,), (2,)], 1)", []),
    ("xmap(add.s(), [1])", ["CSF205"]),
    ("xstarmap(inc.s(), [(1,)])", []),
    ("chunks(add.s(), [(1,)], 1)", ["CSF205"]),
    ("chain(add.s(1, 2), inc.map([1, 2]), total.s())", []),  # immutable: no parent result
    ("chain(add.s(1, 2), inc.map([1]), inc.s(1))", ["CSF201"]),  # the list, then 1
]


@pytest.mark.parametrize(("canvas", "codes"), CANVASES)
def test_the_linter_and_validate_agree(canvas: str, codes: list[str]) -> None:
    source = f"{TASKS}\n\ndef start():\n    return {canvas}.delay()\n"
    found = check_source(source, "shop.py")
    assert [finding.code for finding in found] == codes
    namespace: dict[str, object] = {}
    exec(compile(TASKS, "shop.py", "exec"), namespace)  # the same tasks, registered
    app = namespace["app"]
    assert isinstance(app, Celery)
    built = eval(canvas, namespace)
    assert [problem.code for problem in validate(built, app=app)] == codes
