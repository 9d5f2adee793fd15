"""The canvas arity checks agree with Python's own binding rules on generated signatures.

Each example defines a task with a random signature (defaults, ``*args``,
positional-only, keyword-only, ``**kwargs``, ``bind=True``), chains it after another
task with random bound arguments, lints the module, and compares what is reported with
whether calling the same ``def`` raises ``TypeError``: CSF205 when its own arguments
fail (``fn(*args, **kwargs)`` fails and so does the chained call), CSF201 when only the
parent's result makes ``fn(parent_result, *args, **kwargs)`` fail (a real call:
``inspect.Signature.bind`` rejects a positional-only name
passed as a keyword even when ``**kwargs`` would take it).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.lint import check_source

NAMES = ("a", "b", "c", "d", "e")


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, int, list[str]]:
    names = list(NAMES)
    n_positional = draw(st.integers(0, 3))
    positional, names = names[:n_positional], names[n_positional:]
    n_defaults = draw(st.integers(0, n_positional))
    posonly = draw(st.integers(0, n_positional))
    n_kwonly = draw(st.integers(0, 2))
    kwonly, names = names[:n_kwonly], names[n_kwonly:]
    kw_defaults = [draw(st.booleans()) for _ in kwonly]
    parts = [p + ("=0" if i >= n_positional - n_defaults else "") for i, p in enumerate(positional)]
    if posonly:
        parts.insert(posonly, "/")
    if draw(st.booleans()):
        parts.append("*args")
    elif kwonly:
        parts.append("*")
    parts += [k + ("=0" if d else "") for k, d in zip(kwonly, kw_defaults, strict=True)]
    if draw(st.booleans()):
        parts.append("**kwargs")
    bind = draw(st.booleans())
    params = ", ".join((["self"] if bind else []) + parts)
    n_args = draw(st.integers(0, 3))
    keywords = draw(st.lists(st.sampled_from([*NAMES, "z"]), max_size=2, unique=True))
    return params, "True" if bind else "False", n_args, keywords


@settings(max_examples=200, deadline=None, database=None)
@given(case=cases())
def test_csf201_matches_python_binding(case: tuple[str, str, int, list[str]]) -> None:
    params, bind, n_args, keywords = case
    args = ", ".join([str(i) for i in range(n_args)] + [f"{k}=1" for k in keywords])
    source = (
        "from celery import Celery, chain\n"
        "app = Celery()\n\n"
        "@app.task\ndef first():\n    return 1\n\n"
        f"@app.task(bind={bind})\ndef step({params}):\n    return 1\n\n"
        f"chain(first.s(), step.s({args}))()\n"
    )
    namespace: dict[str, Callable[..., object]] = {}
    exec(f"def step({params}):\n    return 1\n", namespace)  # the same def, to call
    leading = ["self"] if bind == "True" else []

    def fails(*received: object) -> bool:
        try:
            namespace["step"](*leading, *received, *range(n_args), **dict.fromkeys(keywords, 1))
        except TypeError:
            return True
        return False

    chained, alone = fails("parent"), fails()
    expected = [] if not chained else ["CSF205"] if alone else ["CSF201"]
    reported = [f.code for f in check_source(source) if f.code in ("CSF201", "CSF205")]
    assert reported == expected, (source, reported)


def _celery_calls_in_process(function: Callable[..., object], bind: bool, args: tuple[int, ...],
                             kwargs: dict[str, int]) -> bool:
    """What the installed Celery decides for an error callback ``task.s(*args, **kwargs)``
    (``backends/base.py``, ``_call_task_errbacks``), asked of Celery's own pieces."""
    from functools import partial

    from celery import Celery
    from celery.utils.functional import arity_greater

    app = Celery(set_as_current=False)
    task = app.task(bind=bind, shared=False)(function)
    signature = task.s(*args, **kwargs)
    header = signature.type.__header__
    if isinstance(header, partial):
        return False
    backend = app.backend
    if hasattr(backend, "_errback_arity_greater"):  # 5.7: the partial arguments count
        return bool(backend._errback_arity_greater(signature, 1))
    return bool(arity_greater(header, 1))


@settings(max_examples=150, deadline=None, database=None)
@given(case=cases())
def test_errback_convention_is_celerys(case: tuple[str, str, int, list[str]]) -> None:
    """CSF208's model of how Celery calls an error callback (in-process with
    ``(request, exc, traceback)``, or sent with the task id) is the installed Celery's
    own decision, partial arguments included (they count from 5.7)."""
    import ast

    from celery_safe.canvas import Step, errback_received
    from celery_safe.canvas.text import SourceText
    from celery_safe.lint.interp.index import build_index

    params, bind, n_args, keywords = case
    source = f"from celery import shared_task\n\n@shared_task(bind={bind})\ndef eb({params}):\n    pass\n"
    namespace: dict[str, Callable[..., object]] = {}
    exec(f"def eb({params}):\n    pass\n", namespace)
    args = tuple(range(n_args))
    kwargs = dict.fromkeys(keywords, 1)
    info = build_index(ast.parse(source)).task_names["eb"]
    step = Step(
        name="eb", spec=info.spec(), args=tuple(SourceText(str(a)) for a in args),
        kwargs={k: SourceText("1") for k in kwargs},
    )
    in_process = errback_received(step).placeholders[0] == "<request>"
    assert in_process == _celery_calls_in_process(namespace["eb"], bind == "True", args, kwargs)
