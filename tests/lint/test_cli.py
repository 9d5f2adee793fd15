"""``celery-safe check``: formats, exit status, noqa, syntax errors, config and excludes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from celery_safe.cli import main
from celery_safe.lint.interp.depth import MAX_DEPTH

JOINING = """\
from celery import shared_task

@shared_task
def add(x, y):
    return x + y

@shared_task
def total(x):
    return add.delay(x, 1).get()
"""
CLEAN = "def plain():\n    return {}.get('a')\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.celery-safe]\nexclude = ["legacy"]\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tasks.py").write_text(JOINING)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    (tmp_path / "pkg" / "legacy").mkdir()
    (tmp_path / "pkg" / "legacy" / "old.py").write_text(JOINING)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    code = main(["check", *map(str, argv)])
    return code, capsys.readouterr().out


def test_text_report_and_exit_status(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, project / "pkg")
    assert code == 1
    assert f"{project / 'pkg' / 'tasks.py'}:9:12: CSF101 task total blocks" in out
    assert "legacy" not in out  # excluded by [tool.celery-safe] while walking
    assert run(capsys, project / "pkg" / "clean.py") == (0, "No findings.\n")


def test_a_path_named_explicitly_is_checked_even_if_excluded(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, project / "pkg" / "legacy")
    assert code == 1 and "old.py:9:12: CSF101" in out


def test_force_exclude_applies_excludes_to_named_files(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = project / "pkg" / "legacy" / "old.py"
    assert run(capsys, old, "--force-exclude") == (0, "No findings.\n")
    assert run(capsys, project / "pkg" / "tasks.py", "--force-exclude")[0] == 1


def test_exclude_option_and_ignore_option(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, project / "pkg", "--exclude", "tasks.py")[0] == 0
    assert run(capsys, project / "pkg", "--ignore", "CSF1")[0] == 0
    assert run(capsys, project / "pkg", "--ignore", "CSF1", "--select", "CSF101")[0] == 1


def test_noqa_comments(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = project / "pkg" / "tasks.py"
    for comment in ("# noqa", "# noqa: CSF101", "# NOQA:E501,CSF101"):
        target.write_text(JOINING.replace(".get()", ".get()  " + comment))
        assert run(capsys, target)[0] == 0, comment
    target.write_text(JOINING.replace(".get()", ".get()  # noqa: CSF102"))
    assert run(capsys, target)[0] == 1


def test_json_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, project / "pkg" / "tasks.py", "--format", "json")
    assert code == 1
    (row,) = json.loads(out)
    assert row["code"] == "CSF101" and (row["line"], row["column"]) == (9, 12)
    assert row["task"] == "total" and row["detail"]["origin_method"] == "delay"
    assert row["detail"]["origin"] == {"line": 9, "col": 11, "end_line": 9, "end_col": 26}
    assert row["fix"].startswith("call the other task's logic")


def test_sarif_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, project / "pkg", "--format", "sarif")
    document = json.loads(out)
    assert code == 1 and document["version"] == "2.1.0"
    (run_,) = document["runs"]
    rules = run_["tool"]["driver"]["rules"]
    (result,) = run_["results"]
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == "CSF101"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (9, 12)
    assert all(rule["help"]["markdown"] for rule in rules)


def test_syntax_error_is_reported_and_other_files_still_checked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "broken.py").write_text("@shared_task\ndef f(:\n    pass\n")
    code, out = run(capsys, project / "pkg")
    assert code == 1
    assert "broken.py:2:7: CSF000 cannot parse this file" in out
    assert "tasks.py:9:12: CSF101" in out


def test_usage_and_io_errors_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(project / "missing")]) == 2
    assert main(["check"]) == 2
    assert main(["check", str(project), "--format", "xml"]) == 2
    (project / "pyproject.toml").write_text("[tool.celery-safe]\nselct = []\n")
    assert main(["check", str(project / "pkg")]) == 2
    assert "unknown key(s) selct" in capsys.readouterr().err


def test_extra_task_decorator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = JOINING.replace("@shared_task\ndef total", "@job\ndef total")
    target = tmp_path / "jobs.py"
    target.write_text("from myproj.jobs import job\n" + source)
    assert run(capsys, target)[0] == 0
    assert run(capsys, target, "--task-decorator", "myproj.jobs.job")[0] == 1


def test_flake8_runs_the_plugin_and_honours_noqa(tmp_path: Path) -> None:
    target = tmp_path / "tasks.py"
    target.write_text(
        JOINING
        + "\n\n@shared_task\ndef again(x):\n    return add.delay(x, 2).get()  # noqa: CSF101\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CSF", str(target)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1, out.stderr
    assert out.stdout.splitlines() == [
        f"{target}:9:12: CSF101 task total blocks on a Celery result (add.delay(x, 1).get()); "
        "a task must never wait for another task"
    ]


def test_dogfood_the_package_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    package = Path(__file__).resolve().parents[2] / "celery_safe"
    assert run(capsys, package) == (0, "No findings.\n")


def _shop(tmp_path: Path, **modules: str) -> Path:
    """A package ``shop`` under ``tmp_path`` holding ``modules`` (name -> source)."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in modules.items():
        (package / f"{name}.py").write_text(source)
    return package


