"""Every rule's VALID/INVALID examples, run through flake8 and ``celery-safe check``.

An INVALID example must give its rule's code and nothing else; a VALID one must give
nothing at all. The first of each are the rule's page (``celery-safe explain``), so a
page can only show code its rule flags and a fix that passes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from celery_safe import catalogue
from celery_safe.cli import main
from celery_safe.lint.docs import INVALID_MARK, VALID_MARK, example_files, render_page
from celery_safe.lint.registry import RULES

LINE = re.compile(r"^(?P<path>.+?):\d+:\d+: (?P<code>CSF\d{3}) ")


def _examples() -> list[tuple[str, str, int, str]]:
    """(code, "invalid"/"valid", index, source) for every example of every rule."""
    return [
        (code, kind, index, source)
        for code, found in sorted(RULES.items())
        for kind, sources in (("invalid", found.invalid), ("valid", found.valid))
        for index, source in enumerate(sources)
    ]


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each example in a file of its own: ``csf101_invalid_0.py``; a project example in a
    folder of its own: ``csf206_invalid_1/shop/...``."""
    folder = tmp_path_factory.mktemp("examples")
    for code, kind, index, source in _examples():
        stem = f"{code.lower()}_{kind}_{index}"
        files = example_files(source)
        if files is None:
            (folder / f"{stem}.py").write_text(source)
            continue
        for name, text in files.items():
            (folder / stem / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / stem / name).write_text(text)
    return folder


def _codes_by_file(lines: list[str], folder: Path) -> dict[str, list[str]]:
    """The codes reported in each example (a file, or a project's folder)."""
    found: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        match = LINE.match(line)
        if match:
            where = Path(match["path"]).resolve().relative_to(folder.resolve()).parts[0]
            found[where.removesuffix(".py")].append(match["code"])
    return found


def _example_paths(folder: Path, prefix: str = "") -> list[Path]:
    return sorted(p for p in folder.glob(f"{prefix}*") if p.suffix == ".py" or p.is_dir())


def _expected(stem: str) -> set[str]:
    code, kind, _ = stem.split("_")
    return {code.upper(), *RULES[code.upper()].also} if kind == "invalid" else set()


def _opt_in() -> list[str]:
    return [code for code in RULES if not catalogue.get(code).default]


def _check_each(
    example_dir: Path, run: object, capsys: pytest.CaptureFixture[str] | None = None
) -> None:
    assert callable(run)
    default = [p for p in _example_paths(example_dir)
               if p.stem.split("_")[0].upper() not in _opt_in()]
    reported = _codes_by_file(run(default, ()), example_dir)
    for code in _opt_in():
        files = _example_paths(example_dir, f"{code.lower()}_")
        reported.update(_codes_by_file(run(files, (code,)), example_dir))
    for path in _example_paths(example_dir):
        got = reported.get(path.stem, [])
        expected = _expected(path.stem)
        if expected:
            code = path.stem.split("_")[0].upper()
            assert code in got and set(got) == expected, (path.stem, got)
        else:
            assert got == [], (path.stem, got)


def test_examples_through_check(example_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(files: list[Path], extra: tuple[str, ...]) -> list[str]:
        argv = ["check", *map(str, files)]
        for code in extra:
            argv += ["--select", code]
        main(argv)
        return capsys.readouterr().out.splitlines()

    _check_each(example_dir, run)


def test_examples_through_flake8(example_dir: Path) -> None:
    def run(files: list[Path], extra: tuple[str, ...]) -> list[str]:
        argv = [sys.executable, "-m", "flake8", "--isolated"]  # opt-in codes stay off
        for code in extra:
            argv += ["--extend-select", code]
        argv += [str(f) for f in files]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert result.stderr == "", result.stderr
        return result.stdout.splitlines()

    _check_each(example_dir, run)


@pytest.mark.parametrize("code", sorted(RULES))
def test_page_shows_the_rule_examples(code: str) -> None:
    """The page's Example and Use instead are the rule's first examples, and only them."""
    entry = catalogue.get(code)
    for section, mark in (("Example", INVALID_MARK), ("Use instead", VALID_MARK)):
        text = entry.section(section)
        assert mark in text, f"{code}: the {section} section must show the rule's example"
        assert "```python" not in text, f"{code}: {section} shows code the rule does not test"
    page = render_page(code)
    assert RULES[code].invalid[0] in page and RULES[code].valid[0] in page
    assert INVALID_MARK not in page and VALID_MARK not in page


def test_explain_prints_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "CSF101"]) == 0
    assert RULES["CSF101"].invalid[0] in capsys.readouterr().out
