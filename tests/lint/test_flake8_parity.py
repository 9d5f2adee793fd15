"""``flake8 --select=CSF`` and ``celery-safe check`` report the same findings (issue 21).

Over the repository's own code that has findings to agree on (the rules' eval files, the
codemods' fixtures, the registry example and its legacy tasks) and over every project of
the tuning corpus (``benchmarks/corpus``) that is materialised on this machine
(``benchmarks/lint_precision.py --materialise``). The multi-module shapes of
``test_project_shapes.py`` compare the two as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .parity import assert_same_findings, python_files

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "benchmarks" / "corpus"
OWN = {
    "eval_files": REPO / "tests" / "lint" / "eval_files",
    "codemod_fixtures": REPO / "tests" / "codemods" / "fixtures",
    "registry": REPO / "examples" / "registry",
}


def materialised() -> list[Path]:
    """Corpus projects whose files are on disk (the manifest lists them all)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.is_dir() and python_files(p))


@pytest.mark.parametrize("name", sorted(OWN))
def test_flake8_and_check_agree_on_our_own_code(name: str) -> None:
    files = python_files(OWN[name])
    total = assert_same_findings(files)
    if name != "registry":  # the example is clean; its legacy/ tasks are not
        assert total > 0
    else:
        legacy = [f for f in files if "legacy" in f.parts]
        assert legacy and assert_same_findings(legacy) > 0


CORPUS_PROJECTS = materialised()

if CORPUS_PROJECTS:  # defined only where the corpus is: an empty parametrisation is a skip

    @pytest.mark.parametrize("project", CORPUS_PROJECTS, ids=lambda p: p.name)
    def test_flake8_and_check_agree_on_every_corpus_file(project: Path) -> None:
        assert_same_findings(python_files(project))
