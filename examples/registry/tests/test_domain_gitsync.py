from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from registry.gitsync import GitSyncError, sync_collection
from registry.samples import commit_all, modify_bundle
from registry.sources import CollectionSpec, load_collections


def _spec(sample_yaml: Path, index: int = 0, **changes: str) -> CollectionSpec:
    return dataclasses.replace(load_collections(sample_yaml).collections[index], **changes)


def _repo(spec: CollectionSpec) -> Path:
    return Path(spec.git_url.removeprefix("file://"))


def _head(repo: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_clone_then_fetch_follows_new_commits(sample_yaml: Path, workdir: Path) -> None:
    spec = _spec(sample_yaml)
    first = sync_collection(spec, workdir)
    assert first.path == workdir / spec.slug
    assert first.commit == _head(_repo(spec)) and first.previous_commit is None
    assert (first.path / "codebundles" / "k8s-deployment-healthcheck" / "runbook.robot").is_file()

    again = sync_collection(spec, workdir)
    assert again.commit == first.commit and not again.changed

    new_commit = modify_bundle(_repo(spec), "k8s-deployment-healthcheck")
    updated = sync_collection(spec, workdir)
    assert updated.commit == new_commit != first.commit
    assert updated.previous_commit == first.commit and updated.changed
    assert "Updated Check" in (updated.path / "codebundles" / "k8s-deployment-healthcheck"
                               / "runbook.robot").read_text()


def test_checkout_tag_and_commit(sample_yaml: Path, workdir: Path) -> None:
    spec = _spec(sample_yaml)
    tagged = _head(_repo(spec))
    modify_bundle(_repo(spec), "k8s-deployment-healthcheck")
    assert sync_collection(dataclasses.replace(spec, git_ref="v1.0"), workdir).commit == tagged
    by_commit = sync_collection(dataclasses.replace(spec, git_ref=tagged[:12]), workdir)
    assert by_commit.commit == tagged
    assert "Updated Check" not in (by_commit.path / "codebundles" / "k8s-deployment-healthcheck"
                                   / "runbook.robot").read_text()


def test_branch_ref(sample_yaml: Path, workdir: Path) -> None:
    spec = _spec(sample_yaml)
    repo = _repo(spec)
    subprocess.run(["git", "checkout", "-q", "-b", "feature/x"], cwd=repo, check=True)
    (repo / "FEATURE.md").write_text("feature\n")
    feature_commit = commit_all(repo, "feature")
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)
    result = sync_collection(dataclasses.replace(spec, git_ref="feature/x"), workdir)
    assert result.commit == feature_commit
    assert (result.path / "FEATURE.md").exists()


def test_missing_ref_keeps_existing_checkout(sample_yaml: Path, workdir: Path) -> None:
    spec = _spec(sample_yaml)
    good = sync_collection(spec, workdir)
    with pytest.raises(GitSyncError) as info:
        sync_collection(dataclasses.replace(spec, git_ref="no-such-branch"), workdir)
    assert info.value.slug == spec.slug
    assert "'no-such-branch' does not exist" in str(info.value)
    assert _head(good.path) == good.commit  # untouched


def test_unreachable_repo(tmp_path: Path, workdir: Path) -> None:
    spec = CollectionSpec(name="Gone", slug="gone", git_url=(tmp_path / "missing").as_uri())
    with pytest.raises(GitSyncError, match=r"'gone': clone .*does not appear to be a git repo"):
        sync_collection(spec, workdir)
    assert not (workdir / "gone").exists()
    assert [p.name for p in workdir.iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.parametrize(
    "url", ["--upload-pack=touch /tmp/pwned-registry", "ext::sh -c touch% /tmp/pwned-registry",
            "http://example.com/r.git"],
)
def test_injection_refused_even_without_loader(url: str, workdir: Path, tmp_path: Path) -> None:
    spec = CollectionSpec(name="Evil", slug="evil", git_url=url)
    with pytest.raises(GitSyncError, match="'evil': validate"):
        sync_collection(spec, workdir)
    assert not Path("/tmp/pwned-registry").exists()


def test_option_like_ref_refused(sample_yaml: Path, workdir: Path) -> None:
    with pytest.raises(GitSyncError, match="not a valid branch"):
        sync_collection(_spec(sample_yaml, git_ref="--output=/tmp/x"), workdir)


def test_url_change_reclones(sample_yaml: Path, workdir: Path) -> None:
    first, second = load_collections(sample_yaml).collections[:2]
    sync_collection(first, workdir)
    moved = dataclasses.replace(second, slug=first.slug)
    result = sync_collection(moved, workdir)
    assert result.commit == _head(_repo(second))
    assert (result.path / "codebundles" / "azure-aks-cluster-health").is_dir()


def test_local_changes_in_checkout_are_discarded(sample_yaml: Path, workdir: Path) -> None:
    spec = _spec(sample_yaml)
    result = sync_collection(spec, workdir)
    (result.path / "stray.txt").write_text("x")
    (result.path / "README.md").write_text("edited")
    sync_collection(spec, workdir)
    assert not (result.path / "stray.txt").exists()
    assert (result.path / "README.md").read_text() != "edited"
