"""The commands through libcst's own ``CodemodTest`` harness (as ``libcst.tool`` runs them:
findings come from the engine), and callee resolution across modules."""

from __future__ import annotations

from pathlib import Path

from libcst.codemod import CodemodTest

from celery_safe.lint.codemods import ChainSequentialJoins, InlineTaskJoins, SplitTaskLogic
from celery_safe.lint.codemods.fixer import FixOptions
from celery_safe.lint.config import Config
from celery_safe.lint.front.fix_cli import fix_paths

IMPORT = "from celery import Celery\n"
APP = IMPORT + '\napp = Celery("h")\n\n\n@app.task\ndef add(x):\n    return x\n\n\n'


class TestInlineTaskJoins(CodemodTest):
    TRANSFORM = InlineTaskJoins

    def test_rewrites_a_join(self) -> None:
        self.assertCodemod(
            APP + "@app.task\ndef t(a):\n    return add.apply_async(args=[a]).get()\n",
            APP + "@app.task\ndef t(a):\n    return add(a)\n",
        )

    def test_warns_about_what_it_leaves(self) -> None:
        source = APP + "@app.task\ndef t(name):\n    return app.send_task(name).get()\n"
        self.assertCodemod(
            source,
            source,
            expected_warnings=[
                "<string>:13:12: CSF101 left as is: the task is named by a string "
                "(send_task): there is no code to call"
            ],
        )

    def test_leaves_code_without_findings(self) -> None:
        source = APP + "def view(a):\n    return add.delay(a).get()\n"
        self.assertCodemod(source, source, expected_warnings=[])


class TestSplitTaskLogic(CodemodTest):
    TRANSFORM = SplitTaskLogic

    def test_converts_shared_task(self) -> None:
        self.assertCodemod(
            "from celery import shared_task\n\n\n@shared_task(bind=True)\ndef t(self):\n    pass\n",
            "import celery_safe\n\n\n@celery_safe.task(bind=True)\ndef t(self):\n    pass\n",
        )


class TestChainSequentialJoins(CodemodTest):
    TRANSFORM = ChainSequentialJoins

    def test_chains_trailing_steps(self) -> None:
        self.assertCodemod(
            APP + "@app.task\ndef t():\n    add.delay(1).get()\n    add.delay(2).get()\n",
            IMPORT
            + "import celery_safe.workflows\n"
            + APP.removeprefix(IMPORT)
            + "@app.task\ndef t():\n"
            + "    # celery-safe: these steps run as a chain after this task returns\n"
            + "    celery_safe.workflows.chain(\n        add.si(1),\n        add.si(2),\n"
            + "    ).apply_async()\n",
        )


JOBS = """\
import celery_safe
from celery import Celery

app = Celery("jobs")


@celery_safe.task(app)
def double(x):
    return 2 * x


@app.task
def triple(x):
    return 3 * x


@app.task(bind=True)
def noisy(self, x):
    self.update_state(state="PROGRESS")
    return x
"""
FLOWS = """\
from pkg import double as twice
from pkg.canvas import WORKFLOW
from pkg.jobs import app, double, triple
from . import jobs
from .jobs import noisy


@app.task
def flow(x):
    return double.delay(x).get() + triple.delay(x).get() + jobs.double.delay(x).get()


@app.task
def eager(x):
    # .apply() of an imported task: reported only with the engine's cross-module lookup
    return triple.apply(args=[x]).get()


@app.task
def loud(x):
    return noisy.delay(x).get()


@app.task
def imported(x):
    return twice.delay(x).get() + WORKFLOW.delay(x).get()
"""
FLOWS_FIXED = """\
@app.task
def flow(x):
    return double.logic(x) + triple(x) + jobs.double.logic(x)


@app.task
def eager(x):
    # .apply() of an imported task: reported only with the engine's cross-module lookup
    return triple(x)
"""


def test_callees_are_resolved_in_their_own_modules(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .jobs import double\n")
    (tmp_path / "pkg" / "canvas.py").write_text(
        "from celery import chain\nfrom .jobs import double\n"
        "WORKFLOW = chain(double.s(), double.s())\n"
    )
    (tmp_path / "pkg" / "jobs.py").write_text(JOBS)
    (tmp_path / "pkg" / "flows.py").write_text(FLOWS)
    summary = fix_paths([tmp_path / "pkg"], FixOptions(), Config(), write=True)
    fixed = (tmp_path / "pkg" / "flows.py").read_text()
    assert FLOWS_FIXED in fixed
    assert "return noisy.delay(x).get()" in fixed
    # a re-exported task is found; an imported canvas is not a task
    assert "return twice.logic(x) + WORKFLOW.delay(x).get()" in fixed
    reasons = sorted(s.reason for r in summary.results for s in r.remaining)
    assert reasons == [
        "`WORKFLOW` in canvas.py is not a task",
        "`noisy` is bound and uses self.update_state: called in-process it has no task id "
        "of its own; rewrite by hand",
    ]
