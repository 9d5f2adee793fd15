from __future__ import annotations

from pathlib import Path

import pytest
from registry.parsing import access_level_from_tags, parse_collection
from registry.samples import add_bad_inputs
from registry.sources import load_collections


def _checkout(sample_yaml: Path, index: int = 0) -> Path:
    spec = load_collections(sample_yaml).collections[index]
    return Path(spec.git_url.removeprefix("file://"))


def test_sample_collection_parses_completely(shared_samples: Path) -> None:
    result = parse_collection(_checkout(shared_samples))
    assert result.errors == []
    by_slug = {b.slug: b for b in result.bundles}
    assert list(by_slug) == sorted(by_slug)
    bundle = by_slug["k8s-deployment-healthcheck"]
    assert bundle.display_name == "Kubernetes Deployment Triage"
    assert bundle.author == "platform-team-1"
    assert bundle.support_tags == ["Kubernetes", "AKS", "EKS", "GKE", "OpenShift"]
    assert bundle.kinds == ["runbook", "sli"]
    assert [t["kind"] for t in bundle.tasks] == ["runbook", "runbook", "sli"]
    assert bundle.tasks[0]["tags"] == ["access:read-only", "data:config", "deployment", "replicas"]
    assert [v["name"] for v in bundle.user_variables] == ["NAMESPACE", "CONTEXT", "DEPLOYMENT_NAME"]
    assert bundle.access_level == "read-only"
    assert bundle.description.startswith("Triages a Kubernetes deployment")
    assert bundle.readme.startswith("# Kubernetes Deployment Triage")
    assert bundle.meta["commands"][0]["name"].startswith("check_deployment_replicas")
    assert by_slug["k8s-namespace-restart"].access_level == "read-write"
    assert by_slug["k8s-namespace-restart"].kinds == ["runbook"]


def test_content_hash_is_stable_and_sensitive(sample_yaml: Path) -> None:
    repo = _checkout(sample_yaml)
    before = {b.slug: b.content_hash for b in parse_collection(repo).bundles}
    assert before == {b.slug: b.content_hash for b in parse_collection(repo).bundles}
    readme = repo / "codebundles" / "aws-ec2-instance-health" / "README.md"
    readme.write_text(readme.read_text() + "\nmore\n")
    after = {b.slug: b.content_hash for b in parse_collection(repo).bundles}
    changed = {slug for slug in before if before[slug] != after[slug]}
    assert changed == {"aws-ec2-instance-health"}


def test_each_bad_bundle_is_one_error_others_parse(sample_yaml: Path) -> None:
    bad = add_bad_inputs(sample_yaml)
    result = parse_collection(_checkout(sample_yaml))
    assert sorted(b.slug for b in result.bundles) == [
        "aws-ec2-instance-health", "aws-s3-bucket-policy-fix", "k8s-deployment-healthcheck",
        "k8s-namespace-restart",
    ]
    errors = {e.bundle: e.message for e in result.errors}
    assert set(errors) == {bad.malformed_bundle, bad.undecodable_bundle,
                           bad.escaping_symlink_bundle}
    assert "line 4: Unrecognized section header" in errors[bad.malformed_bundle]
    assert "not UTF-8" in errors[bad.undecodable_bundle]
    assert "symlink pointing outside the checkout" in errors[bad.escaping_symlink_bundle]
    assert str(bad.outside_file) in errors[bad.escaping_symlink_bundle]


def _bundle(root: Path, name: str, **files: str) -> Path:
    bundle = root / "codebundles" / name
    bundle.mkdir(parents=True)
    for filename, text in files.items():
        stem, _, suffix = filename.rpartition("_")
        (bundle / f"{stem}.{suffix}").write_text(text)
    return bundle


ROBOT = (
    "*** Settings ***\nDocumentation    Doc.\nMetadata    Supports    AWS\n"
    "*** Tasks ***\nT\n    [Tags]    access:read-only\n"
)


