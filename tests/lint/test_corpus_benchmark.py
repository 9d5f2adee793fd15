"""The real-code benchmark stays runnable and its hand labels stay consistent.

The precision and recall figures are read by people, never asserted here: the labels
are checked against the manifest (file kept, line within the pinned file, code known),
and the script is run end to end (materialise from a git snapshot, check, judge) on a
small project of our own written into a temporary corpus.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from celery_safe import catalogue

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "lint_precision.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lint_precision", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


bench = _load_script()


#: every corpus is checked from its TOML alone: no snapshot, no linter (a sealed set is never
#: linted by a test; it is measured once, by hand, with --unseal)
CORPORA = sorted(bench.CORPORA)


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_label_points_at_a_kept_file_and_line_and_a_known_code(corpus: str) -> None:
    folder = bench.CORPORA[corpus]
    projects = {project["name"]: project for project in bench.load_manifest(folder)}
    labels, planned = bench.load_labels(folder)
    known = set(catalogue.all_codes()) | set(planned)
    assert labels
    for label in labels:
        where = f"{label.kind} {label.project}/{label.path}:{label.line} {label.code}"
        assert label.project in projects, where
        files = projects[label.project]["files"]
        assert label.path in files, where
        assert 1 <= label.line <= files[label.path], where
        assert label.code in known, where
        assert label.reason.strip(), where
    twice = Counter((lb.project, lb.path, lb.line, lb.code) for lb in labels)
    assert [key for key, count in twice.items() if count > 1] == []


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_project_is_pinned_with_its_license(corpus: str) -> None:
    projects = bench.load_manifest(bench.CORPORA[corpus])
    names = Counter(project["name"] for project in projects)
    assert [name for name, count in names.items() if count > 1] == []
    for project in projects:
        assert len(project["commit"]) == 40, project["name"]
        assert project["license"] and project["license_file"], project["name"]
        assert project["repository"].startswith("https://github.com/"), project["name"]
        assert project["files"], project["name"]


TASKS = """\
from celery import shared_task


@shared_task
def price(cart_id):
    return {"total": cart_id}.get("total")


@shared_task
def checkout(cart_id):
    return price.delay(cart_id).get()
"""


LABELS = """\
[[expected]]
project = "shop"
path = "shop/tasks.py"
line = 11
code = "CSF101"
reason = "checkout joins price.delay().get()"

