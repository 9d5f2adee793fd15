"""The repository's test policy (``conftest.py`` at its root): under ``CI`` a skip is a
failure, and hypothesis is derandomized."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"

SKIPPING = """
import pytest

pytest_plugins = ["pytester"]

pytest.importorskip("no_such_package_anywhere")
"""

SKIPPING_TEST = """
import pytest

pytest_plugins = ["pytester"]

def test_needs_a_server():
    pytest.skip("no server")

@pytest.mark.xfail(reason="known")
def test_known_bug():
    assert False

def test_runs():
    from hypothesis import settings
    assert settings().derandomize is {derandomized}
"""


@pytest.mark.parametrize(("ci", "derandomized"), [("", False), ("true", True)])
def test_skips_fail_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, derandomized: bool
) -> None:
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makepyfile(
        test_module_skip=SKIPPING, test_skips=SKIPPING_TEST.format(derandomized=derandomized)
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--continue-on-collection-errors"
    )
    if ci:
        result.assert_outcomes(passed=1, failed=1, xfailed=1, errors=1)
        result.stdout.fnmatch_lines(["*skipped under CI, where nothing may skip*"])
    else:
        result.assert_outcomes(passed=1, skipped=2, xfailed=1)