def test_canvas_links_resolve_tasks_imported_from_other_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _shop(
        tmp_path,
        tasks=(
            "from celery import shared_task\n\n"
            "@shared_task\ndef fetch(url):\n    return url\n\n"
            "@shared_task(ignore_result=True)\ndef store():\n    return None\n"
        ),
        flows=(
            "from celery import chain, chord\n"
            "from shop.tasks import fetch\n"
            "from . import tasks\n\n"
            "chain(fetch.s('a'), fetch.s('b'))()\n"
            "chord([fetch.s('a')], tasks.store.s())().get(timeout=5)\n"
        ),
    )
    code, out = run(capsys, package / "flows.py")
    assert code == 1
    assert "flows.py:5:21: CSF201 chain[1] fetch cannot take the result of chain[0] fetch" in out
    # the chord's result is read, and its body (in another module) does not store it
    assert "flows.py:6:23: CSF204 chord.body store has ignore_result=True" in out


def test_flake8_hides_opt_in_codes_until_extended(tmp_path: Path) -> None:
    target = tmp_path / "views.py"
    target.write_text(
        "from shop.tasks import price\n\n\ndef view(x):\n    return price.delay(x).get()\n"
    )

    def flake8(*options: str) -> list[str]:
        argv = [sys.executable, "-m", "flake8", *options, str(target)]
        return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()

    assert flake8() == []
    (line,) = flake8("--extend-select", "CSF901")
    assert line.startswith(f"{target}:5:12: CSF901 price.delay(x).get() waits")


def test_joins_in_helpers_of_other_modules_are_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _shop(
        tmp_path,
        utils=(
            "def wait_all(results):\n    return [r.get() for r in results]\n\n"
            "def harmless(results):\n    return len(results)\n\n"
            "def start(i):\n    from shop.tasks import fetch\n\n    return fetch.delay(i)\n"
        ),
        tasks=(
            "from celery import shared_task\n"
            "from shop.utils import harmless, wait_all\n"
            "from . import utils\n\n"
            "@shared_task\ndef fetch(i):\n    return i\n\n"
            "@shared_task\ndef refresh(ids):\n"
            "    pending = [fetch.delay(i) for i in ids]\n"
            "    harmless(pending)\n"
            "    return wait_all(pending), utils.wait_all(pending), utils.start(1).get()\n"
        ),
    )
    code, out = run(capsys, package / "tasks.py", "--format", "json")
    rows = json.loads(out)
    assert code == 1
    assert [(r["code"], r["line"], r["column"]) for r in rows] == [
        ("CSF104", 13, 12),
        ("CSF104", 13, 31),
        ("CSF101", 13, 56),
    ]
    assert "refresh -> utils.wait_all (r.get(), line 2)" in rows[0]["message"]
    assert rows[0]["detail"]["join_path"] == str((package / "utils.py").resolve())
    assert rows[2]["detail"]["origin_path"] == str((package / "utils.py").resolve())
    flake8_view = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CSF", str(package / "tasks.py")],
        capture_output=True,
        text=True,
    )
    target = package / "tasks.py"
    assert [line.split(" ")[:2] for line in flake8_view.stdout.splitlines()] == [
        [f"{target}:13:12:", "CSF104"],
        [f"{target}:13:31:", "CSF104"],
        [f"{target}:13:56:", "CSF101"],
    ]  # the plugin uses the same project index as check


def test_subproject_pyproject_without_the_table_does_not_hide_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.celery-safe]\nexclude = ["sub/legacy"]\n')
    (tmp_path / "sub" / "legacy").mkdir(parents=True)
    (tmp_path / "sub" / "pyproject.toml").write_text('[project]\nname = "sub"\n')
    (tmp_path / "sub" / "legacy" / "old.py").write_text(JOINING)
    (tmp_path / "sub" / "new.py").write_text(JOINING)
    code, out = run(capsys, tmp_path / "sub")
    assert code == 1
    assert "new.py" in out and "old.py" not in out