def test_bundle_level_problems(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _bundle(root, "no-robot", meta_yaml="a: 1\n")
    _bundle(root, "bad-meta", runbook_robot=ROBOT, meta_yaml="a: [\n")
    _bundle(root, "list-meta", runbook_robot=ROBOT, meta_yaml="- a\n")
    _bundle(root, "ok", sli_robot=ROBOT)
    (_bundle(root, "dir-robot") / "runbook.robot").mkdir()
    (root / "codebundles" / "README.md").write_text("not a bundle")
    (root / "codebundles" / ".hidden").mkdir()
    result = parse_collection(root)
    assert [b.slug for b in result.bundles] == ["ok"]
    assert result.bundles[0].kinds == ["sli"]
    errors = {e.bundle: e.message for e in result.errors}
    assert errors.pop("bad-meta").startswith("meta.yaml is not valid YAML")
    assert errors == {
        "no-robot": "has neither runbook.robot nor sli.robot",
        "list-meta": "meta.yaml must be a mapping, got list",
        "dir-robot": "runbook.robot is not a regular file",
    }


def test_the_bundles_own_resource_files_give_their_variable_imports(tmp_path: Path) -> None:
    """``Resource  common.resource`` inside the bundle is read (``get_resource_model``);
    a path leaving the bundle or holding a variable is left alone, never opened."""
    root = tmp_path / "repo"
    (tmp_path / "outside.resource").write_text(
        "*** Keywords ***\nK\n    RW.Core.Import User Variable    STOLEN\n")
    suite = ("*** Settings ***\nResource    common.resource\n"
             "Resource    ../../../outside.resource\nResource    ${DIR}/x.resource\n"
             "*** Tasks ***\nT\n    Setup\n"
             "    RW.Core.Import User Variable    OWN    type=string\n")
    common = ("*** Keywords ***\nSetup\n    RW.Core.Import User Variable    REGION\n"
              "    ...    description=Where.\n    RW.Core.Import User Variable    OWN\n"
              "    RW.Core.Import Secret    token\n")
    _bundle(root, "with-resource", runbook_robot=suite, common_resource=common)
    # Robot imports this one and fails keyword K only when it is used: the bundle stays.
    _bundle(root, "bad-keyword", runbook_robot=suite,
            common_resource=common + "K\n    [Bogus]    x\n    Log    y\n")
    # Robot refuses to import this one and runs the suite without it: no variables from it.
    _bundle(root, "bad-resource", runbook_robot=suite,
            common_resource="*** Tsks ***\n" + common)
    result = parse_collection(root)
    assert result.errors == []
    bundles = {b.slug: b for b in result.bundles}
    for slug in ("with-resource", "bad-keyword"):
        assert bundles[slug].user_variables == [
            {"type": "string", "name": "OWN"}, {"description": "Where.", "name": "REGION"}]
    assert bundles["with-resource"].diagnostics == []
    assert bundles["bad-keyword"].diagnostics == [
        {"file": "common.resource", "line": 8, "severity": "error", "scope": "keyword",
         "name": "K", "message": "Non-existing setting 'Bogus'."}]
    assert bundles["bad-resource"].user_variables == [{"type": "string", "name": "OWN"}]
    [diagnostic] = bundles["bad-resource"].diagnostics
    assert diagnostic["file"] == "common.resource" and diagnostic["line"] == 1
    assert diagnostic["message"].startswith("Unrecognized section header '*** Tsks ***'.")


def test_robot_problems_that_do_not_stop_robot_keep_the_bundle(tmp_path: Path) -> None:
    """The shapes found in runwhen-contrib/rw-cli-codecollection (Robot 7.5): ``RETURN``
    inside a task's IF, the deprecated ``[Return]`` in a keyword. Robot runs both files:
    the first task fails, the warning is logged. A mixed tests/tasks file, which Robot
    refuses to run, still refuses its bundle."""
    root = tmp_path / "repo"
    runbook = ("*** Settings ***\nDocumentation    Costs.\n*** Tasks ***\nReport Costs\n"
               "    [Tags]    access:read-only\n    IF    True\n        RETURN\n    END\n"
               "Other\n    Log    x\n")
    sli = ("*** Tasks ***\nProbe\n    ${ok}=    Check    url\n*** Keywords ***\nCheck\n"
           "    [Arguments]    ${url}\n    [Return]    ${url}\n")
    _bundle(root, "costs", runbook_robot=runbook, sli_robot=sli)
    _bundle(root, "mixed", runbook_robot="*** Test Cases ***\nA\n    Log  x\n"
            "*** Tasks ***\nB\n    Log  y\n")
    result = parse_collection(root)
    [bundle] = result.bundles
    assert [(t["name"], t["kind"]) for t in bundle.tasks] == [
        ("Report Costs", "runbook"), ("Other", "runbook"), ("Probe", "sli")]
    assert bundle.access_level == "read-only"
    assert bundle.diagnostics == [
        {"file": "runbook.robot", "line": 7, "severity": "error", "scope": "task",
         "name": "Report Costs", "message": "RETURN can only be used inside a user keyword."},
        {"file": "sli.robot", "line": 7, "severity": "warning", "scope": "keyword",
         "name": "Check",
         "message": "The '[Return]' setting is deprecated. Use the 'RETURN' statement instead."},
    ]
    assert [(e.bundle, e.message) for e in result.errors] == [
        ("mixed", "runbook.robot: line 4: one file cannot have both tests and tasks")]


def test_symlinks_inside_the_bundle_are_followed_others_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shared = root / "shared"
    shared.mkdir(parents=True)
    (shared / "runbook.robot").write_text(ROBOT)
    inside = _bundle(root, "inside-link", notes_md="notes")
    (inside / "runbook.robot").symlink_to(shared / "runbook.robot")
    (inside / "README.md").symlink_to("notes.md")
    (_bundle(root, "within") / "README.md").symlink_to("notes.md")
    (root / "codebundles" / "within" / "notes.md").write_text("notes")
    (root / "codebundles" / "within" / "runbook.robot").write_text(ROBOT)
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "runbook.robot").write_text(ROBOT)
    (root / "codebundles" / "dir-link").symlink_to(outside_dir)
    nested = _bundle(root, "nested-link", runbook_robot=ROBOT)
    (nested / "docs").mkdir()
    (nested / "docs" / "passwd").symlink_to("/etc/passwd")
    result = parse_collection(root)
    assert [b.slug for b in result.bundles] == ["within"]
    assert result.bundles[0].readme == "notes"
    errors = {e.bundle: e.message for e in result.errors}
    assert set(errors) == {"dir-link", "inside-link", "nested-link"}
    assert "runbook.robot is a symlink leaving the bundle" in errors["inside-link"]
    assert "docs/passwd is a symlink pointing outside" in errors["nested-link"]


