"""Static CSF203: only where the module's code decides the backend, and then the same
problems at the same steps as ``validate`` on the app the same code makes."""

from __future__ import annotations

import pytest

from celery_safe.lint import check_source
from celery_safe.lint.findings import CanvasDetail, Finding
from celery_safe.workflows import validate

TASKS = '''
@app.task(shared=False)
def fetch(url):
    return len(url)

@app.task(shared=False)
def merge(sizes):
    return sum(sizes)

canvas = chain(fetch.si("a"), group(fetch.si("b"), fetch.si("c")), merge.s())
other = chord([fetch.s("a")], merge.s())
'''
HEAD = "from celery import Celery, chain, chord, group\n"


def _static(source: str) -> list[tuple[str, str]]:
    return [(f.code, _step(f)) for f in check_source(source) if f.code == "CSF203"]


@pytest.mark.parametrize(
    "made",
    [
        'app = Celery("shop", broker="memory://", backend="rpc://")',
        'app = Celery("shop", broker="memory://", result_backend="rpc")',
    ],
)
def test_a_literal_rpc_backend_is_reported_where_validate_reports_it(made: str) -> None:
    source = HEAD + made + "\n" + TASKS
    found = _static(source)
    assert found == [("CSF203", "chain[1]"), ("CSF203", "")]
    namespace: dict[str, object] = {"__name__": "shop"}  # tasks not shared: no leak
    exec(compile(source, "shop.py", "exec"), namespace)
    runtime = [
        (p.code, p.where)
        for name in ("canvas", "other")
        for p in validate(namespace[name])  # type: ignore[arg-type]
    ]
    assert runtime == found
    assert "'shop' is made with backend" in check_source(source)[0].message


@pytest.mark.parametrize(
    "made",
    [
        'app = Celery("shop", broker="memory://", backend="redis://")',
        'app = Celery("shop", broker="memory://")',  # configured elsewhere, usually
        'app = Celery("shop", backend="rpc://")\napp.config_from_object("settings")',
        'app = Celery("shop", backend="rpc://")\napp.conf.result_backend = "redis://"',
        'app = Celery("shop", backend="rpc://")\napp.conf.update(RESULTS)',
        'app = Celery("shop", backend=RESULTS)',
        'app = Celery("shop", backend="rpc://", **SETTINGS)',
        'app = Celery("shop", backend="rpc://")\nother = Celery("other")',
        'app = Celery("shop", backend="rpc://")\napp = Celery("shop", backend="redis://")',
    ],
)
def test_a_backend_the_code_does_not_decide_is_not_reported(made: str) -> None:
    assert _static(HEAD + made + "\n" + TASKS) == []


def _step(finding: Finding) -> str:
    assert isinstance(finding.detail, CanvasDetail)
    return finding.detail.step
