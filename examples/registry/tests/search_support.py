"""The judged query set (SQLite and PostgreSQL): queries and the bundles that must rank
in the top 3 over the shared samples (3 collections x 4 bundles)."""

from __future__ import annotations

from registry import query
from registry.db import session_scope

#: query -> slugs every one of which must be among the first three results.
JUDGED = {
    "how do I restart a crashing pod": {"k8s-namespace-restart"},
    "EKS": {"k8s-deployment-healthcheck", "k8s-namespace-restart"},
    "vacuum analyze": {"postgres-vacuum-maintenance"},
    "replication lag": {"postgres-replication-lag"},
    "public s3 bucket": {"aws-s3-bucket-policy-fix"},
    "backups": {"gcp-cloudsql-backup-verify"},  # stemmed: backup
    "node pools autoscaling": {"gcp-gke-node-pool-check"},
    "which alarms are firing in cloudwatch": {"aws-ec2-instance-health"},
    "restarting virtual machines on azure": {"azure-vm-restart"},
}


def top(url: str, search: str, n: int = 3) -> list[str]:
    with session_scope(url) as session:
        found = query.list_bundles(session, search=search, limit=n)
    return [b["slug"] for b in found["items"]]


def judge(url: str) -> dict[str, list[str]]:
    """The queries whose judged bundles are not all in the top 3, with what came first."""
    return {q: top(url, q) for q, wanted in JUDGED.items() if not wanted <= set(top(url, q))}
