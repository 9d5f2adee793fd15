"""Bundle enhancement behind a provider interface, with a deterministic local default.

A provider turns a :class:`BundleView` into an :class:`Enhancement` (description,
access level, IAM hints). :func:`enhance_bundle` runs one provider on one pending
bundle and records the outcome: ``pending → completed`` or ``pending → failed``, plus
an :class:`~registry.models.EnhancementLog` row. The final write is conditional on
the bundle still being pending with the same content, so a task delivered twice
(``acks_late`` after a worker crash) enhances and logs a bundle once.

A bundle has no "processing" state: it stays ``pending`` while a provider works on it,
so a worker that dies mid-call leaves nothing to recover (the task is delivered again).
Errors that may pass (:data:`TRANSIENT_ERRORS`) can be handed back to the caller to
retry, with nothing written; see ``registry.tasks.enhance_bundle``.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.faults import FaultPlan
from registry.models import CodeBundle, EnhancementLog, utcnow
from registry.parsing import access_level_from_tags

__all__ = [
    "TRANSIENT_ERRORS",
    "BundleView",
    "EnhanceOutcome",
    "Enhancement",
    "EnhancementError",
    "LocalProvider",
    "Provider",
    "ProviderUnavailable",
    "SelectiveFailureProvider",
    "enhance_bundle",
    "get_provider",
    "iam_hints",
    "record_failure",
]


@dataclasses.dataclass(frozen=True)
class BundleView:
    """The read-only facts a provider may use (no ORM object leaks to providers)."""

    id: int
    collection: str
    slug: str
    display_name: str
    doc: str
    support_tags: tuple[str, ...]
    tasks: tuple[dict[str, Any], ...]
    user_variables: tuple[dict[str, Any], ...]
    access_level: str

    @classmethod
    def of(cls, bundle: CodeBundle) -> BundleView:
        return cls(
            id=bundle.id, collection=bundle.collection.slug, slug=bundle.slug,
            display_name=bundle.display_name, doc=bundle.doc,
            support_tags=tuple(bundle.support_tags or ()), tasks=tuple(bundle.tasks or ()),
            user_variables=tuple(bundle.user_variables or ()), access_level=bundle.access_level,
        )


@dataclasses.dataclass(frozen=True)
class Enhancement:
    description: str
    access_level: str  # "read-only" | "read-write"
    iam_hints: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class EnhanceOutcome:
    bundle_id: int
    status: str  # "completed" | "failed" | "missing"
    message: str
    skipped: bool = False


class EnhancementError(RuntimeError):
    """A provider could not enhance a bundle; the bundle is marked ``failed``."""


class ProviderUnavailable(RuntimeError):
    """The provider failed for a reason that may pass (down, overloaded): worth a retry."""


#: Provider errors a later attempt may not meet: the task retries these.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ProviderUnavailable, ConnectionError, TimeoutError)


@runtime_checkable
class Provider(Protocol):
    name: str

    def enhance(self, bundle: BundleView) -> Enhancement: ...


_WRITE_WORDS = re.compile(
    r"\b(restart|rollout|delete|remove|scale|patch|apply|update|trigger|remediat\w*|block|"
    r"put|create|reboot|terminate|drain|cordon|vacuum|kill|rotate|write|modify)\b",
    re.IGNORECASE,
)

# platform → (read-only hints, extra hints when the bundle writes), keyed by keyword.
_K8S_RESOURCES = {
    "deployment": ("apps", "deployments"), "replica": ("apps", "replicasets"),
    "pod": ("", "pods"), "event": ("", "events"), "configmap": ("", "configmaps"),
    "namespace": ("", "namespaces"), "node": ("", "nodes"), "statefulset": ("apps", "statefulsets"),
}
_AWS_ACTIONS = {
    "ec2": (["ec2:DescribeInstances", "ec2:DescribeInstanceStatus"],
            ["ec2:RebootInstances", "ec2:StartInstances"]),
    "s3": (["s3:ListAllMyBuckets", "s3:GetBucketPolicy", "s3:GetBucketAcl"],
           ["s3:PutBucketPublicAccessBlock"]),
    "cloudwatch": (["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"], []),
    "rds": (["rds:DescribeDBInstances"], ["rds:RebootDBInstance"]),
    "eks": (["eks:DescribeCluster", "eks:ListNodegroups"], ["eks:UpdateNodegroupConfig"]),
}
_GCP_ROLES = {
    "gke": ("roles/container.viewer", "roles/container.developer"),
    "cloudsql": ("roles/cloudsql.viewer", "roles/cloudsql.editor"),
    "compute": ("roles/compute.viewer", "roles/compute.instanceAdmin.v1"),
}
_AZURE_ROLES = {
    "aks": (
        "Azure Kubernetes Service Cluster User Role",
        "Azure Kubernetes Service Contributor Role",
    ),
    "virtualmachines": ("Reader", "Virtual Machine Contributor"),
    "vm": ("Reader", "Virtual Machine Contributor"),
}


def _text_of(bundle: BundleView) -> str:
    parts = [bundle.display_name, bundle.doc, bundle.slug]
    for task in bundle.tasks:
        parts += [str(task.get("name", "")), str(task.get("doc", "")),
                  " ".join(map(str, task.get("tags", [])))]
    return " ".join(parts).lower()


def _platforms(bundle: BundleView) -> set[str]:
    tags = {t.lower() for t in bundle.support_tags}
    found = set()
    if tags & {"kubernetes", "aks", "eks", "gke", "openshift", "k8s"}:
        found.add("kubernetes")
    if tags & {"aws", "ec2", "s3", "eks", "rds", "cloudwatch"}:
        found.add("aws")
    if tags & {"gcp", "gke", "cloudsql", "google"}:
        found.add("gcp")
    if tags & {"azure", "aks", "virtualmachines"}:
        found.add("azure")
    if tags & {"postgresql", "postgres"}:
        found.add("postgresql")
    return found


def iam_hints(bundle: BundleView, access_level: str) -> dict[str, Any]:
    """Least-privilege hints per platform the bundle supports (deterministic)."""
    writes = access_level == "read-write"
    text = _text_of(bundle)
    tags = {t.lower() for t in bundle.support_tags}
    hints: dict[str, Any] = {}
    platforms = _platforms(bundle)
    if "kubernetes" in platforms:
        groups: dict[str, set[str]] = {}
        for word, (group, resource) in _K8S_RESOURCES.items():
            if word in text:
                groups.setdefault(group, set()).add(resource)
        groups = groups or {"": {"pods", "events"}}
        verbs = ["get", "list", "watch"] + (["patch", "update"] if writes else [])
        hints["kubernetes"] = {"kind": "Kubernetes RBAC Role", "rules": [
            {"apiGroups": [group], "resources": sorted(res), "verbs": verbs}
            for group, res in sorted(groups.items())
        ]}
    if "aws" in platforms:
        actions = ["sts:GetCallerIdentity"]
        for service, (read, write) in _AWS_ACTIONS.items():
            if service in tags or service in text:
                actions += read + (write if writes else [])
        hints["aws"] = {"kind": "AWS IAM policy actions", "actions": sorted(set(actions))}
    if "gcp" in platforms:
        roles = [ro if not writes else rw for key, (ro, rw) in _GCP_ROLES.items()
                 if key in tags or key in text]
        roles = roles or ["roles/editor" if writes else "roles/viewer"]
        hints["gcp"] = {"kind": "GCP IAM roles", "roles": sorted(set(roles))}
    if "azure" in platforms:
        roles = [ro if not writes else rw for key, (ro, rw) in _AZURE_ROLES.items() if key in tags]
        hints["azure"] = {"kind": "Azure built-in roles",
                          "roles": sorted(set(roles or ["Contributor" if writes else "Reader"]))}
    if "postgresql" in platforms:
        roles = ["pg_monitor"] + (["pg_maintain (PostgreSQL 17+) or table owner"] if writes else [])
        hints["postgresql"] = {"kind": "PostgreSQL roles", "roles": roles}
    return hints


class LocalProvider:
    """Deterministic, offline enhancement from the bundle's own text and tags.

    ``faults`` (see :mod:`registry.faults`) makes chosen calls raise
    :class:`ProviderUnavailable`, as a remote provider's outages would.
    """

    name = "local"

    def __init__(self, faults: FaultPlan | None = None) -> None:
        self.faults = faults

    def enhance(self, bundle: BundleView) -> Enhancement:
        call = self.faults.should_fail(bundle.collection, bundle.slug) if self.faults else None
        if call is not None:
            raise ProviderUnavailable(
                f"{self.name} provider unavailable for {bundle.collection}/{bundle.slug} "
                f"(injected fault, call {call})"
            )
        access = self.access_level(bundle)
        return Enhancement(self.describe(bundle), access, iam_hints(bundle, access))

    @staticmethod
    def access_level(bundle: BundleView) -> str:
        tags = [str(t) for task in bundle.tasks for t in task.get("tags", [])]
        declared = access_level_from_tags(tags)
        if declared != "unknown" and not (declared == "read-only" and _undeclared_writes(bundle)):
            return declared
        return "read-write" if _WRITE_WORDS.search(_text_of(bundle)) else "read-only"

    @staticmethod
    def describe(bundle: BundleView) -> str:
        doc = " ".join(bundle.doc.split()) or f"{bundle.display_name}."
        names = [str(t.get("name", "")) for t in bundle.tasks if t.get("name")]
        platforms = ", ".join(bundle.support_tags[:4])
        parts = [doc if doc.endswith((".", "!", "?")) else doc + "."]
        if names:
            shown = "; ".join(names[:3]) + ("; ..." if len(names) > 3 else "")
            parts.append(f"It runs {len(names)} task{'s' if len(names) != 1 else ''}: {shown}.")
        if platforms:
            parts.append(f"Supports {platforms}.")
        return " ".join(parts)


def _undeclared_writes(bundle: BundleView) -> bool:
    """A task without any access tag whose name or doc says it writes."""
    for task in bundle.tasks:
        tags = [str(t).lower() for t in task.get("tags", [])]
        if not any(t.startswith("access:") for t in tags):
            text = f"{task.get('name', '')} {task.get('doc', '')}"
            if _WRITE_WORDS.search(text):
                return True
    return False


class SelectiveFailureProvider(LocalProvider):
    """The local provider, failing for bundles whose slug contains ``marker`` (for demos/tests)."""

    def __init__(self, marker: str, faults: FaultPlan | None = None) -> None:
        super().__init__(faults)
        self.marker = marker
        self.name = f"fail:{marker}"

    def enhance(self, bundle: BundleView) -> Enhancement:
        if self.marker in bundle.slug:
            raise EnhancementError(f"provider refused {bundle.slug!r} (matches {self.marker!r})")
        return super().enhance(bundle)


def get_provider(name: str = "local", *, faults: FaultPlan | None = None) -> Provider:
    """``local``, ``fail:<slug-part>``, or ``package.module:attr`` naming a provider factory.

    ``faults`` applies to the two built-in providers only (a factory's provider has
    real failures of its own).
    """
    if name in ("", "local"):
        return LocalProvider(faults)
    if name.startswith("fail:"):
        return SelectiveFailureProvider(name.removeprefix("fail:"), faults)
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"unknown enhancer {name!r}: use 'local', 'fail:<slug-part>' or 'module:attr'"
        )
    factory = getattr(importlib.import_module(module_name), attr)
    is_instance = isinstance(factory, Provider) and not isinstance(factory, type)
    provider = factory if is_instance else factory()
    if not isinstance(provider, Provider):
        raise TypeError(f"enhancer {name!r} does not provide enhance(bundle) and name")
    return provider


def enhance_bundle(
    session: Session,
    bundle_id: int,
    provider: Provider,
    *,
    task_id: str | None = None,
    reraise: tuple[type[BaseException], ...] = (),
) -> EnhanceOutcome:
    """Enhance one pending bundle; a provider error marks it ``failed`` (never raises it).

    The session's transaction is committed before the provider runs (see below); the
    result is written in a new one, only if the bundle is still pending and unchanged.

    ``reraise``: provider errors the caller handles itself (a retry, a time limit).
    They propagate with nothing written, and the bundle stays ``pending``.

    ``task_id`` identifies the attempt. With ``acks_late``, a worker that dies after
    committing but before acknowledging gets its message delivered again, under the
    same id: that run finds its own earlier work in the log and reports it as its
    outcome, instead of calling the bundle skipped (a run must count it as enhanced).
    A Celery retry keeps the id too.
    """
    bundle = session.get(CodeBundle, bundle_id)
    if bundle is None:
        return EnhanceOutcome(bundle_id, "missing", f"bundle {bundle_id} no longer exists")
    if bundle.enhancement_status != "pending":
        return _already_done(session, bundle, task_id, "nothing to do")
    content_hash = bundle.content_hash
    view = BundleView.of(bundle)
    # The provider may be slow (a remote model): hold no transaction meanwhile, since on
    # SQLite it would keep every other writer waiting. The UPDATE below re-checks.
    session.commit()
    started = utcnow()
    values: dict[str, Any]
    try:
        result = provider.enhance(view)
        if result.access_level not in ("read-only", "read-write"):
            raise EnhancementError(f"provider returned access level {result.access_level!r}")
        values = {"enhancement_status": "completed", "ai_description": result.description,
                  "ai_access_level": result.access_level, "iam_hints": result.iam_hints,
                  "enhanced_at": utcnow()}
        status, message = "completed", f"enhanced by {provider.name}"
    except reraise:
        raise
    except Exception as exc:  # a provider failure is this bundle's outcome, not a crash
        values = {"enhancement_status": "failed"}
        status, message = "failed", f"{type(exc).__name__}: {exc}"
    log = EnhancementLog(bundle_id=bundle_id, status=status, provider=provider.name,
                         message=message, content_hash=content_hash, task_id=task_id,
                         started_at=started)
    return _write_outcome(session, bundle, values, log)


def record_failure(
    session: Session, bundle_id: int, provider: str, message: str, *,
    task_id: str | None = None,
) -> EnhanceOutcome:
    """Mark a still-pending bundle ``failed`` with ``message`` (the caller gave up on it:
    retries exhausted, a time limit). Logged under ``task_id`` like any outcome."""
    bundle = session.get(CodeBundle, bundle_id)
    if bundle is None:
        return EnhanceOutcome(bundle_id, "missing", f"bundle {bundle_id} no longer exists")
    if bundle.enhancement_status != "pending":
        return _already_done(session, bundle, task_id, "not marked failed")
    log = EnhancementLog(bundle_id=bundle_id, status="failed", provider=provider,
                         message=message, content_hash=bundle.content_hash, task_id=task_id,
                         started_at=utcnow())
    return _write_outcome(session, bundle, {"enhancement_status": "failed"}, log)


def _already_done(
    session: Session, bundle: CodeBundle, task_id: str | None, what: str
) -> EnhanceOutcome:
    earlier = _outcome_of_attempt(session, bundle.id, task_id)
    return earlier or EnhanceOutcome(
        bundle.id, bundle.enhancement_status,
        f"already {bundle.enhancement_status}; {what}", skipped=True,
    )


def _write_outcome(
    session: Session, bundle: CodeBundle, values: dict[str, Any], log: EnhancementLog
) -> EnhanceOutcome:
    """Write ``values`` and ``log`` if the bundle is still pending with the logged content."""
    claimed = session.execute(
        update(CodeBundle)
        .where(CodeBundle.id == bundle.id, CodeBundle.enhancement_status == "pending",
               CodeBundle.content_hash == log.content_hash)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    if claimed.rowcount == 0:  # type: ignore[attr-defined]
        session.refresh(bundle)
        earlier = _outcome_of_attempt(session, bundle.id, log.task_id)
        return earlier or EnhanceOutcome(
            bundle.id, bundle.enhancement_status,
            "changed or enhanced concurrently; nothing written", skipped=True,
        )
    log.finished_at = utcnow()
    session.add(log)
    session.flush()
    return EnhanceOutcome(bundle.id, log.status, log.message)


def _outcome_of_attempt(
    session: Session, bundle_id: int, task_id: str | None
) -> EnhanceOutcome | None:
    """What an earlier delivery of the same task wrote for this bundle, if it did."""
    if task_id is None:
        return None
    log = session.scalars(
        select(EnhancementLog)
        .where(EnhancementLog.bundle_id == bundle_id, EnhancementLog.task_id == task_id)
        .order_by(EnhancementLog.id.desc())
        .limit(1)
    ).first()
    return None if log is None else EnhanceOutcome(bundle_id, log.status, log.message)
