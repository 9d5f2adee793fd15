"""Deterministic sample data: real local git collections and a ``collections.yaml``.

``generate_sample_collections`` writes N git repositories (made with ``git init`` and
``git commit``, fixed dates so commit ids are stable) holding varied bundles for
Kubernetes, AWS, GCP, Azure and PostgreSQL, runbooks and SLIs, read-only and
read-write. ``add_bad_inputs`` adds one of each bad input the pipeline must survive;
``modify_bundle`` changes a bundle and commits, for re-run tests;
``add_hostile_collection`` plants markup and scripts for the web pages' escaping tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import textwrap
from pathlib import Path

import yaml

__all__ = [
    "HOSTILE_SCRIPT",
    "SAMPLE_COLLECTION_NAMES",
    "BadInputs",
    "HostileInputs",
    "add_bad_inputs",
    "add_hostile_collection",
    "commit_all",
    "generate_sample_collections",
    "modify_bundle",
    "render_robot",
]

SAMPLE_COLLECTION_NAMES = (
    ("rw-cli-codecollection", "RunWhen CLI CodeCollection", "platform-team"),
    ("infra-cloud-collection", "Cloud Infrastructure Collection", "cloud-ops"),
    ("data-platform-collection", "Data Platform Collection", "data-eng"),
)


@dataclasses.dataclass(frozen=True)
class _Task:
    name: str
    doc: str
    tags: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Variable:
    name: str
    description: str
    example: str
    default: str = ""
    type: str = "string"
    pattern: str = r"\w*"


@dataclasses.dataclass(frozen=True)
class _Template:
    slug: str
    display_name: str
    doc: str
    supports: str
    runbook: tuple[_Task, ...]
    sli: tuple[_Task, ...]
    variables: tuple[_Variable, ...]


_NS = _Variable("NAMESPACE", "The Kubernetes namespace to act in.", "otel-demo", "default")
_CTX = _Variable("CONTEXT", "The kubeconfig context to use.", "sandbox-cluster-1", "default")
_REGION = _Variable("AWS_REGION", "The AWS region to inspect.", "us-east-1", "us-east-1")
_PROJECT = _Variable("GCP_PROJECT_ID", "The GCP project that owns the resources.", "my-project")
_RG = _Variable("AZ_RESOURCE_GROUP", "The Azure resource group to inspect.", "prod-rg")
_DB = _Variable("DATABASE_NAME", "The PostgreSQL database to check.", "orders", "postgres")

TEMPLATES: tuple[_Template, ...] = (
    _Template(
        "k8s-deployment-healthcheck", "Kubernetes Deployment Triage",
        "Triages a Kubernetes deployment: replicas, events and container restarts.",
        "Kubernetes,AKS,EKS,GKE,OpenShift",
        (
            _Task("Check Deployment Replicas for `${DEPLOYMENT_NAME}`",
                  "Compares desired and ready replicas of the deployment.",
                  ("access:read-only", "data:config", "deployment", "replicas")),
            _Task("Inspect Warning Events in Namespace `${NAMESPACE}`",
                  "Lists recent warning events and groups them by object.",
                  ("access:read-only", "data:logs", "events")),
        ),
        (_Task("Measure Deployment Availability", "Pushes 1 when all replicas are ready.",
               ("access:read-only", "data:metrics", "sli")),),
        (_NS, _CTX, _Variable("DEPLOYMENT_NAME", "The deployment to triage.", "frontend")),
    ),
    _Template(
        "k8s-namespace-restart", "Kubernetes Namespace Rollout Restart",
        "Restarts unhealthy workloads in a namespace with a rolling restart.",
        "Kubernetes,GKE,EKS",
        (
            _Task("List Unhealthy Pods in Namespace `${NAMESPACE}`",
                  "Finds pods in CrashLoopBackOff or not ready.",
                  ("access:read-only", "data:config", "pods")),
            _Task("Rollout Restart Deployments in `${NAMESPACE}`",
                  "Runs kubectl rollout restart for each unhealthy deployment.",
                  ("access:read-write", "remediation", "restart")),
        ),
        (),
        (_NS, _CTX),
    ),
    _Template(
        "aws-ec2-instance-health", "AWS EC2 Instance Health",
        "Checks EC2 instance status checks and CloudWatch alarms in a region.",
        "AWS,EC2,CloudWatch",
        (
            _Task("Check EC2 Status Checks in `${AWS_REGION}`",
                  "Reports instances failing system or instance status checks.",
                  ("access:read-only", "data:config", "ec2")),
            _Task("List Alarms in ALARM State", "Lists CloudWatch alarms currently firing.",
                  ("access:read-only", "data:metrics", "cloudwatch")),
        ),
        (_Task("Count Impaired Instances", "Pushes the number of impaired instances.",
               ("access:read-only", "data:metrics")),),
        (_REGION,),
    ),
    _Template(
        "aws-s3-bucket-policy-fix", "AWS S3 Public Bucket Remediation",
        "Finds publicly readable S3 buckets and blocks public access on them.",
        "AWS,S3",
        (
            _Task("Find Public S3 Buckets", "Lists buckets whose policy or ACL allows public read.",
                  ("access:read-only", "data:config", "s3")),
            _Task("Block Public Access on `${BUCKET_NAME}`",
                  "Puts a public access block on the bucket.",
                  ("access:read-write", "remediation", "s3")),
        ),
        (),
        (_REGION, _Variable("BUCKET_NAME", "The bucket to remediate.", "assets-prod")),
    ),
    _Template(
        "gcp-gke-node-pool-check", "GCP GKE Node Pool Health",
        "Inspects GKE node pools: autoscaling limits, node conditions and upgrades.",
        "GCP,GKE,Kubernetes",
        (
            _Task("Check Node Pool Autoscaling in `${GCP_PROJECT_ID}`",
                  "Reports node pools at their autoscaling maximum.",
                  ("access:read-only", "data:config", "gke")),
        ),
        (_Task("Measure Ready Node Ratio", "Pushes the ratio of ready nodes.",
               ("access:read-only", "data:metrics")),),
        (_PROJECT, _Variable("CLUSTER_NAME", "The GKE cluster.", "prod-gke")),
    ),
    _Template(
        "gcp-cloudsql-backup-verify", "GCP Cloud SQL Backup Verification",
        "Verifies that Cloud SQL instances have recent successful backups.",
        "GCP,CloudSQL",
        (
            _Task("List Cloud SQL Backups for `${GCP_PROJECT_ID}`",
                  "Lists the latest backup run of every instance.",
                  ("access:read-only", "data:config", "backup")),
            _Task("Trigger On-Demand Backup", "Starts a backup for instances without one today.",
                  ("access:read-write", "backup")),
        ),
        (),
        (_PROJECT,),
    ),
    _Template(
        "azure-aks-cluster-health", "Azure AKS Cluster Health",
        "Checks AKS cluster provisioning state, node pools and activity log errors.",
        "Azure,AKS,Kubernetes",
        (
            _Task("Check AKS Cluster State in `${AZ_RESOURCE_GROUP}`",
                  "Reports clusters whose provisioning state is not Succeeded.",
                  ("access:read-only", "data:config", "aks")),
            _Task("Fetch Activity Log Errors", "Lists failed operations from the activity log.",
                  ("access:read-only", "data:logs")),
        ),
        (_Task("AKS Cluster Health Score", "Pushes 1 when the cluster is healthy.",
               ("access:read-only", "data:metrics")),),
        (_RG, _Variable("AKS_CLUSTER", "The AKS cluster name.", "aks-prod")),
    ),
    _Template(
        "azure-vm-restart", "Azure VM Restart",
        "Restarts Azure virtual machines that fail their health probe.",
        "Azure,VirtualMachines",
        (
            _Task("List Unhealthy VMs in `${AZ_RESOURCE_GROUP}`",
                  "Lists VMs whose power state or health probe is bad.",
                  ("access:read-only", "data:config")),
            _Task("Restart Unhealthy VMs", "Restarts each unhealthy VM and waits for it.",
                  ("access:read-write", "remediation", "restart")),
        ),
        (),
        (_RG,),
    ),
    _Template(
        "postgres-replication-lag", "PostgreSQL Replication Lag",
        "Measures replication lag between a PostgreSQL primary and its replicas.",
        "PostgreSQL,Kubernetes",
        (
            _Task("Check Replication Status of `${DATABASE_NAME}`",
                  "Queries pg_stat_replication for each replica.",
                  ("access:read-only", "data:metrics", "postgres")),
        ),
        (_Task("Measure Replication Lag Seconds", "Pushes the maximum lag in seconds.",
               ("access:read-only", "data:metrics", "sli")),),
        (_DB, _NS),
    ),
    _Template(
        "postgres-vacuum-maintenance", "PostgreSQL Vacuum Maintenance",
        "Finds bloated PostgreSQL tables and runs VACUUM ANALYZE on them.",
        "PostgreSQL",
        (
            _Task("Find Bloated Tables in `${DATABASE_NAME}`",
                  "Estimates table bloat from pg_stat_user_tables.",
                  ("access:read-only", "data:config", "postgres")),
            _Task("Run Vacuum Analyze", "Runs VACUUM ANALYZE on the bloated tables.",
                  ("access:read-write", "maintenance")),
        ),
        (),
        (_DB,),
    ),
)


def render_robot(
    *, doc: str, author: str, display_name: str, supports: str,
    tasks: tuple[_Task, ...] | list[_Task], variables: tuple[_Variable, ...] | list[_Variable],
) -> str:
    """Robot Framework text in the registry's conventions (4-space separated)."""
    lines = [
        "*** Settings ***",
        f"Documentation       {doc}",
        f"Metadata            Author    {author}",
        f"Metadata            Display Name    {display_name}",
        f"Metadata            Supports    {supports}",
        "Library             RW.Core",
        "Library             RW.CLI",
        "Suite Setup         Suite Initialization",
        "",
        "",
        "*** Tasks ***",
    ]
    for task in tasks:
        lines += [
            task.name,
            f"    [Documentation]    {task.doc}",
            f"    [Tags]    {'    '.join(task.tags)}",
            "    ${result}=    RW.CLI.Run Cli",
            "    ...    cmd=echo checking",
            "    RW.Core.Add Pre To Report    ${result.stdout}",
            "",
        ]
    lines += ["", "*** Keywords ***", "Suite Initialization"]
    for var in variables:
        lines += [
            f"    ${{{var.name}}}=    RW.Core.Import User Variable    {var.name}",
            f"    ...    type={var.type}",
            f"    ...    description={var.description}",
            f"    ...    pattern={var.pattern}",
            f"    ...    example={var.example}",
        ]
        if var.default:
            lines.append(f"    ...    default={var.default}")
    return "\n".join(lines) + "\n"


