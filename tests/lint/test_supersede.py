"""One defect, one finding: a code superseding another at the same call wins there
(``celery_safe.lint.supersede``), under every selection, in ``check``, flake8 and ``fix``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe import catalogue
from celery_safe.lint.config import Config
from celery_safe.lint.engine import check_source
from celery_safe.lint.findings import Finding
from celery_safe.lint.supersede import about, runs, winners

SOURCE = """\
from celery import Celery
from celery.result import allow_join_result

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def report(item_id):
    plain = price.delay(item_id).get()
    cents = price.delay(item_id).get(disable_sync_subtasks=False)
    with allow_join_result():
        again = price.delay(item_id).get(disable_sync_subtasks=False)
    return plain + cents + again
"""
PLAIN, GUARD_OFF, BLOCK, IN_BLOCK = 14, 15, 16, 17


def found(config: Config) -> set[tuple[str, int]]:
    return {(f.code, f.line) for f in check_source(SOURCE, "m.py", config)}


def test_by_default_each_join_is_one_finding() -> None:
    assert found(Config()) == {("CSF101", PLAIN), ("CSF102", GUARD_OFF), ("CSF103", BLOCK)}


def test_ignoring_the_winner_does_not_bring_the_superseded_code_back() -> None:
    config = Config().merged(ignore=["CSF102", "CSF103"])
    assert found(config) == {("CSF101", PLAIN)}


def test_a_code_named_in_full_is_shown_where_its_winner_is_off() -> None:
    assert found(Config(select=("CSF101",))) == {
        ("CSF101", PLAIN), ("CSF101", GUARD_OFF), ("CSF101", IN_BLOCK),
    }  # fmt: skip
    # the block still wins where it is on: the join inside is reported on it, once
    assert found(Config(select=("CSF101", "CSF103"))) == {
        ("CSF101", PLAIN), ("CSF101", GUARD_OFF), ("CSF103", BLOCK),
    }  # fmt: skip
    assert found(Config(select=("CSF102",))) == {("CSF102", GUARD_OFF), ("CSF102", IN_BLOCK)}


def test_a_prefix_is_not_a_name() -> None:
    assert found(Config(select=("CSF10",))) == found(Config())


def test_the_winner_carries_the_join_rewrite() -> None:
    from celery_safe.lint.codemods.report import JOIN_CODES

    guard_off = [f for f in check_source(SOURCE, "m.py") if f.code == "CSF102"]
    assert "CSF102" in JOIN_CODES
    detail = guard_off[0].detail
    assert detail is not None and getattr(detail, "origin_method", "") == "delay"


def test_fix_rewrites_a_join_reported_as_csf102(tmp_path: Path) -> None:
    path = tmp_path / "shop.py"
    path.write_text(
        "import celery_safe\nfrom celery import Celery\n\napp = Celery('shop')\n\n\n"
        "@celery_safe.task(app)\ndef price(item_id):\n    return item_id * 100\n\n\n"
        "@celery_safe.task(app)\ndef report(item_id):\n"
        "    return price.delay(item_id).get(disable_sync_subtasks=False)\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "celery_safe.cli", "fix", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    text = path.read_text()
    assert "return price.logic(item_id)" in text and "disable_sync_subtasks" not in text.split(
        "# celery-safe:"
    )[0]


def test_every_supersession_names_catalogued_codes_and_has_no_cycle() -> None:
    codes = catalogue.all_codes()
    for entry in codes.values():
        assert set(entry.supersedes) <= set(codes), entry.code
        assert entry.code not in winners(entry.code), entry.code


def test_explain_says_it_on_both_pages() -> None:
    def explain(code: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "celery_safe.cli", "explain", code],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    assert "Superseded by CSF102, CSF103 at the same call" in explain("CSF101")
    assert "Supersedes CSF101 at the same call" in explain("CSF102")


CODES = ("CSF1", "CSF10", "CSF101", "CSF102", "CSF103", "CSF104")


@settings(max_examples=60, deadline=None)
@given(
    select=st.lists(st.sampled_from(CODES), max_size=3, unique=True),
    ignore=st.lists(st.sampled_from(CODES), max_size=3, unique=True),
)
def test_selection_properties(select: list[str], ignore: list[str]) -> None:
    """Whatever the selection: only enabled codes are shown; a call is never reported
    under a code and one that supersedes it; and a superseded finding is shown only
    where its code is named in full while a winner is off."""
    config = Config(select=tuple(select), ignore=tuple(ignore))
    shown = check_source(SOURCE, "m.py", config)
    everything = check_source(SOURCE, "m.py", Config(select=("CSF1",)))
    assert all(config.enabled(f.code) for f in shown)
    for a in shown:
        for b in shown:
            if b.code in winners(a.code):
                assert about(a).isdisjoint(about(b)), (a, b)
    for f in shown:
        beaten = _beaten_in(f, everything)
        if beaten:
            assert f.code in select and any(not config.enabled(w) for w in beaten)
    # an enabled code's join that nothing shown covers is shown (nothing is lost)
    for f in everything:
        if config.enabled(f.code) and not _beaten_in(f, everything):
            assert (f.code, f.line) in {(g.code, g.line) for g in shown}


def _beaten_in(finding: Finding, others: list[Finding]) -> list[str]:
    return [
        o.code for o in others
        if o.code in winners(finding.code) and not about(o).isdisjoint(about(finding))
    ]  # fmt: skip


def test_a_winner_runs_when_only_its_loser_is_enabled() -> None:
    config = Config().merged(ignore=["CSF102"])
    assert runs(config, "CSF102") and not config.enabled("CSF102")
    assert not runs(Config(select=("CSF101",)), "CSF102")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], {("CSF101", PLAIN), ("CSF102", GUARD_OFF), ("CSF103", BLOCK)}),
        (["--extend-ignore", "CSF102,CSF103"], {("CSF101", PLAIN)}),
        (["--select", "CSF101"], {("CSF101", PLAIN), ("CSF101", GUARD_OFF), ("CSF101", IN_BLOCK)}),
        (["--select", "CSF101,CSF103"],
         {("CSF101", PLAIN), ("CSF101", GUARD_OFF), ("CSF103", BLOCK)}),
    ],
)
def test_flake8_agrees_with_check(
    tmp_path: Path, options: list[str], expected: set[tuple[str, int]]
) -> None:
    path = tmp_path / "shop.py"
    path.write_text(SOURCE)
    select = [] if "--select" in options else ["--select", "CSF"]
    run = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *select, *options, str(path)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={"CELERY_SAFE_CACHE_DIR": "off", "PATH": ""},
    )  # fmt: skip
    shown = set()
    for line in run.stdout.splitlines():
        _, number, _, rest = line.split(":", 3)
        shown.add((rest.split()[0], int(number)))
    assert shown == expected, run.stdout + run.stderr
    selected = options[1].split(",") if "--select" in options else []
    ignored = options[1].split(",") if "--extend-ignore" in options else []
    assert found(Config(select=tuple(selected), ignore=tuple(ignored))) == expected
