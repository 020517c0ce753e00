"""Health: the probes API Gateway, load balancers and people ask, and the synthetic probe that asks them itself."""

from __future__ import annotations

from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE, ONBOARDING_MIGRATIONS_QUEUE, SCHEDULER_DLQ
from functions.catalog.model import Access, Function, Route, Schedule

STACK = "health"

# Readiness reports on every queue of the deployment.
_ALL_QUEUES = (SCHEDULER_DLQ, ONBOARDING_MIGRATIONS_QUEUE, FLAG_EXPOSURES_QUEUE)
READINESS_ACCESS = Access(table="read", exports_bucket="read", inspects_queues=_ALL_QUEUES)
"""What a readiness check reads: the table, the exports bucket and every queue's attributes."""

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="health_live",
        domain="health",
        stack=STACK,
        description="Liveness: the process is up and answering.",
        trigger=Route("GET", "/health/live", "public"),
        memory_mb=128,
        timeout_seconds=3,
    ),
    Function(
        name="health_ready",
        domain="health",
        stack=STACK,
        description="Readiness: the table, queues and exports bucket answer, each with status and latency.",
        trigger=Route("GET", "/health/ready", "public"),
        timeout_seconds=6,
        access=READINESS_ACCESS,
    ),
    Function(
        name="health_startup",
        domain="health",
        stack=STACK,
        description="Startup: configuration is loaded and valid.",
        trigger=Route("GET", "/health/startup", "public"),
        memory_mb=128,
        timeout_seconds=3,
    ),
    Function(
        name="health_summary",
        domain="health",
        stack=STACK,
        description="Version, commit and component states; full detail only to operators.",
        trigger=Route("GET", "/health", "public"),
        timeout_seconds=6,
        access=READINESS_ACCESS,
    ),
    Function(
        name="synthetic_probe",
        domain="health",
        stack=STACK,
        description="Every minute, checks readiness from inside the deployment and records the result.",
        trigger=Schedule("rate(1 minute)"),
        timeout_seconds=10,
        reserved_concurrency=1,
        # (backups "read": whether a backup is fresh, for the backup-freshness objective)
        access=Access(table="write", exports_bucket="read", inspects_queues=_ALL_QUEUES, backups="read"),
    ),
)