def test_command_line_exclude_paths_are_relative_to_the_cwd(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "pyproject.toml").write_text("[tool.celery-safe]\n")
    monkeypatch.chdir(project / "pkg")
    code, out = run(capsys, ".", "--exclude", "legacy/old.py")
    assert code == 1
    assert "tasks.py" in out and "old.py" not in out


def test_an_excluded_folder_named_explicitly_is_checked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, project / "pkg" / "legacy")
    assert code == 1 and "old.py" in out
    code, out = run(capsys, "--force-exclude", project / "pkg" / "legacy")
    assert code == 0 and "old.py" not in out


# --- issue 9 §3: one selection, one walker; issue 9 §4 and issue 16 item 10: never silent ---

UPDATE_STATE = """\
from celery import shared_task

@shared_task(bind=True)
def failing(self):
    self.update_state(state="FAILURE", meta={"error": "boom"})
"""
OPT_IN = "from shop.tasks import price\n\n\ndef view(x):\n    return price.delay(x).get()\n"


def _codes_in(out: str) -> list[str]:
    return sorted(line.split(": ")[1].split()[0] for line in out.splitlines() if ": CSF" in line)


def test_select_restricts_and_extend_select_adds(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "states.py").write_text(UPDATE_STATE)
    (project / "pkg" / "views.py").write_text(OPT_IN)
    pkg = project / "pkg"
    assert _codes_in(run(capsys, pkg)[1]) == ["CSF101", "CSF301"]
    assert _codes_in(run(capsys, pkg, "--select", "CSF301")[1]) == ["CSF301"]
    assert _codes_in(run(capsys, pkg, "--extend-select", "CSF901")[1]) == [
        "CSF101",
        "CSF301",
        "CSF901",
    ]
    assert _codes_in(run(capsys, pkg, "--select", "CSF9")[1]) == ["CSF901"]
    assert run(capsys, pkg, "--select", "CSF105") == (0, "No findings.\n")


def test_config_select_extend_select_and_the_command_line_select(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "states.py").write_text(UPDATE_STATE)
    (project / "pkg" / "views.py").write_text(OPT_IN)
    (project / "pyproject.toml").write_text(
        '[tool.celery-safe]\nexclude = ["legacy"]\nselect = ["CSF3"]\nextend-select = ["CSF901"]\n'
    )
    pkg = project / "pkg"
    assert _codes_in(run(capsys, pkg)[1]) == ["CSF301", "CSF901"]
    # the command line's --select replaces the config's; extend-select still adds
    assert _codes_in(run(capsys, pkg, "--select", "CSF1")[1]) == ["CSF101", "CSF901"]
    assert _codes_in(run(capsys, pkg, "--ignore", "CSF901")[1]) == ["CSF301"]


def test_the_legacy_fixture_with_select_reports_only_that_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy = Path(__file__).resolve().parents[2] / "examples" / "registry" / "legacy"
    code, out = run(capsys, legacy, "--select", "CSF301")
    assert code == 1 and set(_codes_in(out)) == {"CSF301"}


