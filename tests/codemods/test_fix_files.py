"""``celery-safe fix`` reads the files ``check`` reads (issue 9 §3), never silently skips
one (§4), writes all or nothing (issue 16 item 9) and keeps every byte it does not
rewrite (item 12)."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import libcst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe.cli import main
from celery_safe.lint.front import fix_cli
from celery_safe.lint.codemods import FixOptions, fix_source, slices
from celery_safe.lint.codemods import writes as writes_module
from celery_safe.lint.codemods.newlines import to_lf

from .test_cli import FIXED_TOTAL, TASKS

SPLIT_CALLER = (
    "from z_jobs import app, double\n\n\n@app.task\ndef flow(x):\n"
    "    return double.delay(x).get()\n"
)
SPLIT_CALLEE = (
    'from celery import Celery\n\napp = Celery("z")\n\n\n@app.task\ndef double(x):\n'
    "    return 2 * x\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The issue's layout: what ``check`` skips, ``fix`` used to rewrite."""
    (tmp_path / "pyproject.toml").write_text('[tool.celery-safe]\nexclude = ["migrations"]\n')
    for name in ("pkg/tasks.py", "pkg/migrations/m.py", "pkg/dist/d.py", "pkg/gen/g.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(TASKS)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("gen/\n")
    return tmp_path


def _fixed(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.read_text() != TASKS
    )


def test_fix_skips_what_check_skips(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(project / "pkg")]) == 1
    checked = {line.split(":")[0] for line in capsys.readouterr().out.splitlines() if "CSF" in line}
    assert checked == {str(project / "pkg" / "tasks.py")}
    assert main(["fix", "--check", str(project / "pkg")]) == 1
    assert _fixed(project) == []
    assert main(["fix", str(project / "pkg")]) == 0
    assert _fixed(project) == ["pkg/tasks.py"]  # not migrations/ (config), dist/, gen/ (git)
    assert main(["fix", str(project / "pkg" / "migrations" / "m.py")]) == 0  # named: fixed
    assert _fixed(project) == ["pkg/migrations/m.py", "pkg/tasks.py"]


