"""What validation reports: one :class:`Problem` per mistake, all of them in one error.

Messages and fix advice come from the catalogue page of the problem's code
(``celery_safe/catalogue/CSF2xx.md``), so a problem reads the same here, in the
linter and in ``celery-safe explain``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .. import catalogue

__all__ = ["Path", "Problem", "WorkflowError", "render_path"]

#: Where a step sits in a workflow: ``("chain", 2, "chord", "header", 0)``.
Path = tuple[str | int, ...]


def render_path(path: Path) -> str:
    """``("chain", 2, "chord", "body")`` -> ``chain[2].chord.body``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


@dataclass(frozen=True)
class Problem:
    """One mistake in a workflow: a catalogue code, a message naming the step, a fix."""

    code: str
    message: str
    fix: str
    path: Path
    task: str | None = None
    #: What the front-end built the step from (a Celery signature, or an ``ast`` node
    #: the linter reports at); not part of the problem's identity.
    origin: object = field(default=None, compare=False, repr=False)
    #: Which part of a chord a CSF204 is about (``"header"`` or ``"body"``), for a
    #: front-end that knows more about it than the model (the linter: who reads the
    #: chord's result); not part of the problem's identity.
    about: str = field(default="", compare=False, repr=False)

    @classmethod
    def make(
        cls,
        code: str,
        path: Path,
        task: str | None,
        facts: Mapping[str, object],
        *,
        what: str | None = None,
        origin: object = None,
    ) -> Problem:
        """A problem whose message is the catalogue's, filled with ``facts``.

        The message's ``{step}`` names the position and the task's short name
        (``chain[1] clone_repositories_task``), or ``what`` for a composite step.
        """
        entry = catalogue.get(code)
        label = what or (task.rpartition(".")[2] if task else "")
        step = " ".join(part for part in (render_path(path), label) if part) or "workflow"
        message = entry.message.format(step=step, task=task, **facts)
        return cls(entry.code, message, entry.fix, path, task, origin)

    @property
    def where(self) -> str:
        """The position as text, e.g. ``chain[1]`` (empty for a lone signature)."""
        return render_path(self.path)

    def __str__(self) -> str:
        return f"{self.code} {self.message}"


class WorkflowError(ValueError):
    """A workflow has problems; ``.problems`` lists every one, in workflow order.

    Its only argument is the readable text, so the error survives a result backend
    (Celery rebuilds it as ``WorkflowError(text)``; ``.problems`` is then empty).
    """

    __module__ = "celery_safe.workflows"

    def __init__(self, problems: Iterable[Problem] | str = (), workflow: str = "workflow") -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            text = problems
        else:
            self.problems = list(problems)
            text = format_problems(self.problems, f"{workflow} would fail")
        self.workflow = workflow
        super().__init__(text)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "workflow would fail"


def format_problems(problems: Sequence[Problem], title: str) -> str:
    """A readable list: one problem per entry, each with its fix."""
    count = len(problems)
    lines = [f"{title}: {count} problem{'s' if count != 1 else ''}"]
    for problem in problems:
        lines.append(f"  {problem.code} {problem.message}")
        lines.append(f"      fix: {problem.fix}")
    return "\n".join(lines)
