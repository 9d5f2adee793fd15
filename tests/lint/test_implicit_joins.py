"""Joins Celery's public API makes implicitly, modelled from its code (measured on a
prefork worker in ``test_joins_api_celery.py``): ``~sig`` is ``apply_async().get()``,
and results reached through ``zip`` keep their position."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.lint import check_source

HEAD = '''\
from celery import Celery, chain, chord, group

app = Celery("p")


@app.task
def add(x, y):
    return x + y

'''


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in check_source(HEAD + source))


def _line(source: str, marker: str) -> int:
    return (HEAD + source).splitlines().index(marker) + 1


#: signatures and canvases: ``~`` of each is a join
CANVASES = st.sampled_from([
    "add.s(x, 1)",
    "add.si(x, 1)",
    "add.signature((x, 1))",
    "group(add.s(i, 1) for i in range(x))",
    "chain(add.s(x, 1), add.s(2))",
    "(add.s(x, 1) | add.s(2))",
    "chord([add.s(x, 1)], add.s(0))",
    "add.s(x, 1).set(countdown=1)",
])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(canvas=CANVASES, named=st.booleans(), in_task=st.booleans())
def test_inverting_a_canvas_joins_it(canvas: str, named: bool, in_task: bool) -> None:
    line = f"    return ~{'sig' if named else canvas}"
    body = (f"    sig = {canvas}\n" if named else "") + line + "\n"
    source = ("@app.task\n" if in_task else "") + "def run(x):\n" + body
    found = _codes(source)
    if in_task:
        assert found == [(_line(source, line), "CSF101")]
    else:
        assert found == []  # outside a task a join is fine (CSF901 needs a timeout it cannot take)


def test_inverting_an_int_or_an_unknown_is_not_a_join() -> None:
    source = '''\
@app.task
def masks(x, flags):
    low = ~x & 0xFF
    return ~flags, low, ~len([x])
'''
    assert _codes(source) == []


def test_inverting_through_a_helper_is_csf104() -> None:
    source = '''\
def run_now(x):
    return ~add.s(x, 1)


@app.task
def outer(x):
    return run_now(x)
'''
    assert _codes(source) == [(_line(source, "    return run_now(x)"), "CSF104")]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    width=st.integers(min_value=1, max_value=5),
    data=st.data(),
)
def test_zip_keeps_each_position(width: int, data: st.DataObject) -> None:
    """``for a, b, r in zip(xs, ys, results)``: only the result's position joins; the
    others' ``get``/``join`` (dicts, strings) are not Celery's."""
    where = data.draw(st.integers(min_value=0, max_value=width - 1))
    through_list = data.draw(st.booleans())
    iterables = [f"xs{i}" for i in range(width)]
    iterables[where] = "pending.children"
    names = [f"v{i}" for i in range(width)]
    zipped = f"zip({', '.join(iterables)})"
    if through_list:
        zipped = f"list({zipped})"
    uses = "\n".join(f"        {n}.get('k')" for n in names)
    source = (
        "@app.task\n"
        f"def run({', '.join(f'xs{i}' for i in range(width))}):\n"
        "    pending = group(add.s(i, 1) for i in range(3)).delay()\n"
        f"    for {', '.join(names)}{',' if width == 1 else ''} in {zipped}:\n"
        f"{uses}\n"
    )
    expected = [(_line(source, f"        {names[where]}.get('k')"), "CSF101")]
    assert _codes(source) == expected


def test_an_eager_results_get_is_one_finding_that_says_it_raises() -> None:
    """``EagerResult.get`` calls ``assert_will_not_block()`` first (Celery 5.3-5.7): the
    apply and its join are one defect, CSF105, whose message says the get raises."""
    source = '''\
@app.task
def joined(x):
    return add.apply(args=(x, 1)).get()


@app.task
def kept(x):
    return add.apply(args=(x, 1)).result


@app.task
def check_off(x):
    return add.apply(args=(x, 1)).get(disable_sync_subtasks=False)
'''
    found = check_source(HEAD + source)
    assert [(f.code, f.line) for f in found] == [
        ("CSF105", _line(source, "    return add.apply(args=(x, 1)).get()")),
        ("CSF105", _line(source, "    return add.apply(args=(x, 1)).result")),
        ("CSF105", _line(source, "    return add.apply(args=(x, 1)).get(disable_sync_subtasks=False)")),
    ]
    raises = "joins it with .get(), which raises RuntimeError in a prefork worker"
    assert [raises in f.message for f in found] == [True, False, False]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    task_ignores=st.booleans(),
    sent=st.sampled_from(["delay(x)", "apply_async((x,))", "apply_async((x,), ignore_result=True)",
                          "apply_async((x,), ignore_result=False)", "apply_async((x,), **opts)"]),
    join=st.sampled_from(["get()", "wait()", "get(timeout=5)", "collect()"]),
    through_helper=st.booleans(),
)
def test_an_ignored_results_get_is_no_join(
    task_ignores: bool, sent: str, join: str, through_helper: bool
) -> None:
    """``AsyncResult.get``/``wait`` return ``None`` at once for a result sent ignored
    (measured in ``test_joins_api_celery.py``); anything else is still a join."""
    flag = "(ignore_result=True)" if task_ignores else ""
    call = f"quiet.{sent}"
    line = f"    return fetch({call})" if through_helper else f"    return {call}.{join}"
    source = (
        f"@app.task{flag}\ndef quiet(x):\n    return x\n\n\n"
        f"def fetch(r):\n    return r.{join}\n\n\n"
        f"@app.task\ndef run(x, opts):\n{line}\n"
    )
    ignored = "ignore_result=True" in sent or (
        task_ignores and "ignore_result=False" not in sent and "**opts" not in sent
    )
    quiet_join = ignored and join.split("(")[0] in ("get", "wait")
    expected = [] if quiet_join else [(_line(source, line), "CSF104" if through_helper else "CSF101")]
    assert _codes(source) == expected


#: how one method keeps results on the object; each is joined by another method
STORES = {
    "append": ("self.pending = []", "self.pending.append(add.delay(i, 1))", True),
    "extend": ("self.pending = []", "self.pending.extend([add.delay(i, 1)])", True),
    "add": ("self.pending = set()", "self.pending.add(add.delay(i, 1))", True),
    "assign-list": ("self.pending = []", "self.pending = [add.delay(j, 1) for j in ids]", True),
    "assign-one": ("self.pending = None", "self.pending = add.delay(i, 1)", False),
    "group": ("self.pending = None", "self.pending = group(add.s(j, 1) for j in ids).delay()",
              False),
}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    how=st.sampled_from(sorted(STORES)),
    decoy_first=st.booleans(),
    extra_methods=st.integers(min_value=0, max_value=3),
)
def test_results_kept_on_the_object_are_joined_by_another_method(
    how: str, decoy_first: bool, extra_methods: int
) -> None:
    init, store, many = STORES[how]
    join = "[r.get() for r in self.pending]" if many else "self.pending.get()"
    decoy = "        seen = [self.names.get(k) for k in self.names]\n"
    extras = "".join(
        f"    def extra{n}(self):\n        return self.names.get('k{n}')\n\n" for n in range(extra_methods)
    )
    source = (
        "class Batch:\n"
        f"    def __init__(self):\n        {init}\n        self.names = {{}}\n\n"
        f"{extras}"
        "    def start(self, ids):\n"
        "        for i in ids:\n"
        f"            {store}\n"
        "            self.names.update({i: str(i)})\n\n"
        "    def finish(self):\n"
        + (decoy if decoy_first else "")
        + f"        done = {join}\n"
        + ("" if decoy_first else decoy)
        + "        return done\n\n\n"
        "@app.task\n"
        "def run(ids):\n"
        "    batch = Batch()\n"
        "    batch.start(ids)\n"
        "    return batch.finish()\n"
    )
    assert _codes(source) == [(_line(source, "    return batch.finish()"), "CSF104")]


def test_an_eager_chain_or_chord_says_it_joins_inside() -> None:
    source = '''\
@app.task
def run(x):
    a = chain(add.s(x, 1), add.s(2)).apply()
    b = (add.s(x, 1) | add.s(2)).apply()
    c = chord([add.s(x, 1)], add.si(0, 0)).apply()
    d = group(add.s(i, 1) for i in range(x)).apply()
    return a, b, c, d
'''
    found = check_source(HEAD + source)
    assert [f.code for f in found] == ["CSF105"] * 4
    inside = ["whose eager chain joins inside it" in f.message for f in found]
    assert inside == [True, True, False, False]
    assert "whose eager chord joins inside it" in found[2].message
