"""Clone or fetch a collection with the real ``git`` binary, safely.

Every git call: an argument list (no shell), ``--``/``--end-of-options`` before
user-supplied values, only the file/https/ssh protocols allowed, no terminal prompts,
no system or global config, and a timeout. The URL is re-validated here too, so a
caller that skipped :mod:`registry.sources` still cannot smuggle an option in.
A clone is made in a temporary folder and renamed into place, so a failed sync never
leaves a half-written checkout behind; a per-collection lock file serialises syncs
of the same collection across worker processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from registry.redact import redact
from registry.sources import CollectionSpec, validate_git_ref, validate_git_url

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["GitSyncError", "SyncResult", "git_env", "run_git", "sync_collection"]

DEFAULT_TIMEOUT = 120.0
_SAFE_CONFIG = (
    "-c", "protocol.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.ssh.allow=always",
    "-c", "core.hooksPath=/dev/null",
    "-c", "advice.detachedHead=false",
    "-c", "init.defaultBranch=main",
)


class GitSyncError(RuntimeError):
    """A collection could not be synced; the message says which, where and why."""

    def __init__(self, slug: str, stage: str, detail: str) -> None:
        self.slug = slug
        self.stage = redact(stage)  # git's messages repeat the URL, credentials included
        self.detail = redact(detail)
        super().__init__(f"collection {slug!r}: {self.stage}: {self.detail}")


@dataclasses.dataclass(frozen=True)
class SyncResult:
    path: Path
    commit: str
    previous_commit: str | None = None

    @property
    def changed(self) -> bool:
        return self.commit != self.previous_commit


def git_env() -> dict[str, str]:
    """The environment for git: no prompts, no user/system config, batch-mode ssh."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/true",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_PROTOCOL_FROM_USER="0",
        GIT_SSH_COMMAND="ssh -o BatchMode=yes -o ConnectTimeout=15",
        LC_ALL="C",
    )
    return env


def run_git(
    args: Sequence[str], *, cwd: Path | None, slug: str, stage: str, timeout: float,
    stdin: bytes | None = None,
) -> bytes:
    """Run ``git`` safely (see the module's docstring); its stdout, as bytes.

    Raises :class:`GitSyncError` naming ``slug`` and ``stage`` with git's own reason.
    """
    try:
        proc = subprocess.run(
            ["git", *_SAFE_CONFIG, *args],
            cwd=cwd, env=git_env(), capture_output=True, timeout=timeout,
            input=stdin if stdin is not None else b"", check=False,
        )
    except subprocess.TimeoutExpired:  # its text holds the command line, URL included
        raise GitSyncError(slug, stage, f"git timed out after {timeout:g} s") from None
    except FileNotFoundError:
        raise GitSyncError(slug, stage, "the git executable was not found on PATH") from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))] or lines[-1:]
        reason = "; ".join(fatal[:2]) if fatal else f"git exited with {proc.returncode}"
        raise GitSyncError(slug, stage, reason)
    return proc.stdout


def _git(
    args: Sequence[str], *, cwd: Path | None, slug: str, stage: str, timeout: float
) -> str:
    out = run_git(args, cwd=cwd, slug=slug, stage=stage, timeout=timeout)
    return out.decode("utf-8", "replace").strip()


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _origin_url(dest: Path, slug: str, timeout: float) -> str | None:
    if not (dest / ".git").is_dir():
        return None
    try:
        return _git(["config", "--get", "remote.origin.url"], cwd=dest, slug=slug,
                    stage="inspect", timeout=timeout)
    except GitSyncError:
        return None


def _head(dest: Path, slug: str, timeout: float) -> str | None:
    try:
        return _git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=dest,
                    slug=slug, stage="inspect", timeout=timeout)
    except GitSyncError:
        return None


def _clone(spec: CollectionSpec, dest: Path, timeout: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.slug}.", dir=dest.parent))
    try:
        _git(["clone", "--no-checkout", "--quiet", "--", spec.git_url, str(tmp / "repo")],
             cwd=dest.parent, slug=spec.slug, stage=f"clone {spec.git_url}", timeout=timeout)
        if dest.exists():
            shutil.rmtree(dest)
        (tmp / "repo").rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fetch(spec: CollectionSpec, dest: Path, timeout: float) -> None:
    _git(["fetch", "--quiet", "--prune", "--force", "--tags", "origin",
          "+refs/heads/*:refs/remotes/origin/*"],
         cwd=dest, slug=spec.slug, stage=f"fetch {spec.git_url}", timeout=timeout)


def _resolve(spec: CollectionSpec, dest: Path, timeout: float) -> str:
    """Branch first, then tag, then a commit id; the name is never read as an option."""
    ref = spec.git_ref
    for candidate in (f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", ref):
        try:
            return _git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}"],
                cwd=dest, slug=spec.slug, stage="resolve", timeout=timeout,
            )
        except GitSyncError:
            continue
    raise GitSyncError(
        spec.slug, f"checkout {ref!r}",
        f"ref {ref!r} does not exist in {spec.git_url} (no branch, tag or commit of that name)",
    )


def sync_collection(
    spec: CollectionSpec, workdir: Path, *, timeout: float = DEFAULT_TIMEOUT
) -> SyncResult:
    """Bring ``workdir/<slug>`` to ``spec.git_ref`` of ``spec.git_url`` and return its commit.

    Raises :class:`GitSyncError` for a refused URL, an unreachable repository, a missing
    ref or a git timeout; an existing checkout is left as it was in those cases.
    """
    for problem in (validate_git_url(spec.git_url), validate_git_ref(spec.git_ref)):
        if problem:
            raise GitSyncError(spec.slug, "validate", problem)
    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / spec.slug
    with _locked(workdir / f".{spec.slug}.lock"):
        previous = None
        if _origin_url(dest, spec.slug, timeout) == spec.git_url:
            previous = _head(dest, spec.slug, timeout)
            _fetch(spec, dest, timeout)
        else:
            _clone(spec, dest, timeout)
        commit = _resolve(spec, dest, timeout)
        _git(["checkout", "--force", "--quiet", "--detach", commit],
             cwd=dest, slug=spec.slug, stage="checkout", timeout=timeout)
        _git(["clean", "-ffdqx"], cwd=dest, slug=spec.slug, stage="clean", timeout=timeout)
    return SyncResult(path=dest, commit=commit, previous_commit=previous)