def test_fix_takes_the_selection_and_file_options_of_check(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkg = str(project / "pkg")
    assert main(["fix", pkg, "--select", "CSF301"]) == 0  # no CSF301 here: nothing to do
    assert main(["fix", pkg, "--ignore", "CSF101"]) == 0
    assert main(["fix", pkg, "--exclude", "tasks.py"]) == 0
    assert _fixed(project) == []
    jobs = project / "pkg" / "jobs.py"
    jobs.write_text(
        "from myproj.jobs import job\n\n@job\ndef add(x, y=0):\n    return x + y\n\n"
        "@job\ndef total(x):\n    return add.delay(x, y=1).get()\n"
    )
    assert main(["fix", "--check", str(jobs)]) == 0  # `job` is not known to be a task
    assert main(["fix", str(jobs), "--task-decorator", "myproj.jobs.job"]) == 0
    assert jobs.read_text().endswith("    return add(x, y=1)\n")


@pytest.mark.parametrize(
    "source",
    ["x = " + "(" * 300 + "1" + ")" * 300 + "\n", "x = " + "+".join(["a"] * 200_000) + "\n"],
    ids=["nested-parentheses", "recursion"],
)
def test_a_file_fix_cannot_read_is_csf000_and_never_fixed_silently(
    project: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    (project / "pkg" / "bad.py").write_text(source)
    assert main(["fix", str(project / "pkg")]) == 1
    err = capsys.readouterr().err
    assert re.search(r"bad\.py: .*not fixed: CSF000 cannot parse this file", err)
    assert (project / "pkg" / "bad.py").read_text() == source
    assert (project / "pkg" / "tasks.py").read_text().endswith(FIXED_TOTAL)  # still fixed


def test_fix_refuses_a_fifo_and_an_oversized_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(project / "pkg" / "pipe.py")
    assert main(["fix", "--check", str(project / "pkg")]) == 1
    assert "pipe.py: not checked, not fixed: CSF000 cannot read this file: not a regular file" in (
        capsys.readouterr().err
    )
    (project / "pkg" / "pipe.py").unlink()
    limit = len(TASKS) - 1
    assert main(["fix", str(project / "pkg" / "tasks.py"), "--max-file-size", str(limit)]) == 1
    assert f"larger than the limit of {limit} bytes" in capsys.readouterr().err
    assert _fixed(project) == []


# --- writes: all or nothing ----------------------------------------------------------


def _fix_with_file_size_limit(project: Path, limit: int) -> subprocess.CompletedProcess[str]:
    """``fix`` in a process whose writes fail past ``limit`` bytes (EFBIG), as on a full disk."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "celery_safe.cli", "fix", str(project / "pkg")],
        capture_output=True, text=True, preexec_fn=limited, timeout=300,
    )  # fmt: skip


def test_a_failed_write_leaves_every_file_untouched_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    small, big = tmp_path / "pkg" / "a_small.py", tmp_path / "pkg" / "b_big.py"
    small.write_text(TASKS)
    big.write_text(TASKS + "\n" + "# padding\n" * 200)
    big.chmod(0o640)
    done = _fix_with_file_size_limit(tmp_path, len(big.read_bytes()))
    assert done.returncode == 2, done.stderr
    assert "b_big.py: cannot write: File too large; no file was changed" in done.stderr
    assert "Fixed" not in done.stderr and "fixed " not in done.stdout
    assert small.read_text() == TASKS  # would fit, but the run is all or nothing
    assert big.read_text() == TASKS + "\n" + "# padding\n" * 200
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == ["a_small.py", "b_big.py"]
    assert main(["fix", str(tmp_path / "pkg")]) == 0  # with room, the same run succeeds
    assert small.read_text().endswith(FIXED_TOTAL) and "add(x, y=1)" in big.read_text()
    assert (big.stat().st_mode & 0o777) == 0o640  # the mode is kept


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """A folder nobody can create files in, root included (mode 555 plus the immutable flag)."""
    folder.chmod(0o555)
    subprocess.run(["chattr", "+i", str(folder)], check=False, capture_output=True)
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            pass
        else:
            pytest.fail(f"cannot make {folder} read-only here (chattr +i failed)")
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False, capture_output=True)
        folder.chmod(0o755)


def test_a_read_only_folder_is_reported_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("pkg", "ro"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tasks.py").write_text(TASKS)
    with _read_only(tmp_path / "ro"):
        assert main(["fix", str(tmp_path / "pkg"), str(tmp_path / "ro")]) == 2
    assert re.search(
        r"ro/tasks\.py: cannot write: .*; no file was changed", capsys.readouterr().err
    )
    assert (tmp_path / "pkg" / "tasks.py").read_text() == TASKS
    assert (tmp_path / "ro" / "tasks.py").read_text() == TASKS


def test_split_logic_rolls_back_every_replaced_file_when_one_replace_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    caller, callee = tmp_path / "a_flows.py", tmp_path / "z_jobs.py"
    caller.write_text(SPLIT_CALLER)
    callee.write_text(SPLIT_CALLEE)
    real = os.replace
    calls: list[str] = []

    def failing_second(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(writes_module.os, "replace", failing_second)
    assert main(["fix", "--split-logic", str(tmp_path)]) == 2
    assert "z_jobs.py: cannot replace: No space left on device; no file was changed" in (
        capsys.readouterr().err
    )
    assert len(calls) == 3  # two replacements, then the first one put back
    assert (caller.read_text(), callee.read_text()) == (SPLIT_CALLER, SPLIT_CALLEE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_flows.py", "z_jobs.py"]
    monkeypatch.setattr(writes_module.os, "replace", real)
    assert main(["fix", "--split-logic", str(tmp_path)]) == 0
    assert caller.read_text().endswith("    return double.logic(x)\n")
    assert "@celery_safe.task(app)\ndef double" in callee.read_text()


def test_a_symlinked_file_is_fixed_through_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "tasks.py").write_text(TASKS)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tasks.py").symlink_to(tmp_path / "real" / "tasks.py")
    assert main(["fix", str(tmp_path / "pkg" / "tasks.py")]) == 0
    assert (tmp_path / "pkg" / "tasks.py").is_symlink()
    assert (tmp_path / "real" / "tasks.py").read_text().endswith(FIXED_TOTAL)


# --- bytes kept exactly ----------------------------------------------------------------


def test_a_cr_only_file_keeps_its_final_cr(tmp_path: Path) -> None:
    target = tmp_path / "tasks.py"
    target.write_bytes(TASKS.replace("\n", "\r").encode())
    assert main(["fix", str(target)]) == 0
    expected = TASKS[: TASKS.index("@app.task\ndef total")] + FIXED_TOTAL
    assert target.read_bytes() == expected.replace("\n", "\r").encode()


def test_an_inserted_comment_takes_the_ending_of_its_statement(tmp_path: Path) -> None:
    lines = TASKS.splitlines(keepends=True)
    mixed = "".join(line if i % 2 else line.replace("\n", "\r\n") for i, line in enumerate(lines))
    target = tmp_path / "tasks.py"
    target.write_bytes(mixed.encode())
    assert main(["fix", str(target)]) == 0
    fixed = target.read_bytes().decode()
    join_line = next(i for i, line in enumerate(lines) if ".get(timeout=5)" in line)
    ending = "\n" if join_line % 2 else "\r\n"
    assert f"    # celery-safe: dropped timeout=5 (nothing to wait for){ending}" in fixed
    assert f"    return add(x, y=1){ending}" in fixed
    assert fixed.startswith("".join(mixed.splitlines(keepends=True)[:join_line]))


ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])
BEFORE = "import os\n\n\ndef plain(d):\n    return d.get('x')  # untouched\n"
AFTER = "\n\nclass Later:\n    value = os.sep\n"
JOIN_BODIES = st.sampled_from(
    [
        "return add.delay(x, y=1).get(timeout=5)",
        "# wait for it\n    r = add.delay(x)\n    return r.get()",
        "total = 0\n    for i in range(3):\n        total += add.delay(i).get()\n    return total",
        "return [add.delay(i).get() for i in range(x)]",
    ]
)


def _with_endings(text: str, endings: list[str]) -> str:
    lines = text.split("\n")
    out = [line + endings[i % len(endings)] for i, line in enumerate(lines[:-1])]
    for i in range(1, len(out)):
        if out[i - 1].endswith("\r") and out[i] == "\n":  # "\r" + "\n" is one CRLF break
            out[i] = "\r"
    return "".join(out) + lines[-1]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(JOIN_BODIES, st.lists(ENDINGS, min_size=1, max_size=5), st.booleans())
def test_fix_never_changes_bytes_outside_the_rewritten_statements(
    body: str, endings: list[str], final_newline: bool
) -> None:
    lf = BEFORE + TASKS.replace("return add.delay(x, y=1).get(timeout=5)", body) + AFTER
    lf = lf if final_newline else lf.rstrip("\n")
    source = _with_endings(lf, endings)
    fixed = fix_source(source, "gen.py", FixOptions()).fixed
    assert fixed != source
    # the rewrite is the same whatever the endings
    assert to_lf(fixed) == fix_source(lf, "gen.py", FixOptions()).fixed
    old = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", source)
    new = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", fixed)
    head = next(i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b)
    tail = next(
        i for i, (a, b) in enumerate(zip(reversed(old), reversed(new), strict=False)) if a != b
    )
    rewritten = "".join(new[head : len(new) - tail])
    assert "def total" in "".join(old[:head]) and "class Later" in "".join(old[len(old) - tail :])
    assert set(re.findall(r"\r\n|\r|\n", rewritten)) <= set(endings)


# --- large modules: libcst sees only the statements a rewrite touches ------------------

FILLER = '''

def helper_{i}(d, items):
    """Plain code: dict.get and str.join are not joins."""
    total = d.get("x", {i})
    for item in items:
        total += len(", ".join(item))
    return total
'''


def _large_module(tasks_at: Sequence[int], functions: int = 120) -> str:
    parts = [TASKS]
    for i in range(functions):
        parts.append(FILLER.format(i=i))
        if i in tasks_at:
            parts.append(
                f"\n\n@app.task\ndef joined_{i}(x):\n    # wait for it\n"
                f"    r = add.delay(x, y={i})\n    return r.get() + 1\n"
            )
    return "".join(parts)


@pytest.mark.parametrize("tasks_at", [(), (3,), (0, 60, 119)], ids=["one", "two", "four"])
def test_a_sliced_rewrite_equals_the_whole_module_rewrite(
    monkeypatch: pytest.MonkeyPatch, tasks_at: Sequence[int]
) -> None:
    source = _large_module(tasks_at)
    assert len(source.splitlines()) >= slices.MIN_LINES
    parsed: list[str] = []
    real = libcst.parse_module

    def counting(text: str, *args: Any, **kwargs: Any) -> libcst.Module:
        parsed.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(libcst, "parse_module", counting)
    sliced = fix_source(source, "big.py")
    assert parsed and all(slices.PLACEHOLDER.format(n=1)[:25] in text for text in parsed)
    assert all(len(text.splitlines()) == len(source.splitlines()) for text in parsed)
    monkeypatch.setattr(slices, "MIN_LINES", 10**9)  # the whole module, as before slicing
    whole = fix_source(source, "big.py")
    assert sliced.fixed == whole.fixed and sliced.fixed != source
    assert [f.span for f in sliced.rewritten] == [f.span for f in whole.rewritten]
    assert sliced.fixed.count("# celery-safe") == whole.fixed.count("# celery-safe")
    assert fix_source(sliced.fixed, "big.py").fixed == sliced.fixed  # idempotent


def test_a_change_that_would_touch_an_elided_line_falls_back_to_the_whole_module() -> None:
    text = "a\nb\nc\n"
    sliced = "a\n" + slices.PLACEHOLDER.format(n=2) + "c\n"
    assert slices.splice(text, sliced, "a\nc\n") is None  # the elided line disappeared
    assert slices.splice(text, sliced, "A\n" + slices.PLACEHOLDER.format(n=2) + "c\n") == (
        "A\nb\nc\n"
    )


def test_an_internal_error_in_one_file_does_not_cost_the_others(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "other.py").write_text(TASKS)
    real = fix_cli.fix_source

    def failing_on_other(source: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith("other.py"):
            raise KeyError("a bug")
        return real(source, path, *args, **kwargs)

    monkeypatch.setattr(fix_cli, "fix_source", failing_on_other)
    assert main(["fix", str(project / "pkg")]) == 1
    assert "other.py: CSF999 internal error in celery-safe, not fixed: KeyError" in (
        capsys.readouterr().err
    )
    assert (project / "pkg" / "tasks.py").read_text().endswith(FIXED_TOTAL)
    assert (project / "pkg" / "other.py").read_text() == TASKS