def test_unreadable_robot_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _bundle(root, "locked", runbook_robot=ROBOT)
    _bundle(root, "fine", runbook_robot=ROBOT)
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:  # chmod 0 does not stop root, so simulate EACCES
        if self.parent.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = parse_collection(root)
    assert [b.slug for b in result.bundles] == ["fine"]
    assert [(e.bundle, e.message) for e in result.errors] == [
        ("locked", "runbook.robot cannot be read: Permission denied")
    ]


def test_oversized_file_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _bundle(root, "huge", runbook_robot=ROBOT, README_md="x" * 1_000_001)
    [error] = parse_collection(root).errors
    assert "over the 1000000 limit" in error.message


def test_collection_without_codebundles(tmp_path: Path) -> None:
    result = parse_collection(tmp_path)
    assert result.bundles == [] and result.errors[0].bundle == "(all)"
    (tmp_path / "codebundles").symlink_to("/")
    assert "symlink leaving the checkout" in parse_collection(tmp_path).errors[0].message


@pytest.mark.parametrize(
    ("tags", "level"),
    [
        (["access:read-only", "data:config"], "read-only"),
        (["ACCESS:Read-Write", "access:read-only"], "read-write"),
        (["data:logs"], "unknown"),
        ([], "unknown"),
    ],
)
def test_access_level_from_tags(tags: list[str], level: str) -> None:
    assert access_level_from_tags(tags) == level