[[false_positive]]
project = "shop"
path = "shop/tasks.py"
line = 6
code = "CSF101"
reason = "dict.get is not a join"
"""


@pytest.fixture
def shop(tmp_path: Path) -> list[str]:
    """A git snapshot of one small Celery project and a corpus naming it; the script's
    ``--corpus``/``--mirrors`` arguments. labels.toml is left for each test to write."""
    repo = tmp_path / "mirrors" / "acme+shop" / "repo"
    (repo / "shop").mkdir(parents=True)
    (repo / "shop" / "tasks.py").write_text(TASKS)
    (repo / "LICENSE").write_text("MIT License\n")

    def git(*args: str) -> str:
        command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "shop")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.toml").write_text(
        f'[[project]]\nname = "shop"\nrepository = "https://github.com/acme/shop"\n'
        f'mirror = "acme+shop"\ncommit = "{git("rev-parse", "HEAD").strip()}"\n'
        f'license = "MIT"\nlicense_file = "LICENSE"\n'
        f'[project.files]\n"shop/tasks.py" = {len(TASKS.splitlines())}\n'
    )
    return ["--corpus", str(corpus), "--mirrors", str(tmp_path / "mirrors")]


def test_the_benchmark_materialises_checks_and_judges_a_small_project(
    shop: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "labels.toml").write_text(LABELS)
    assert bench.main([*shop, "--materialise"]) == 0
    assert (corpus / "shop" / "shop" / "tasks.py").read_text() == TASKS
    assert (corpus / "shop" / "LICENSE").is_file()
    capsys.readouterr()

    assert bench.main([*shop, "--check", "1", "1"]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("shop "))
    assert row[1:7] == ["1", "1", "1", "0", "0", "0"]  # files, findings, TP, FP, FN, crashes
    assert "UNJUDGED" not in out


def test_an_unlabelled_finding_counts_as_a_false_positive_and_fails_the_gate(
    shop: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "corpus" / "labels.toml").write_text("")
    bench.main([*shop, "--materialise"])
    assert bench.main(shop) == 0  # a report, not a gate
    assert bench.main([*shop, "--check", "0.5", "0"]) == 1
    assert "UNJUDGED" in capsys.readouterr().out


#: the held-out sets, by name, each measured once and never tuned on
SEALED = ["sealed", "sealed2", "sealed3", "sealed4", "sealed5", "sealed6"]
#: the sets whose projects were drawn from the range reserved for sealed sets (md5 0-7)
RESERVED = ["sealed3", "sealed4", "sealed5", "sealed6"]
#: the expected findings the fourth set holds (judged by hand, before any linter ran on it)
EXPECTED_IN_SEALED4 = 22
#: the expected findings the fifth set holds (judged by hand, before any linter ran on it)
EXPECTED_IN_SEALED5 = 27
#: the projects of the sixth set's part A (md5 0-3); part B (md5 4-7) was built beside it by another hand
SEALED6_PART_A = [
    "allianceauth",
    "bootcamp-ecommerce",
    "cnx-publishing",
    "daiquiri",
    "invenio-rdm-records",
    "ogn-python",
    "onyx",
    "openwisp-monitoring",
    "openwisp-radius",
    "trade-remedies-api",
]


def _repositories(corpus: str) -> set[str]:
    return {p["repository"].lower() for p in bench.load_manifest(bench.CORPORA[corpus])}


@pytest.mark.parametrize("corpus", SEALED)
def test_a_sealed_set_shares_no_project_with_the_tuning_set(corpus: str) -> None:
    assert len(bench.load_manifest(bench.CORPORA[corpus])) >= 12
    assert _repositories(corpus).isdisjoint(_repositories("tuning"))


def test_the_sealed_sets_share_no_project() -> None:
    # a spent set's projects cannot be sealed again: the linter has been measured on them
    assert len(bench.load_manifest(bench.SEALED2)) >= 14
    for later, newer in enumerate(SEALED):
        for older in SEALED[:later]:
            assert _repositories(newer).isdisjoint(_repositories(older)), (newer, older)


@pytest.mark.parametrize("corpus", RESERVED)
def test_a_sealed_set_uses_only_reserved_projects(corpus: str) -> None:
    # projects whose lowercased owner/name has an md5 starting with 0-7 are reserved for the
    # sealed sets: no other piece of work may pick them, so nobody tuned on them
    for repository in _repositories(corpus):
        name = repository.removeprefix("https://github.com/")
        assert hashlib.md5(name.encode()).hexdigest()[0] in "01234567", name


def test_the_third_sealed_set_holds_many_real_problems() -> None:
    # the second set held 14 expected findings over six codes: too few to say much per code
    labels, _ = bench.load_labels(bench.SEALED3)
    expected = [label for label in labels if label.kind == "expected"]
    assert len(expected) >= 30
    assert len({label.code for label in expected}) >= 6
    assert len({label.project for label in expected}) >= 8
    assert all(label.shape for label in labels)


def test_the_fourth_sealed_set_holds_real_problems_of_codes_no_earlier_set_had() -> None:
    # no earlier set had an expected finding for CSF202, CSF204, CSF207, CSF210, CSF212 or
    # CSF401-CSF404: this one was read for such codes too (none invented or planted)
    labels, _ = bench.load_labels(bench.SEALED4)
    expected = [label for label in labels if label.kind == "expected"]
    assert len(expected) >= EXPECTED_IN_SEALED4
    assert len({label.project for label in expected}) >= 8
    earlier = {
        label.code
        for corpus in ("sealed", "sealed2", "sealed3")
        for label in bench.load_labels(bench.CORPORA[corpus])[0]
        if label.kind == "expected"
    }
    assert len({label.code for label in expected} - earlier) >= 3
    assert all(label.shape for label in labels)


def test_the_fifth_sealed_set_balances_its_real_problems_across_families() -> None:
    # the fourth set's expected findings were mostly deployment and registration problems found
    # through commit history (16 of 22): this one holds joins, call arguments and serialisation
    # as well, from current code and from pins just before a maintainer's fix
    labels, _ = bench.load_labels(bench.SEALED5)
    expected = [label for label in labels if label.kind == "expected"]
    assert len(expected) >= EXPECTED_IN_SEALED5
    assert len({label.project for label in expected}) >= 8
    assert len({label.code for label in expected}) >= 6
    families = {label.code[:4] for label in expected}
    assert families >= {"CSF1", "CSF2", "CSF3", "CSF4"}, families
    assert all(label.shape for label in labels)


def test_the_sixth_sealed_set_part_a_holds_ten_projects_from_its_half_of_the_range() -> None:
    # part A was drawn from md5 0-3 and part B from 4-7, so the two halves, built at the same
    # time by different hands, cannot pick the same project; every label names a kept file
    projects = {p["name"]: p for p in bench.load_manifest(bench.SEALED6)}
    assert set(SEALED6_PART_A) <= set(projects)
    for name in SEALED6_PART_A:
        repository = projects[name]["repository"].lower().removeprefix("https://github.com/")
        assert hashlib.md5(repository.encode()).hexdigest()[0] in "0123", name
    labels, _ = bench.load_labels(bench.SEALED6)
    part_a = [label for label in labels if label.project in SEALED6_PART_A]
    assert {label.project for label in part_a} == set(SEALED6_PART_A)
    expected = [label for label in part_a if label.kind == "expected"]
    assert len(expected) >= 4
    assert len({label.project for label in expected}) >= 2
    assert all(label.shape and label.reason for label in part_a)


@pytest.mark.parametrize("corpus", SEALED)
def test_a_sealed_set_commits_no_project_source(corpus: str) -> None:
    # sources, licensed or not, are materialised from the snapshots and never committed: the
    # set's folder holds only its own four files, and git ignores every project folder
    folder = bench.CORPORA[corpus]
    tracked = subprocess.run(
        ["git", "ls-files", folder.relative_to(bench.REPO).as_posix()],
        cwd=bench.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    kept = {Path(path).name for path in tracked}
    assert kept <= {".gitignore", "README.md", "labels.toml", "manifest.toml"}, kept
    for project in bench.load_manifest(folder):
        source = folder / project["name"] / next(iter(project["files"]))
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", source.relative_to(bench.REPO).as_posix()],
            cwd=bench.REPO,
            check=False,
        )
        assert ignored.returncode == 0, source
        if project["license"] == "none declared":
            # no licence: the file kept beside the sources is one of the project's own
            assert project["license_file"] not in ("", "LICENSE"), project["name"]


def test_a_sealed_set_is_materialised_without_unseal(tmp_path: Path) -> None:
    # --materialise runs no linter, so it needs no --unseal: it reaches the snapshots and says
    # which one is missing, or which pinned commit a snapshot lacks, and writes nothing
    first = bench.load_manifest(bench.SEALED3)[0]
    target = bench.SEALED3 / first["name"]
    existed = target.exists()
    mirrors = tmp_path / "mirrors"
    mirrors.mkdir()
    args = ["--corpus", "sealed3", "--materialise", "--mirrors", str(mirrors)]
    with pytest.raises(SystemExit, match=f"no snapshot of {first['repository']}"):
        bench.main([*args, "--project", first["name"]])

    repo = mirrors / first["mirror"] / "repo"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("not the project\n")
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "other"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *command],
            check=True,
            capture_output=True,
        )
    with pytest.raises(SystemExit, match=f"{first['name']}: cannot read .* at {first['commit']}"):
        bench.main([*args, "--project", first["name"]])
    assert target.exists() == existed


@pytest.mark.parametrize("corpus", SEALED)
def test_a_sealed_set_is_not_linted_without_unseal(
    corpus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # refused before the catalogue is read or anything is materialised or checked
    with pytest.raises(SystemExit) as refused:
        bench.main(["--corpus", corpus])
    assert refused.value.code == 2
    assert "--unseal" in capsys.readouterr().err


@pytest.mark.parametrize(
    "folder", [bench.SEALED2, bench.SEALED3, bench.SEALED4, bench.SEALED5, bench.SEALED6]
)
def test_a_sealed_set_named_by_its_folder_is_refused_too(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        bench.main(["--corpus", str(folder)])
    assert refused.value.code == 2
    assert "--unseal" in capsys.readouterr().err