#: The date of every sample commit but the bundles' first ones (see ``_bundle_date``).
SAMPLE_DATE = "2024-01-01T00:00:00Z"


def _git(cwd: Path, *args: str, date: str = SAMPLE_DATE) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_AUTHOR_NAME": "Registry Samples", "GIT_AUTHOR_EMAIL": "samples@example.com",
        "GIT_COMMITTER_NAME": "Registry Samples", "GIT_COMMITTER_EMAIL": "samples@example.com",
        "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def commit_all(repo: Path, message: str, *, date: str = SAMPLE_DATE) -> str:
    """Stage everything in ``repo`` and commit (at ``date``); return the new commit id."""
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", message, date=date)
    return _git(repo, "rev-parse", "HEAD")


def _bundle_date(collection: int, bundle: int, bundles: int) -> str:
    """When sample bundle ``bundle`` of ``collection`` was first committed: spread over
    2023, later bundles later, so the analytics have months of history to show."""
    day = (collection % 7) * 5 + bundle * 330 // bundles
    first = dt.date(2023, 1, 1) + dt.timedelta(days=day)
    return f"{first.isoformat()}T12:00:00Z"


def _write_bundle(base: Path, template: _Template, slug: str, author: str) -> None:
    bundle = base / "codebundles" / slug
    bundle.mkdir(parents=True, exist_ok=True)
    for filename, tasks in (("runbook.robot", template.runbook), ("sli.robot", template.sli)):
        if tasks:
            (bundle / filename).write_text(render_robot(
                doc=template.doc, author=author, display_name=template.display_name,
                supports=template.supports, tasks=tasks, variables=template.variables,
            ))
    meta = {"commands": [
        {"name": task.name.lower().replace(" ", "_").replace("`", "").replace("${", "")
         .replace("}", ""), "explanation": task.doc}
        for task in (*template.runbook, *template.sli)
    ]}
    (bundle / "meta.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    (bundle / "README.md").write_text(
        f"# {template.display_name}\n\n{template.doc}\n\n"
        + "".join(f"- {task.name}\n" for task in template.runbook)
    )


