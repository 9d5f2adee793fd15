"""Real git repositories with commits at fixed dates, for the history and analytics tests.

Every commit sets ``GIT_AUTHOR_DATE`` and ``GIT_COMMITTER_DATE``, so a repository built
from the same steps has the same history (and commit ids) every time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml
from registry.samples import TEMPLATES, render_robot

__all__ = ["DatedRepo", "growth_collections", "robot_with_tasks"]


def robot_with_tasks(*names: str) -> str:
    """A runbook whose ``*** Tasks ***`` are ``names`` (read by Robot's own parser)."""
    task_type = type(TEMPLATES[0].runbook[0])
    tasks = [task_type(name=name, doc=f"Does {name}.", tags=("access:read-only",))
             for name in names]
    return render_robot(doc="A bundle.", author="ops", display_name="Bundle",
                        supports="Kubernetes", tasks=tasks, variables=[])


class DatedRepo:
    """A git repository at ``path`` whose commits carry the dates the test gives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")

    @classmethod
    def existing(cls, path: Path) -> DatedRepo:
        """The repository already at ``path`` (made by an earlier ``DatedRepo``)."""
        repo = cls.__new__(cls)
        repo.path = path
        return repo

    def git(self, *args: str, date: str = "2023-01-01T00:00:00Z") -> str:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        }
        done = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True,
                              check=True, timeout=60)
        return done.stdout.decode().strip()

    def write(self, relative: str, content: str | bytes) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    def remove(self, relative: str) -> None:
        (self.path / relative).unlink()

    def commit(self, date: str, message: str = "change") -> str:
        self.git("add", "--all", date=date)
        self.git("commit", "--quiet", "--allow-empty", "-m", message, date=date)
        return self.git("rev-parse", "HEAD")

    def commit_raw(self, stamp: str, message: str = "change") -> str:
        """Commit what is in the tree with committer and author ``stamp`` written as given
        (``"<seconds> <+zone>"``): git's own ``commit`` refuses some dates git reads, e.g.
        a zone of ``+9959`` or a year over 9999, which a hostile history can still hold."""
        self.git("add", "--all")
        tree = self.git("write-tree")
        parents = self.git("rev-list", "--max-count=1", "--all")
        lines = [f"tree {tree}"] + ([f"parent {parents}"] if parents else []) + [
            f"author Test <test@example.com> {stamp}",
            f"committer Test <test@example.com> {stamp}", "", message, ""]
        done = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"],
                              cwd=self.path, input="\n".join(lines).encode(),
                              capture_output=True, check=True, timeout=60)
        commit = done.stdout.decode().strip()
        self.git("update-ref", "refs/heads/main", commit)
        return commit

    def bundle(self, slug: str, *tasks: str, kind: str = "runbook") -> None:
        """Write ``codebundles/<slug>/<kind>.robot`` with these tasks (and a meta.yaml)."""
        self.write(f"codebundles/{slug}/{kind}.robot", robot_with_tasks(*tasks))
        self.write(f"codebundles/{slug}/meta.yaml", "owner: ops\n")


def growth_collections(base: Path) -> tuple[Path, dict[str, object]]:
    """Two collections with a known history; returns (collections.yaml, expected report).

    ``alpha``: 2 tasks in 2023-01, +1 in 2023-03 (and one renamed: +1 -1), an SLI with 1
    task in 2023-03; ``beta``: 1 task in 2023-02, then removed in 2023-05, 2 new ones
    in 2023-05. Months with no commit in between are in the report with zeros.
    """
    alpha = DatedRepo(base / "alpha")
    alpha.bundle("k8s-a", "Check Pods", "List Events")
    alpha.commit("2023-01-10T09:00:00Z")
    alpha.bundle("k8s-a", "Check Pods", "List Recent Events", "Restart Pods")
    alpha.bundle("k8s-b", "Measure Latency", kind="sli")
    alpha.commit("2023-03-20T09:00:00Z")
    beta = DatedRepo(base / "beta")
    beta.bundle("pg-a", "Vacuum")
    beta.commit("2023-02-01T00:30:00+02:00")  # 2023-01-31 in UTC
    beta.remove("codebundles/pg-a/runbook.robot")
    beta.remove("codebundles/pg-a/meta.yaml")
    beta.bundle("pg-b", "Analyze", "Reindex")
    beta.commit("2023-05-05T12:00:00Z")
    entries = [{"name": name.title(), "slug": name, "git_url": repo.path.as_uri(),
                "git_ref": "main", "owner": "ops", "owner_email": "ops@example.com",
                "description": name} for name, repo in (("alpha", alpha), ("beta", beta))]
    path = base / "collections.yaml"
    path.write_text(yaml.safe_dump({"codecollections": entries}, sort_keys=False))
    months = [
        {"month": "2023-01", "added": 3, "removed": 0, "total": 3},
        {"month": "2023-02", "added": 0, "removed": 0, "total": 3},
        {"month": "2023-03", "added": 3, "removed": 1, "total": 5},
        {"month": "2023-04", "added": 0, "removed": 0, "total": 5},
        {"month": "2023-05", "added": 2, "removed": 1, "total": 6},
    ]
    return path, {"months": months, "added": 8, "removed": 2, "total": 6}
