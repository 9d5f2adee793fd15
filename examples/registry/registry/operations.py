"""What an operator can start, each as one validated workflow that is only *sent*.

    action = operations.sync_collection(session, "k8s-collection")  # or sync_all, ...
    run = operations.send(action, db_url)   # recorded in pipeline_runs, then sent

The admin API and the CLI both call these: an action is built (and validated by
``celery_safe.workflows``, so a wrong step fails here, before anything is sent), then
:func:`send` records the run under the frozen workflow's id and sends it. Nothing
waits: the caller gets the run id at once and follows it with
:func:`registry.runs.observe_run` (``GET /runs/{id}``, the run page).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from celery import Celery
from celery.canvas import Signature
from celery.exceptions import Ignore
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import celery_safe
from celery_safe.workflows import WorkflowError, chain, validate_schedule
from registry import query, runs, sources, store, tasks
from registry.celery_app import app
from registry.config import Settings
from registry.models import CodeBundle
from registry.once import already_replaced, replace_once
from registry.pipeline import build_workflow, collection_slugs, enhancement_chord

__all__ = [
    "Action",
    "ActionRefused",
    "SendFailed",
    "SentRun",
    "enhance_again",
    "reenhance",
    "run_schedule_entry",
    "send",
    "sync_all",
    "sync_collection",
]


class ActionRefused(LookupError):
    """The action cannot be built: ``status`` is the HTTP status that says why (404: the
    thing named does not exist; 409: the registry is not in a state to do it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SendFailed(RuntimeError):
    """The run was recorded but Celery could not send it (it is recorded ``failed``)."""

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(f"run {run_id} was not sent: {reason}")
        self.run_id = run_id
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Action:
    """A workflow ready to send, and what its run record says about it."""

    name: str  # sync-all | sync-collection | enhance | schedule
    workflow: Signature
    collections: list[str]
    target: str | None = None  # the collection's slug or the schedule entry's name

    @property
    def label(self) -> str:
        """What the run record's ``action`` column says (at most its 300 characters)."""
        return (self.name if self.target is None else f"{self.name}:{self.target}")[:300]


@dataclasses.dataclass(frozen=True)
class SentRun:
    run_id: str
    #: ``True`` when an earlier request with the same key started it: nothing was sent.
    replayed: bool


def sync_all(settings: Settings) -> Action:
    """The whole pipeline for ``$REGISTRY_HOME/collections.yaml``."""
    path = settings.collections_file
    if not path.exists():
        raise ActionRefused(409, f"there is no collections file at {path} to sync")
    try:
        text = sources.read_collections_text(path)
    except sources.CollectionsFileError as exc:
        raise ActionRefused(409, str(exc)) from None
    return Action("sync-all", build_workflow(text), collection_slugs(text))


def sync_collection(session: Session, slug: str) -> Action:
    """Sync one stored collection, enhance its pending bundles, summarise."""
    if not query.collection_exists(session, slug):
        raise ActionRefused(404, f"collection {slug!r} not found")
    workflow = chain(tasks.sync_collection.si(slug), tasks.launch_enhancements.s(),
                     tasks.summarize.s([]))
    return Action("sync-collection", workflow, [slug], target=slug)


def reenhance() -> Action:
    """Enhance every failed or pending bundle again (:func:`enhance_again`), summarise."""
    return Action("enhance", chain(enhance_again.si(), tasks.summarize.s([])), [])


def run_schedule_entry(celery_app: Celery, name: str) -> Action:
    """Beat's entry ``name`` sent now, as beat would send it, checked as beat checks it."""
    schedule: Mapping[str, Any] = celery_app.conf.beat_schedule or {}
    if name not in schedule:
        close = difflib.get_close_matches(name, list(schedule), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(map(repr, schedule))) or "none"
        raise ActionRefused(404, f"no beat schedule entry {name!r}{hint}; entries: {known}")
    problems = [p for p in validate_schedule(celery_app) if p.path[:2] == ("beat_schedule", name)]
    if problems:
        raise ActionRefused(409, str(WorkflowError(problems, f"schedule entry {name!r}")))
    entry = schedule[name]  # checked above like every step of a workflow (CSF205...)
    signature = celery_app.signature(
        entry["task"], args=tuple(entry.get("args") or ()),
        kwargs=dict(entry.get("kwargs") or {}), options=dict(entry.get("options") or {}))
    return Action("schedule", signature, [], target=name)


def send(action: Action, engine: str | Engine, *, request_key: str | None = None) -> SentRun:
    """Record ``action``'s run, then send it; returns the run id without waiting.

    The run is recorded first, under the id freezing the workflow gives it (sending a
    frozen workflow keeps its ids), so ``GET /runs/{id}`` finds it at once, and a send
    that fails leaves the run ``failed`` with the broker's error. With ``request_key``
    (the API's ``Idempotency-Key``) a key seen before returns that run and sends
    nothing; the key is unique in the table, so two requests racing with it start one run.
    A send that fails frees the key (the run keeps its error): a retry with it sends
    again, never answering "replayed" for a run that never started.
    """
    if request_key is not None:
        earlier = _earlier_run(engine, action, request_key)
        if earlier is not None:
            return SentRun(earlier, replayed=True)
    frozen = action.workflow.freeze()
    try:
        run_id = runs.record_run(engine, action.workflow, frozen, action.collections,
                                 action=action.label, request_key=request_key)
    except IntegrityError:
        earlier = _earlier_run(engine, action, request_key) if request_key else None
        if earlier is None:  # why: the racing request's send failed and freed the key
            raise SendFailed(frozen.id, "a request with the same Idempotency-Key was being "
                                        "sent and failed; retry") from None
        return SentRun(earlier, replayed=True)
    try:
        action.workflow.apply_async()
    except Exception as exc:  # validated already: what fails now is the broker or the backend
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        runs.finish_run(engine, run_id, seconds=None, error=f"not sent: {reason}")
        if request_key is not None:
            runs.free_request_key(engine, run_id)
        raise SendFailed(run_id, reason) from exc
    return SentRun(run_id, replayed=False)


def _earlier_run(engine: str | Engine, action: Action, request_key: str) -> str | None:
    run = runs.run_for_request(engine, request_key)
    if run is None:
        return None
    if run["action"] != action.label:
        raise ActionRefused(409, f"the Idempotency-Key was used for another action "
                                 f"({run['action']}, run {run['id']}); use a new key")
    return str(run["id"])


@celery_safe.task(app, name="registry.enhance_again", bind=True,
                  resources={"db": tasks.open_db})
def enhance_again(self: Any, *, db: Session) -> Any:
    """Put every failed bundle back to pending, then become a chord enhancing every
    pending bundle (``tally_enhancements`` its body, as in the pipeline).

    Which bundles is decided here, on the worker, not when the request was made; the
    reset is committed before the chord is sent, so its tasks find the bundles pending.
    """
    if already_replaced(self):  # a redelivery: the chord is on its way already
        raise Ignore()
    db.execute(update(CodeBundle).where(CodeBundle.enhancement_status == "failed")
               .values(enhancement_status="pending"))
    bundle_ids = store.pending_bundle_ids(db)
    db.commit()
    if not bundle_ids:
        return tasks.tally_enhancements.logic([], [])
    return replace_once(self, enhancement_chord(bundle_ids, []), {"bundles": bundle_ids})