def _collection_info(index: int) -> tuple[str, str, str]:
    if index < len(SAMPLE_COLLECTION_NAMES):
        return SAMPLE_COLLECTION_NAMES[index]
    return (f"sample-collection-{index + 1}", f"Sample Collection {index + 1}", "samples")


def generate_sample_collections(
    dest: Path, *, collections: int = 3, bundles_per_collection: int = 4,
    bad_inputs: bool = False,
) -> Path:
    """Create ``collections`` git repos under ``dest/repos`` and ``dest/collections.yaml``.

    Output is a pure function of the arguments (same files, same commit ids).
    Returns the path of ``collections.yaml``.
    """
    if collections < 1 or bundles_per_collection < 1:
        raise ValueError("collections and bundles_per_collection must be at least 1")
    dest = Path(dest).absolute()
    repos = dest / "repos"
    entries = []
    for c in range(collections):
        slug, name, owner = _collection_info(c)
        repo = repos / slug
        if repo.exists():
            raise FileExistsError(f"{repo} already exists; pick an empty destination")
        repo.mkdir(parents=True)
        _git(repo, "init", "--quiet", "--initial-branch=main")
        for b in range(bundles_per_collection):
            n = c * bundles_per_collection + b
            template = TEMPLATES[n % len(TEMPLATES)]
            lap = b // len(TEMPLATES)
            bundle_slug = template.slug if lap == 0 else f"{template.slug}-{lap + 1}"
            _write_bundle(repo, template, bundle_slug, f"{owner}-{(n % 3) + 1}")
            commit_all(repo, f"Add {bundle_slug}",
                       date=_bundle_date(c, b, bundles_per_collection))
        (repo / "README.md").write_text(f"# {name}\n\nCode bundles maintained by {owner}.\n")
        commit_all(repo, f"Initial import of {name}")
        _git(repo, "tag", "v1.0")
        entries.append({
            "name": name, "slug": slug, "git_url": repo.as_uri(), "git_ref": "main",
            "owner": owner, "owner_email": f"{owner}@example.com",
            "description": f"{name}: {bundles_per_collection} code bundles.",
        })
    path = dest / "collections.yaml"
    path.write_text(yaml.safe_dump({"codecollections": entries}, sort_keys=False))
    if bad_inputs:
        add_bad_inputs(path)
    return path


