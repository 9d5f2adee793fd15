"""Reach through helpers, across modules: a task that blocks through a helper — a join or
a loop polling a result until it is done — is CSF104 at the task's call, wherever the
helper lives and however it is reached; ``check`` and flake8 report the same."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.cli import main

from .parity import assert_same_findings, python_files

PARALLEL = '''\
import time

from celery import group


def execute_in_parallel(tasks, timeout, step):
    result = group(tasks).apply_async()
    waited = 0
    while not result.ready():
        time.sleep(step)
        waited += step
        if waited > timeout:
            break
    return result.successful()


def wait_for(result, step=1):
    while not result.ready():
        time.sleep(step)
    return result.result


def wait_for_thread(worker):
    while worker.is_alive():
        time.sleep(1)


def poll_row(row):
    while row.status == "running":
        time.sleep(5)
        row.refresh_from_db()


class Batch:
    def __init__(self, signatures):
        self.signatures = signatures

    def run(self):
        return execute_in_parallel(self.signatures, 60, 1)
'''

TASKS = '''\
import threading

from celery import shared_task

import proj.parallel
from proj import parallel as par
from proj.parallel import Batch, execute_in_parallel, poll_row, wait_for as wf, wait_for_thread


@shared_task
def unit(x):
    return x


@shared_task
def imported_name(xs):
    return execute_in_parallel([unit.s(x) for x in xs], 700, 10)


@shared_task
def aliased_param(x):
    return wf(unit.delay(x))


@shared_task
def module_alias(x):
    return par.wait_for(unit.delay(x))


@shared_task
def dotted_module(xs):
    return proj.parallel.execute_in_parallel([unit.s(x) for x in xs], 60, 1)


@shared_task
def project_object(xs):
    return Batch([unit.s(x) for x in xs]).run()


@shared_task
def look_alikes(row):
    worker = threading.Thread(target=print)
    worker.start()
    wait_for_thread(worker)
    poll_row(row)


def not_a_task(xs):
    return execute_in_parallel([unit.s(x) for x in xs], 60, 1)
'''


def _found(out: str) -> set[tuple[str, str]]:
    return {
        (line.split(":")[1], line.split(": ")[1].split()[0])
        for line in out.splitlines()
        if ": CSF" in line
    }


def test_busy_waits_in_helpers_of_another_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "parallel.py").write_text(PARALLEL)
    (package / "tasks.py").write_text(TASKS)
    assert main(["check", "--no-cache", str(package)]) == 1
    out = capsys.readouterr().out
    assert _found(out) == {
        ("17", "CSF104"),  # the helper starts the group it waits for
        ("22", "CSF104"),  # the task passes the result it waits for (an alias)
        ("27", "CSF104"),  # through a module alias
        ("32", "CSF104"),  # through the dotted module
        ("37", "CSF104"),  # a method of a project object calling the helper
    }
    assert (
        "task imported_name blocks on a Celery result through imported_name -> "
        "parallel.execute_in_parallel (result.ready() polled in a loop, line 9)"
    ) in out
    assert "project_object -> parallel.Batch.run -> parallel.execute_in_parallel" in out
    assert assert_same_findings(python_files(package)) > 0
    # ``fix`` leaves them, saying why: no rewrite turns a polling loop into a callback
    assert main(["fix", "--diff", str(package)]) == 1
    out = capsys.readouterr().out
    assert out.count("CSF104 not fixed: the helper polls a result in a loop") == 5, out


#: how the last helper blocks: on its parameter ``r`` (given a result) or on its own
BLOCKS = {
    "get": "    return r.get()\n",
    "while-ready": "    while not r.ready():\n        time.sleep(1)\n",
    "while-true": "    while True:\n        if r.ready():\n            break\n",
    "state": "    while r.state not in states.READY_STATES:\n        time.sleep(1)\n",
    "status": "    while r.status == 'PENDING':\n        pass\n",
    "completed": "    while r.completed_count() < 3:\n        time.sleep(1)\n",
    "all-ready": "    while not all(x.ready() for x in r.results):\n        time.sleep(1)\n",
}
#: ... and look-alikes that block on no result
SILENT = {
    "thread": "    while r.is_alive():\n        time.sleep(1)\n",
    "future": "    while not r.done():\n        time.sleep(1)\n",
    "once": "    return sum(1 for x in [r] if x.ready())\n",
}
HEADER = "import time\n\nfrom celery import states\nfrom celery.result import AsyncResult\n"


@st.composite
def chains(draw: st.DrawFn) -> tuple[int, list[int], list[str], str, bool]:
    depth = draw(st.integers(1, 4))
    homes = draw(st.lists(st.integers(0, 2), min_size=depth, max_size=depth))
    ways = draw(st.lists(st.sampled_from(["name", "alias", "module", "object", "handed"]),
                         min_size=depth, max_size=depth))  # fmt: skip
    block = draw(st.sampled_from(sorted(BLOCKS) + sorted(SILENT)))
    own = draw(st.booleans())
    return depth, homes, ways, block, own


def _project(root: Path, depth: int, homes: list[int], ways: list[str], block: str,
             own: bool) -> None:  # fmt: skip
    """``tasks.py``'s task calls h0 -> h1 -> ... -> h{depth-1}, each in module m{home}
    (0 is ``tasks.py`` itself), called by name, alias or module attribute."""
    package = root / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("")
    modules: dict[str, list[str]] = {f"m{i}": [HEADER] for i in range(3)}
    modules["m0"] = [HEADER, "from celery import shared_task\n"]

    def module_of(level: int) -> str:
        return f"m{homes[level]}"

    def call(caller: str, level: int, arg: str) -> str:
        """How ``caller``'s module calls helper ``level``, importing it as needed: by
        name, alias or module, as a method of a project object, or handed to a pool
        with the result beside it."""
        target = module_of(level)
        name = f"h{level}"
        way = ways[level]
        if way == "object":
            if target != caller:
                modules[caller].insert(1, f"from proj.{target} import W{level}\n")
            return f"W{level}().{name}({arg})"
        if way == "handed":
            modules[caller].insert(1, "from concurrent.futures import ThreadPoolExecutor\n")
            if target != caller:
                modules[caller].insert(1, f"from proj.{target} import {name}\n")
            return f"list(ThreadPoolExecutor().map({name}, [{arg}]))"
        if target == caller:
            return f"{name}({arg})"
        if way == "name":
            modules[caller].insert(1, f"from proj.{target} import {name}\n")
            return f"{name}({arg})"
        if way == "alias":
            modules[caller].insert(1, f"from proj.{target} import {name} as {name}_alias\n")
            return f"{name}_alias({arg})"
        modules[caller].insert(1, f"from proj import {target}\n")
        return f"{target}.{name}({arg})"

    body = SILENT.get(block) or BLOCKS[block]
    for level in range(depth):
        here = module_of(level)
        if level + 1 < depth:
            inner = f"    return {call(here, level + 1, 'r')}\n"
        else:
            start = "    r = AsyncResult(r)\n" if own else ""
            inner = f"{start}{body}"
        if ways[level] == "object":
            method = "".join(f"    {line}\n" if line else "\n" for line in inner.splitlines())
            modules[here].append(f"\n\nclass W{level}:\n    def h{level}(self, r):\n{method}")
        else:
            modules[here].append(f"\n\ndef h{level}(r):\n{inner}")
    argument = "task_id" if own else "AsyncResult(task_id)"
    modules["m0"].append(
        f"\n\n@shared_task\ndef task(task_id):\n    return {call('m0', 0, argument)}\n"
    )
    for name, parts in modules.items():
        (package / f"{name}.py").write_text("".join(parts))


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(chains())
def test_helper_chains_of_any_depth_and_placement(
    chain: tuple[int, list[int], list[str], str, bool],
) -> None:
    depth, homes, ways, block, own = chain
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _project(root, depth, homes, ways, block, own)
        report = root / "report.json"
        main(["check", "--no-cache", str(root / "proj"), "--format", "json",
              "--output", str(report)])  # fmt: skip
        found = json.loads(report.read_text())
    at_task = [row for row in found if row["path"].endswith("m0.py") and row["code"] == "CSF104"]
    others = [row for row in found if row not in at_task]
    if block in SILENT:
        assert found == [], found
        return
    assert len(at_task) == 1, found
    # a helper of the task's module is named plainly, unless reached from another one
    labels = [f"W{i}.h{i}" if ways[i] == "object" else f"h{i}" for i in range(depth)]
    names = [labels[i] if not any(homes[: i + 1]) else f"m{homes[i]}.{labels[i]}"
             for i in range(depth)]  # fmt: skip
    path = " -> ".join(["task", *names])
    assert f"through {path} (" in at_task[0]["message"], at_task[0]["message"]
    # the task's own call is all: a helper's join outside tasks is CSF901 (opt-in)
    assert others == [], others


STATUS = '''\
from celery import states

FAILED = states.FAILURE


def write_status(task, state, percent, status):
    task.update_state(state=state, meta={"percent": percent, "status": status})


def set_failure(task):
    write_status(task, FAILED, 0, "failed")


def set_progress(task, percent):
    write_status(task, "PROGRESS", percent, "running")
'''

HOOKS = '''\
from celery import Task, shared_task

from proj import status
from proj.status import set_progress, write_status


def mark_failed(task, state):
    status.write_status(task, state, 0, "failed")


class AppTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        mark_failed(self, "FAILURE")

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        set_progress(self, 50)


@shared_task(base=AppTask, bind=True)
def export(self, rows):
    set_progress(self, 10)
    write_status(self, "PROGRESS", 100, "done")
    return rows


class Returned(Task):
    def after_return(self, *args):
        write_status(self, status.FAILED, 0, "returned")
'''


def test_failure_meta_written_through_helpers_of_another_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "status.py").write_text(STATUS)
    (package / "hooks.py").write_text(HOOKS)
    assert main(["check", "--no-cache", str(package)]) == 1
    out = capsys.readouterr().out
    found = {(Path(line.split(":")[0]).name, line.split(":")[1])
             for line in out.splitlines() if ": CSF301" in line}  # fmt: skip
    assert found == {
        ("status.py", "11"),  # set_failure passes a constant holding FAILURE
        ("hooks.py", "13"),  # on_failure passes FAILURE down two helpers, one elsewhere
        ("hooks.py", "28"),  # a constant of the other module holding FAILURE
    }
    assert "(through write_status, line 7)" in out
    assert "(through mark_failed -> status.write_status, line 7)" in out
    assert assert_same_findings(python_files(package)) > 0


CHORD_TASKS = '''\
from celery import shared_task


@shared_task
def fetch(url):
    return len(url)


@shared_task(ignore_result=True)
def merge(sizes):
    return sum(sizes)
'''

CHORDS = '''\
from celery import chord

from proj.tasks import fetch, merge


def total(urls):
    return chord(fetch.s(u) for u in urls)(merge.s())


def fire(urls):
    return chord(fetch.s(u) for u in urls)(merge.s())


def wait_total(result):
    return result.get(timeout=60)


def describe(result):
    return {"id": result.id}
'''

USES = '''\
from celery import chord, shared_task

from proj.chords import describe, fire, total, wait_total
from proj.tasks import fetch, merge


def waits_elsewhere(urls):
    return wait_total(chord(fetch.s(u) for u in urls)(merge.s()))


def describes_elsewhere(urls):
    return describe(chord(fetch.s(u) for u in urls)(merge.s()))


@shared_task
def polls_a_chord_built_elsewhere(urls):
    job = total(urls)
    return job.state


@shared_task
def fires_and_forgets(urls):
    job = fire(urls)
    return {"id": job.id}
'''


def test_a_chord_body_ignoring_its_result_read_in_another_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in {"tasks": CHORD_TASKS, "chords": CHORDS, "uses": USES}.items():
        (package / f"{name}.py").write_text(source)
    assert main(["check", "--no-cache", str(package)]) == 1
    out = capsys.readouterr().out
    found = {(Path(line.split(":")[0]).name, line.split(":")[1])
             for line in out.splitlines() if ": CSF204" in line}  # fmt: skip
    assert found == {
        ("uses.py", "8"),  # built here, joined by a helper of another module
        ("uses.py", "17"),  # built in chords.py, returned here and polled by a task
    }
    assert "(the chord is built in chords.py line 7, and its result is read here)" in out
    assert assert_same_findings(python_files(package)) > 0


#: what the hook passes down the helpers, and whether it is a failure state
STATES = {'"FAILURE"': True, "states.FAILURE": True, "FAILED": True, '"PROGRESS"': False}
#: the meta the last helper writes, and whether it lacks ``exc_type``
METAS = {'{"status": s}': True, '{"exc_type": "E", "exc_message": [s]}': False}


@st.composite
def state_chains(draw: st.DrawFn) -> tuple[list[int], str, str]:
    depth = draw(st.integers(1, 4))
    homes = draw(st.lists(st.integers(0, 2), min_size=depth, max_size=depth))
    return homes, draw(st.sampled_from(sorted(STATES))), draw(st.sampled_from(sorted(METAS)))


def _state_project(root: Path, homes: list[int], state: str, meta: str) -> None:
    """``m0.py``'s ``Task.on_failure`` passes ``state`` to h0 -> ... -> h{n-1}, which
    stores it with ``meta``; helper ``i`` lives in ``m{homes[i]}``."""
    package = root / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("")
    head = "from celery import Task, states\n\nFAILED = states.FAILURE\n"
    modules: dict[str, list[str]] = {f"m{i}": [head] for i in range(3)}

    def call(caller: str, level: int, arg: str) -> str:
        target = f"m{homes[level]}"
        if target != caller:
            modules[caller].insert(1, f"from proj.{target} import h{level}\n")
        return f"h{level}(task, {arg}, 's')"

    for level, home in enumerate(homes):
        here = f"m{home}"
        if level + 1 < len(homes):
            body = f"    {call(here, level + 1, 'state')}\n"
        else:
            body = f"    task.update_state(state=state, meta={meta})\n"
        modules[here].append(f"\n\ndef h{level}(task, state, s):\n{body}")
    hook = call("m0", 0, state)
    modules["m0"].append(
        "\n\nclass Reported(Task):\n"
        f"    def on_failure(self, exc, task_id, args, kwargs, einfo):\n        task = self\n"
        f"        {hook}\n"
    )
    for name, parts in modules.items():
        (package / f"{name}.py").write_text("".join(parts))


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(state_chains())
def test_failure_states_through_helper_chains(chain: tuple[list[int], str, str]) -> None:
    homes, state, meta = chain
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _state_project(root, homes, state, meta)
        report = root / "report.json"
        main(["check", "--no-cache", str(root / "proj"), "--format", "json",
              "--output", str(report)])  # fmt: skip
        found = [row for row in json.loads(report.read_text()) if row["code"] == "CSF301"]
        hook = (root / "proj" / "m0.py").read_text().splitlines().index(f"        h0(task, {state}, 's')")
    if not (STATES[state] and METAS[meta]):
        assert found == [], found
        return
    # reported once, where the failure state is decided: the hook's call, with the path
    assert [(Path(row["path"]).name, row["line"]) for row in found] == [("m0.py", hook + 1)]
    names = [f"h{i}" if not any(homes[: i + 1]) else f"m{homes[i]}.h{i}" for i in range(len(homes))]
    assert f"(through {' -> '.join(names)}, line " in found[0]["message"], found[0]["message"]
