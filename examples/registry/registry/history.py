"""What a collection's git history says: when each bundle last changed, and task growth.

Both read git objects only (``git log``, ``git cat-file``), never the working tree, so
they can run beside a sync of the same checkout. Dates are committer dates in UTC
(the date a commit entered the history); a month is ``YYYY-MM`` in UTC.

A date is read from git's seconds since the epoch (``%ct``), so a committer zone such
as ``+9959``, which git writes and prints, changes nothing. A date git can hold but
this registry does not believe (before git existed, :data:`EARLIEST`, or later than
this machine's clock plus :data:`FUTURE_SLACK`: the year 5138 or 11476) is *unknown*
(:func:`commit_date`): never fatal, and never a month of its own.

Task growth follows the first-parent history of one commit over the bundles' robot
files (``codebundles/*/runbook.robot`` and ``sli.robot``). Each version of a file is
read with Robot Framework's own lexer (:func:`registry.robot.task_names`); a task
name that appears in a version is *added* in that commit's month, one that disappears
is *removed*. A version that cannot be read (not UTF-8, too big, NUL bytes, no task)
changes nothing: the file keeps the tasks of its last readable version.

A walk has a budget (:class:`WalkBudget`: commits, bytes of robot files read, seconds)
and stops with :class:`WalkBudgetExceeded` past it. It is incremental: it ends in a
:class:`GrowthState` (the commit reached, each robot file's task names there, the
counts so far), and a walk given that state reads only the commits after it, when
they continue its first-parent line (a rewritten history is walked again in full).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from registry.gitsync import GitSyncError, run_git
from registry.parsing import MAX_FILE_BYTES, ROBOT_FILES
from registry.robot import RobotSyntaxError, task_names

__all__ = [
    "EARLIEST",
    "FUTURE_SLACK",
    "GrowthState",
    "MonthCounts",
    "TaskGrowth",
    "WalkBudget",
    "WalkBudgetExceeded",
    "bundle_last_commits",
    "commit_date",
    "has_commit",
    "month_of",
    "task_growth",
]

DEFAULT_TIMEOUT = 120.0
#: The most blob content one ``git cat-file --batch`` call hands back (bytes).
CHUNK_BYTES = 8_000_000
_ROBOT_PATHSPECS = tuple(f":(glob)codebundles/*/{name}" for name in ROBOT_FILES)


#: The first commit of git itself (2005-04-07): no committer date can be earlier.
EARLIEST = dt.datetime(2005, 4, 7, 22, 13, 13, tzinfo=dt.timezone.utc)
#: How far ahead of this machine's clock a committer date may be (clock skew).
FUTURE_SLACK = dt.timedelta(days=1)
_MAX_STAMP_DIGITS = 12  # why: int() of a 4,300-digit string costs; no sane date has more


def commit_date(stamp: str, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """A committer date from git's ``%ct`` seconds, in UTC; ``None`` (unknown) when it is
    not a number, or lies before :data:`EARLIEST` or after ``now`` + :data:`FUTURE_SLACK`."""
    stamp = stamp.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > _MAX_STAMP_DIGITS:
        return None
    seconds = int(stamp)
    latest = (now or dt.datetime.now(dt.timezone.utc)) + FUTURE_SLACK
    if not EARLIEST.timestamp() <= seconds <= latest.timestamp():
        return None
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def month_of(when: dt.datetime) -> str:
    """``YYYY-MM`` of ``when`` in UTC."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m")