@dataclasses.dataclass(frozen=True)
class BadInputs:
    """What :func:`add_bad_inputs` planted, so tests can expect each error precisely."""

    malformed_entries: tuple[str, ...]  # entry labels refused by load_collections
    injection_urls: tuple[str, ...]
    unreachable_slug: str
    missing_ref_slug: str
    host_collection: str  # the good collection that received the bad bundles
    malformed_bundle: str
    undecodable_bundle: str
    escaping_symlink_bundle: str
    outside_file: Path


def add_bad_inputs(collections_yaml: Path) -> BadInputs:
    """Plant every bad input next to the good ones, in the YAML and in the first repo."""
    collections_yaml = Path(collections_yaml)
    data = yaml.safe_load(collections_yaml.read_text())
    good = data["codecollections"]
    host = good[0]
    repo = Path(host["git_url"].removeprefix("file://"))
    outside = collections_yaml.parent / "outside-secret.txt"
    outside.write_text("credentials that must never be read\n")
    bundles = repo / "codebundles"
    (bundles / "broken-robot").mkdir()
    (bundles / "broken-robot" / "runbook.robot").write_text(textwrap.dedent("""\
        *** Settings ***
        Documentation    A bundle whose robot file is malformed.

        *** Tsks ***
        Never Parsed
            Log    nothing
        """))
    (bundles / "binary-robot").mkdir()
    (bundles / "binary-robot" / "sli.robot").write_bytes(b"*** Settings ***\n\xff\xfe\x00bad")
    (bundles / "escaping-link").mkdir()
    (bundles / "escaping-link" / "runbook.robot").symlink_to(outside)
    commit_all(repo, "Add bundles that must be refused")
    injection = ("--upload-pack=touch /tmp/registry-pwned", "ext::sh -c touch% /tmp/registry-pwned")
    bad_entries = [
        {"name": "Missing URL", "slug": "missing-url"},
        {"name": "Bad Slug", "slug": "Bad Slug!", "git_url": host["git_url"]},
        "just a string",
        *({"name": f"Injection {i}", "slug": f"injection-{i}", "git_url": url}
          for i, url in enumerate(injection, start=1)),
        {"name": "Unreachable", "slug": "unreachable-repo",
         "git_url": (collections_yaml.parent / "repos" / "does-not-exist").as_uri(),
         "git_ref": "main", "owner": "nobody", "owner_email": "nobody@example.com",
         "description": "Points at a repository that does not exist."},
        {**good[-1], "name": "Missing Ref", "slug": "missing-ref",
         "git_ref": "no-such-branch"},
    ]
    data["codecollections"] = [*good, *bad_entries]
    collections_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    start = len(good) + 1
    return BadInputs(
        malformed_entries=tuple(f"#{start + i}" for i in range(5)),
        injection_urls=injection,
        unreachable_slug="unreachable-repo",
        missing_ref_slug="missing-ref",
        host_collection=host["slug"],
        malformed_bundle="broken-robot",
        undecodable_bundle="binary-robot",
        escaping_symlink_bundle="escaping-link",
        outside_file=outside,
    )