def _git_project(tmp_path: Path) -> Path:
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("scratch.py\n")
    (tmp_path / ".gitignore").write_text("# build output\ngenerated/\n*_pb2.py\n")
    for name in ("app/tasks.py", "generated/tasks.py", "app/api_pb2.py", "scratch.py",
                 "app/vendor/lib.py", "app/vendor/keep.py"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(JOINING)
    (tmp_path / "app" / "vendor" / ".gitignore").write_text("*.py\n!keep.py\n")
    return tmp_path


def test_files_ignored_by_git_are_skipped_unless_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _git_project(tmp_path)
    code, out = run(capsys, root)
    checked = sorted(Path(line.split(":")[0]).relative_to(root).as_posix()
                     for line in out.splitlines() if ": CSF" in line)  # fmt: skip
    assert code == 1 and checked == ["app/tasks.py", "app/vendor/keep.py"]
    for named in ("generated/tasks.py", "app/api_pb2.py", "scratch.py", "app/vendor/lib.py"):
        assert run(capsys, root / named)[0] == 1, named
        assert run(capsys, root / named, "--force-exclude") == (0, "No findings.\n"), named
    code, out = run(capsys, root / "generated")  # a folder named explicitly is walked
    assert code == 1 and "generated/tasks.py" in out


def test_exclude_patterns_are_gitignore_style(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "deep" / "fixtures").mkdir(parents=True)
    (project / "pkg" / "deep" / "fixtures" / "f.py").write_text(JOINING)
    (project / "pyproject.toml").write_text(
        '[tool.celery-safe]\nexclude = ["legacy/", "pkg/**/fixtures", "!pkg/tasks.py", "*.py"]\n'
    )
    code, out = run(capsys, project / "pkg")
    assert code == 0 and out == "No findings.\n"  # a match in exclude always excludes
    (project / "pyproject.toml").write_text('[tool.celery-safe]\nexclude = ["pkg/**/fixtures"]\n')
    code, out = run(capsys, project / "pkg")
    assert "tasks.py" in out and "old.py" in out and "f.py" not in out


NESTED = "x = " + "(" * 300 + "1" + ")" * 300 + "\n"  # SyntaxError: too many nested parentheses
LONG_UNARY = "x = " + "-" * 200_000 + "1\n"  # MemoryError in the parser
LONG_SUM = "x = " + "+".join(["a"] * 200_000) + "\n"  # RecursionError building the ast
DEEP_TASK = (  # parses, but too deep for the analysis
    "from celery import shared_task\n@shared_task\ndef t(r):\n"
    "    return r.get() + " + "+".join(["a"] * 900) + "\n"
)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (NESTED, "cannot parse this file: too many nested parentheses"),
        (LONG_UNARY, "cannot parse this file: too deeply nested (MemoryError)"),
        (LONG_SUM, "cannot parse this file: too deeply nested (RecursionError)"),
        (DEEP_TASK, f"cannot analyse this file: too deeply nested (more than {MAX_DEPTH} levels"),
        ("x = 1\0\n", "cannot parse this file: source code string cannot contain null bytes"),
    ],
    ids=["nested-parentheses", "long-unary", "long-sum", "deep-task", "null-byte"],
)
def test_a_file_that_cannot_be_checked_is_csf000_and_the_others_keep_their_findings(
    project: Path, capsys: pytest.CaptureFixture[str], source: str, reason: str
) -> None:
    (project / "pkg" / "bad.py").write_text(source)
    code, out = run(capsys, project / "pkg", "--select", "CSF101")
    assert code == 1
    assert f"bad.py:1:1: CSF000 {reason}" in out or f"CSF000 {reason}" in out
    assert "tasks.py:9:12: CSF101" in out
    assert run(capsys, project / "pkg" / "bad.py")[0] == 1


def test_a_fifo_and_a_device_are_refused_not_read(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(project / "pkg" / "pipe.py")  # reading it would wait for a writer forever
    (project / "pkg" / "zero.py").symlink_to("/dev/zero")  # reading it would never end
    code, out = run(capsys, project / "pkg")
    assert code == 1
    assert "pipe.py:1:1: CSF000 cannot read this file: not a regular file (a FIFO)" in out
    assert "tasks.py:9:12: CSF101" in out
    # a link out of the folder walked is not followed; named, it is opened and refused
    assert "zero.py" not in out
    code, out = run(capsys, project / "pkg" / "zero.py")
    assert code == 1
    assert (
        "zero.py:1:1: CSF000 cannot read this file: not a regular file (a character device)" in out
    )


def test_the_size_limit_is_configurable_and_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = len(JOINING.encode())
    code, out = run(capsys, project / "pkg", "--max-file-size", str(size - 1))
    assert code == 1
    assert (
        f"tasks.py:1:1: CSF000 cannot read this file: file of {size} bytes is larger than "
        f"the limit of {size - 1} bytes" in out
    )
    assert run(capsys, project / "pkg", "--max-file-size", str(size))[0] == 1
    assert "CSF000" not in capsys.readouterr().out
    (project / "pyproject.toml").write_text(f"[tool.celery-safe]\nmax-file-size = {size - 1}\n")
    assert "larger than the limit" in run(capsys, project / "pkg")[1]
    (project / "pyproject.toml").write_text('[tool.celery-safe]\nmax-file-size = "big"\n')
    assert main(["check", str(project / "pkg")]) == 2
    assert "max-file-size must be a positive number" in capsys.readouterr().err
    assert main(["check", str(project / "pkg"), "--max-file-size", "0"]) == 2


def test_flake8_selection_options_keep_working_for_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(JOINING)
    (tmp_path / "states.py").write_text(UPDATE_STATE)

    def flake8(*options: str) -> list[str]:
        argv = [sys.executable, "-m", "flake8", *options, str(tmp_path)]
        out = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path).stdout
        return sorted(line.split(": ")[1].split()[0] for line in out.splitlines())

    assert flake8("--select", "CSF") == ["CSF101", "CSF301"]
    assert flake8("--select", "CSF3") == ["CSF301"]
    assert flake8("--select", "F,CSF101") == ["CSF101"]
    assert flake8("--select", "CSF", "--extend-ignore", "CSF1") == ["CSF301"]