def has_commit(checkout: Path, commit: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether ``checkout`` is a git repository holding the commit ``commit``."""
    if not (Path(checkout) / ".git").is_dir():
        return False
    try:
        run_git(["cat-file", "-e", "--end-of-options", f"{commit}^{{commit}}"],
                cwd=Path(checkout), slug=Path(checkout).name, stage="inspect", timeout=timeout)
    except GitSyncError:
        return False
    return True


def bundle_last_commits(
    checkout: Path, commit: str = "HEAD", *, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, dt.datetime]:
    """Bundle slug -> the date of the latest commit (in ``commit``'s history) touching it.

    One ``git log`` over ``codebundles/``; a bundle with no commit is absent, and a
    commit whose date is unknown (:func:`commit_date`) gives no date.
    """
    out = run_git(
        ["log", "--no-renames", "--name-only", "-z", "--format=%x01%ct",
         "--end-of-options", commit, "--", "codebundles/"],
        cwd=Path(checkout), slug=Path(checkout).name, stage="history", timeout=timeout,
    ).decode("utf-8", "surrogateescape")
    latest: dict[str, dt.datetime] = {}
    when: dt.datetime | None = None
    now = dt.datetime.now(dt.timezone.utc)
    for token in out.split("\0"):
        token = token.lstrip("\n")
        if token.startswith("\x01"):
            when = commit_date(token[1:], now=now)
            continue
        parts = token.split("/")
        if when is None or len(parts) < 3 or parts[0] != "codebundles":
            continue
        slug = parts[1]
        if slug not in latest or when > latest[slug]:
            latest[slug] = when
    return latest


@dataclasses.dataclass
class MonthCounts:
    """Tasks added and removed in one month."""

    added: int = 0
    removed: int = 0


@dataclasses.dataclass(frozen=True)
class WalkBudget:
    """What one collection's history walk may cost before it stops
    (:class:`WalkBudgetExceeded`, reported as that collection's error)."""

    #: Commits changing a robot file walked in one run; past it the walk stops there and
    #: the next run continues.
    commits: int = 20_000
    #: Bytes of robot file versions read (each version once).
    bytes: int = 256_000_000
    #: Seconds for the whole walk: every git call and every version's Robot lexing.
    seconds: float = 300.0


class WalkBudgetExceeded(RuntimeError):
    """A history walk went over its :class:`WalkBudget`; the message says which part.

    ``state`` is where the walk got to (``None``: no further than it started), so the
    next walk continues from there instead of starting again.
    """

    def __init__(self, message: str, state: GrowthState | None = None) -> None:
        super().__init__(message)
        self.state = state


class _Clock:
    """The walk's budget as it is spent: git calls get what is left of the seconds."""

    def __init__(self, budget: WalkBudget, timeout: float) -> None:
        self.budget = budget
        self.timeout = timeout
        self.deadline = time.monotonic() + budget.seconds
        self.read = 0  # bytes of robot file versions read so far

    def check(self) -> float:
        """Seconds left (at most the per-call ``timeout``); past the deadline, raise."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise WalkBudgetExceeded(f"the history walk took longer than its budget of "
                                     f"{self.budget.seconds:g} s")
        return min(self.timeout, left)

    def git(self, checkout: Path, args: list[str], stdin: bytes | None = None) -> bytes:
        limit = self.check()
        try:
            return run_git(args, cwd=checkout, slug=checkout.name, stage="history",
                           timeout=limit, stdin=stdin)
        except GitSyncError:
            if limit < self.timeout and time.monotonic() >= self.deadline:
                self.check()  # raises: git was stopped by the walk's budget, not its own
            raise


@dataclasses.dataclass(frozen=True)
class GrowthState:
    """Where a walk ended, so that the next one starts there: the commit reached, every
    robot file's task names at it, and the counts so far (stored as JSON)."""

    commit: str
    files: dict[str, Counter[str]]
    months: dict[str, MonthCounts]
    commits: int = 0
    unreadable: int = 0
    undated: int = 0
    last_date: dt.datetime | None = None  # what an undated next commit counts in

    def as_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit, "commits": self.commits, "unreadable": self.unreadable,
            "undated": self.undated,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "files": {path: dict(names) for path, names in sorted(self.files.items())},
            "months": {month: [c.added, c.removed] for month, c in sorted(self.months.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> GrowthState | None:
        """The state ``as_json`` wrote, or ``None`` for anything else (walk in full)."""
        try:
            if not isinstance(data, Mapping) or not _COMMIT_RE.fullmatch(data["commit"]):
                return None
            last = data["last_date"]
            return cls(
                commit=data["commit"],
                files={str(path): Counter({str(k): int(v) for k, v in names.items()})
                       for path, names in data["files"].items()},
                months={str(m): MonthCounts(int(a), int(r))
                        for m, (a, r) in data["months"].items()},
                commits=int(data["commits"]), unreadable=int(data["unreadable"]),
                undated=int(data["undated"]),
                last_date=dt.datetime.fromisoformat(last) if last else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


_COMMIT_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class TaskGrowth:
    """A collection's task growth: month -> counts, plus what the walk saw."""

    commit: str
    months: dict[str, MonthCounts]
    commits: int  # commits that changed a robot file
    unreadable: int  # file versions that could not be read (they changed nothing)
    undated: int = 0  # commits whose date is unknown (counted in a neighbour's month)
    walked: int = 0  # commits read by this walk (fewer than ``commits`` when resumed)
    #: Where this walk ended, for the next one (see :func:`task_growth`'s ``since``).
    state: GrowthState | None = dataclasses.field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "commit": self.commit, "commits": self.commits, "unreadable": self.unreadable,
            "undated": self.undated, "walked": self.walked,
            "months": {month: dataclasses.asdict(counts)
                       for month, counts in sorted(self.months.items())},
        }


@dataclasses.dataclass(frozen=True)
class _Change:
    path: str
    blob: str  # all zeros (40 or 64, by the repository's hash): deleted

    @property
    def deleted(self) -> bool:
        return not self.blob.strip("0")


@dataclasses.dataclass(frozen=True)
class _Commit:
    id: str
    when: dt.datetime | None  # None: unknown (see commit_date)
    changes: list[_Change]


def _robot_commits(checkout: Path, revision: str, clock: _Clock) -> Iterator[_Commit]:
    """Oldest first: each first-parent commit changing a robot file, with its new blobs."""
    out = clock.git(checkout, [
        "log", "--reverse", "--first-parent", "--diff-merges=first-parent", "--raw",
        "--no-renames", "--no-abbrev", "-z", "--format=%x01%ct %H", "--end-of-options",
        revision, "--", *_ROBOT_PATHSPECS,
    ]).decode("utf-8", "surrogateescape")
    current: _Commit | None = None
    now = dt.datetime.now(dt.timezone.utc)
    tokens = iter(out.split("\0"))
    for raw in tokens:
        token = raw.lstrip("\n")
        if token.startswith("\x01"):
            if current is not None:
                yield current
            stamp, _, commit = token[1:].strip().partition(" ")
            current = _Commit(commit, commit_date(stamp, now=now), [])
        elif token.startswith(":") and current is not None:
            # ":old_mode new_mode old_blob new_blob status", then the path
            fields = token[1:].split()
            path = next(tokens, "")
            if len(fields) >= 5 and fields[1] != "160000":  # not a submodule
                current.changes.append(_Change(path, fields[3]))
    if current is not None:
        yield current


def _batch(checkout: Path, request: str, blobs: list[str], clock: _Clock) -> bytes:
    return clock.git(checkout, ["cat-file", request],
                     stdin="".join(f"{blob}\n" for blob in blobs).encode())


def _blob_sizes(checkout: Path, blobs: list[str], clock: _Clock) -> dict[str, int | None]:
    """Blob id -> size in bytes (``None``: missing), in one ``--batch-check`` call."""
    sizes: dict[str, int | None] = {}
    lines = _batch(checkout, "--batch-check", blobs, clock).decode().splitlines()
    for blob, line in zip(blobs, lines, strict=True):
        fields = line.split()
        sizes[blob] = int(fields[2]) if len(fields) == 3 else None
    return sizes


def _chunks(blobs: list[str], sizes: dict[str, int | None]) -> Iterator[list[str]]:
    """The readable blobs, in groups of at most :data:`CHUNK_BYTES` of content."""
    chunk: list[str] = []
    held = 0
    for blob in blobs:
        size = sizes[blob]
        if size is None or size > MAX_FILE_BYTES:
            continue
        if chunk and held + size > CHUNK_BYTES:
            yield chunk
            chunk, held = [], 0
        chunk.append(blob)
        held += size
    if chunk:
        yield chunk


def _task_names(content: bytes) -> Counter[str] | None:
    """The file's task names (a multiset), or ``None`` when it cannot be read."""
    try:
        return Counter(task_names(content.decode("utf-8")))
    except (UnicodeDecodeError, RobotSyntaxError):
        return None


def _blob_task_names(
    checkout: Path, blobs: list[str], clock: _Clock
) -> dict[str, Counter[str] | None]:
    """Blob id -> its task names (``None``: unreadable, over :data:`MAX_FILE_BYTES` or
    missing). Content is read a chunk at a time, so a long history of big files never
    sits in memory at once; the budget's bytes are checked before any is read."""
    if not blobs:
        return {}
    sizes = _blob_sizes(checkout, blobs, clock)
    total = sum(size for size in sizes.values() if size is not None and size <= MAX_FILE_BYTES)
    if clock.read + total > clock.budget.bytes:
        raise WalkBudgetExceeded(f"the robot file versions to read hold more than the "
                                 f"budget of {clock.budget.bytes} bytes")
    clock.read += total
    names: dict[str, Counter[str] | None] = dict.fromkeys(blobs)
    for chunk in _chunks(blobs, sizes):
        out = _batch(checkout, "--batch", chunk, clock)
        at = 0
        for blob in chunk:  # "<id> blob <size>\n<content>\n" each
            clock.check()
            at = out.index(b"\n", at) + 1
            size = sizes[blob] or 0
            names[blob] = _task_names(out[at:at + size])
            at += size + 1
    return names


#: Commits applied at a time: a walk stopped by its budget keeps the slices before.
_SLICE = 500


def task_growth(
    checkout: Path, commit: str = "HEAD", *, timeout: float = DEFAULT_TIMEOUT,
    budget: WalkBudget | None = None, since: GrowthState | None = None,
) -> TaskGrowth:
    """Tasks added and removed per month along ``commit``'s first-parent history.

    With ``since`` (an earlier walk's :attr:`TaskGrowth.state`, or the ``state`` of a
    :class:`WalkBudgetExceeded`) only the commits after it are read, when ``commit``
    continues its first-parent line; the result is the one a full walk gives. Commits
    are applied :data:`_SLICE` at a time; past ``budget`` the walk stops with
    :class:`WalkBudgetExceeded` carrying the state after the last whole slice.
    """
    checkout = Path(checkout)
    clock = _Clock(budget or WalkBudget(), timeout)
    resolved = clock.git(checkout, ["rev-parse", "--verify", "--end-of-options",
                                    f"{commit}^{{commit}}"]).decode().strip()
    base = since if since is not None and _continues(checkout, since.commit, resolved,
                                                     clock) else None
    commits: list[_Commit] = []
    if base is None or base.commit != resolved:
        revision = resolved if base is None else f"{base.commit}..{resolved}"
        commits = list(_robot_commits(checkout, revision, clock))
    walk = _Walk(base)
    allowed = commits[:clock.budget.commits]
    dates = _dates_filled(allowed, walk.last_date)
    for start in range(0, len(allowed), _SLICE):
        part = allowed[start:start + _SLICE]
        try:
            wanted = sorted({c.blob for entry in part for c in entry.changes if not c.deleted})
            names = _blob_task_names(checkout, wanted, clock)
        except WalkBudgetExceeded as exc:
            raise walk.stopped(str(exc), len(commits)) from None
        walk.apply(part, dates[start:start + _SLICE], names)
    if len(commits) > len(allowed):
        raise walk.stopped(f"{len(commits)} commits to walk change a robot file, over the "
                           f"budget of {clock.budget.commits} per walk", len(commits))
    state = walk.state(resolved)
    return TaskGrowth(resolved, state.months, state.commits, state.unreadable, state.undated,
                      walk.walked, state)


class _Walk:
    """The running totals of one walk, from an earlier walk's state or from nothing."""

    def __init__(self, base: GrowthState | None) -> None:
        self.files = {path: Counter(n) for path, n in base.files.items()} if base else {}
        self.months = ({m: MonthCounts(c.added, c.removed) for m, c in base.months.items()}
                       if base else {})
        self.commits = base.commits if base else 0
        self.unreadable = base.unreadable if base else 0
        self.undated = base.undated if base else 0
        self.last_date = base.last_date if base else None
        self.reached = base.commit if base else None
        self.walked = 0

    def apply(self, commits: list[_Commit], dates: list[dt.datetime | None],
              names: dict[str, Counter[str] | None]) -> None:
        for entry, when in zip(commits, dates, strict=True):
            counts = (self.months.setdefault(month_of(when), MonthCounts()) if when
                      else MonthCounts())
            for change in entry.changes:
                before = self.files.get(change.path, Counter())
                after = Counter() if change.deleted else names.get(change.blob)
                if after is None:
                    self.unreadable += 1
                    continue
                counts.added += sum((after - before).values())
                counts.removed += sum((before - after).values())
                self.files[change.path] = after
            self.undated += entry.when is None
        self.commits += len(commits)
        self.walked += len(commits)
        self.last_date = dates[-1] if dates else self.last_date
        self.reached = commits[-1].id if commits else self.reached

    def state(self, commit: str) -> GrowthState:
        files = {path: tasks for path, tasks in self.files.items() if tasks}
        return GrowthState(commit, files, self.months, self.commits, self.unreadable,
                           self.undated, self.last_date)

    def stopped(self, why: str, total: int) -> WalkBudgetExceeded:
        """The budget's error, with the state reached (the next walk continues there)."""
        if not self.walked or self.reached is None:
            return WalkBudgetExceeded(f"{why}; no commit walked", None)
        return WalkBudgetExceeded(
            f"{why}; walked {self.walked} of {total}, the next walk continues from there",
            self.state(self.reached))


def _continues(checkout: Path, old: str, new: str, clock: _Clock) -> bool:
    """Whether ``old`` is on ``new``'s first-parent line (so a walk may resume there)."""
    if old == new:
        return True
    try:
        out = clock.git(checkout, ["rev-list", "--first-parent", "--parents",
                                   "--end-of-options", f"{old}..{new}"])
    except GitSyncError:
        return False  # why: ``old`` is gone (a rewritten history): walk in full
    lines = out.decode().splitlines()
    return bool(lines) and lines[-1].split()[1:2] == [old]


def _dates_filled(
    commits: list[_Commit], last: dt.datetime | None = None
) -> list[dt.datetime | None]:
    """Each commit's date; an unknown one takes the date of the commit before it (oldest
    first; ``last``: the one before the first), or, before any known date, of the first
    known one after it."""
    filled: list[dt.datetime | None] = []
    for entry in commits:
        last = entry.when or last
        filled.append(last)
    first = next((when for when in filled if when is not None), None)
    return [when or first for when in filled]