def modify_bundle(repo: Path, bundle_slug: str, *, note: str = "Updated") -> str:
    """Append a task to a bundle's runbook (or SLI), commit, and return the commit id."""
    bundle = Path(repo) / "codebundles" / bundle_slug
    target = bundle / "runbook.robot"
    if not target.exists():
        target = bundle / "sli.robot"
    text = target.read_text()
    marker = "\n\n*** Keywords ***"
    task = (f"\n{note} Check\n    [Documentation]    {note}: an extra check.\n"
            f"    [Tags]    access:read-only    data:config\n    Log    {note}\n")
    target.write_text(text.replace(marker, task + marker, 1) if marker in text else text + task)
    return commit_all(repo, f"{note} {bundle_slug}")


#: What a hostile collection plants: markup that would run if a page rendered it as
#: HTML, and links whose target would run if a page put it in an ``href``.
HOSTILE_SCRIPT = "<script>document.title='pwned';window.registryPwned=1</script>"
HOSTILE_IMG = "<img src=x onerror=\"document.title='pwned';window.registryPwned=1\">"
HOSTILE_LINK = "<a href=\"javascript:document.title='pwned'\">docs</a>"
HOSTILE_MARKDOWN_LINK = "[docs](javascript:window.registryPwned=1)"


@dataclasses.dataclass(frozen=True)
class HostileInputs:
    """What :func:`add_hostile_collection` planted, for the escaping tests."""

    collection: str
    bundle: str
    display_name: str
    tag: str


def add_hostile_collection(collections_yaml: Path) -> HostileInputs:
    """Add a collection whose bundle is full of markup, script and ``javascript:`` links.

    Every field a page shows carries a payload: the collection's name, the bundle's
    display name, doc, platforms, task names, docs and tags, its variables and README.
    A page that escapes everything shows them as text; one that does not runs them.
    """
    collections_yaml = Path(collections_yaml)
    data = yaml.safe_load(collections_yaml.read_text())
    repo = collections_yaml.parent / "repos" / "hostile-collection"
    repo.mkdir(parents=True)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    display_name = f"Hostile {HOSTILE_SCRIPT} bundle"
    tag = "javascript:alert(1)"
    template = _Template(
        "hostile-bundle", display_name,
        f"Docs with {HOSTILE_SCRIPT} and {HOSTILE_IMG} and {HOSTILE_LINK} and "
        f"{HOSTILE_MARKDOWN_LINK}.",
        f"Kubernetes,{HOSTILE_IMG}",
        (_Task(f"Run {HOSTILE_IMG}", f"Task doc {HOSTILE_SCRIPT} {HOSTILE_LINK}",
               ("access:read-only", tag, HOSTILE_SCRIPT)),),
        (),
        (_Variable("TARGET", f"Where {HOSTILE_SCRIPT} goes {HOSTILE_MARKDOWN_LINK}",
                   HOSTILE_LINK, "default"),),
    )
    _write_bundle(repo, template, template.slug, f"{HOSTILE_IMG} author")
    (repo / "README.md").write_text(f"# {HOSTILE_SCRIPT}\n\n{HOSTILE_LINK}\n")
    commit_all(repo, "A collection that tries to run code in the registry's pages")
    data["codecollections"].append({
        "name": f"Hostile {HOSTILE_SCRIPT} Collection", "slug": "hostile-collection",
        "git_url": repo.as_uri(), "git_ref": "main", "owner": "mallory",
        "owner_email": "mallory@example.com",
        "description": f"Tries {HOSTILE_LINK} and {HOSTILE_IMG}.",
    })
    collections_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return HostileInputs("hostile-collection", template.slug, display_name, tag)
