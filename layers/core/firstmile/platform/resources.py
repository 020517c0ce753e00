"""The deployment's shared AWS resources besides the table, named once for CDK and the local stack."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BucketDefinition:
    logical_name: str
    # The settings field that carries the bucket's name to the functions.
    settings_field: str
    expire_after_days: int | None = None
    # Encrypted with a customer-managed AWS KMS key of its own rather than SSE-S3 (CDK creates the key).
    kms: bool = False


# Export packages are personal data written with SSE-KMS (firstmile.platform.objects): the bucket has its own key.
EXPORTS_BUCKET = BucketDefinition("Exports", "exports_bucket", expire_after_days=30, kms=True)
# Table-stream batches a consumer still failed after bisecting and retrying: Lambda's on-failure destination writes
# each as an object holding the whole batch (an SQS destination would get only the shard and sequence numbers, and
# the stream forgets the records after 24 hours). Kept 90 days for inspection and replay (decision 0070).
STREAM_FAILURES_BUCKET = BucketDefinition("StreamFailures", "stream_failures_bucket", expire_after_days=90)
# Onboarding's transition events as gzipped JSON lines for ad-hoc SQL (Athena), kept as long as the events are kept
# in the table by default (decision 0073).
ARCHIVE_BUCKET = BucketDefinition("Archive", "archive_bucket", expire_after_days=400)
# The archive's objects live under this prefix; its Glue table reads it (infra/constructs/archive.py).
ARCHIVE_PREFIX = "events"
BUCKETS: tuple[BucketDefinition, ...] = (EXPORTS_BUCKET, STREAM_FAILURES_BUCKET, ARCHIVE_BUCKET)

# Scheduled invocations that fail after their retries land here, for inspection and redrive.
SCHEDULER_DLQ = "scheduler-dlq"

# Onboarding migrations fan out through this queue: pages of users to list, batches of users to migrate.
ONBOARDING_MIGRATIONS_QUEUE = "onboarding-migrations"

# Users idle longer than their tenant's window, found by the daily idle job, dropped by its worker (decision 0072).
ONBOARDING_DROPS_QUEUE = "onboarding-drops"

# Sampled flag exposure events, counted per flag, day and variant by the exposure worker.
FLAG_EXPOSURES_QUEUE = "flag-exposures"

# Approved data subject requests (exports, erasures), carried out by the request worker (decision 0083).
PRIVACY_REQUESTS_QUEUE = "privacy-requests"

# Webhook messages, one per event and endpoint, sent and signed by the delivery worker (decision 0093).
WEBHOOK_DELIVERIES_QUEUE = "webhook-deliveries"

# The Secrets Manager secret holding the private signing keys; deployed as ``firstmile-<stage>-signing-keys``.
SIGNING_KEYS_SECRET = "signing-keys"  # noqa: S105 - a name, not a secret

# The Secrets Manager secret whose value signs pagination cursors; deployed as ``firstmile-<stage>-cursor-key``.
CURSOR_KEY_SECRET = "cursor-key"  # noqa: S105 - a name, not a secret


def deployed_name(stage: str, logical: str) -> str:
    """The name a shared resource has in a deployment of ``stage``."""
    return f"firstmile-{stage}-{logical}"


def function_name(deployed: str) -> str:
    """A function's catalogue name from the name or ARN Lambda knows it by (``firstmile-<stage>-<name>``, maybe with
    a qualifier): catalogue names have no dash, stages may."""
    name = deployed.rsplit(":function:", 1)[-1].split(":", 1)[0]
    return name.rsplit("-", 1)[-1]


def dead_letter_queue_name(queue: str) -> str:
    """The name of the dead-letter queue that backs ``queue``."""
    return f"{queue}-dlq"
