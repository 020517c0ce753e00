"""The record of processing activities (Article 30(1) GDPR) a tenant keeps as controller, rendered from the
registry's declarations (``firstmile.privacy.registry``), as JSON and as Markdown for auditors.

Activities are grouped by purpose: each says whose data, which categories, on what legal basis, how long each kind
of item is kept and how a user's part of it is erased. What the registry cannot know (the controller's contact,
its other systems) stays the tenant's to add; the record says where the data lives and who processes it for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from firstmile.model import Model
from firstmile.privacy.registry import REGISTRY, ItemType

SECURITY_MEASURES = (
    "Every item encrypted at rest with a customer-managed KMS key (DynamoDB, S3, SQS); TLS in transit.",
    "Access by short-lived signed tokens only; roles user, admin and operator; every route checks its role and the "
    "caller's tenant.",
    "Each function may touch only the table, buckets and queues it needs (least-privilege IAM, checked by cdk-nag).",
    "A hash-chained audit log of every administrative change, verifiable on demand.",
    "Point-in-time recovery of the table; dead-letter queues keep every failed message for inspection.",
)
RECIPIENTS = (
    "Amazon Web Services, as the processor hosting the deployment in the tenant's own AWS account and region.",
)
TRANSFERS = "None outside the AWS region the tenant deployed Firstmile in."


class RecordItem(Model):
    """One kind of stored item within an activity."""

    model_config = ConfigDict(frozen=True)

    kind: str
    description: str
    store: str = Field(description="table (DynamoDB), s3:<bucket> or sqs")
    categories: list[str]
    retention: str
    retention_days: float | None = Field(description="When the item expires by itself: at most this many days")
    erasure: str = Field(description="How a user's part of it goes when the user is erased")


class Activity(Model):
    """The items kept for one purpose."""

    model_config = ConfigDict(frozen=True)

    purpose: str
    legal_bases: list[str]
    data_subjects: list[str]
    data_categories: list[str]
    items: list[RecordItem]


class ProcessingRecord(Model):
    """The tenant's Article 30 record for what Firstmile stores."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    generated_at: datetime
    controller: str = Field(description="Who the controller is: the tenant, for its users' data")
    activities: list[Activity]
    recipients: list[str]
    transfers: str
    security_measures: list[str]
    item_types: int = Field(description="Kinds of item declared")
    personal_item_types: int = Field(description="Of which hold personal data")


def processing_record(tenant_id: str, generated_at: datetime) -> ProcessingRecord:
    """The record from the registry: activities by purpose, in the order purposes first appear."""
    purposes: dict[str, list[ItemType]] = {}
    for item in REGISTRY:
        purposes.setdefault(item.purpose, []).append(item)
    activities = [
        Activity(
            purpose=purpose,
            legal_bases=_unique(item.legal_basis.value for item in items),
            data_subjects=_unique(subject.value for item in items for subject in item.subjects),
            data_categories=_unique(category.value for item in items for category in item.categories),
            items=[
                RecordItem(
                    kind=item.kind,
                    description=item.description,
                    store=item.store,
                    categories=[c.value for c in item.categories],
                    retention=item.retention,
                    retention_days=item.retention_days,
                    erasure=item.erasure.value,
                )
                for item in items
            ],
        )
        for purpose, items in purposes.items()
    ]
    return ProcessingRecord(
        tenant_id=tenant_id,
        generated_at=generated_at,
        controller=f"The tenant {tenant_id}, for the data of its users and admins; Firstmile runs in its own account",
        activities=activities,
        recipients=list(RECIPIENTS),
        transfers=TRANSFERS,
        security_measures=list(SECURITY_MEASURES),
        item_types=len(REGISTRY),
        personal_item_types=sum(1 for item in REGISTRY if item.personal),
    )


def markdown(record: ProcessingRecord) -> str:
    """The record as Markdown: one section per activity, a table of its items."""
    lines = [
        f"# Record of processing activities: tenant {record.tenant_id}",
        "",
        f"Generated {record.generated_at.isoformat()} from Firstmile's declarations of every item it stores "
        f"({record.item_types} kinds, {record.personal_item_types} with personal data).",
        "",
        f"- **Controller:** {record.controller}.",
        f"- **Recipients:** {' '.join(record.recipients)}",
        f"- **Transfers to third countries:** {record.transfers}",
        "",
    ]
    for activity in record.activities:
        lines += [
            f"## {activity.purpose[:1].upper()}{activity.purpose[1:]}",
            "",
            f"- **Legal basis:** {', '.join(_words(b) for b in activity.legal_bases)}",
            f"- **Data subjects:** {', '.join(_words(s) for s in activity.data_subjects)}",
            f"- **Categories of data:** {', '.join(_words(c) for c in activity.data_categories)}",
            "",
            "| item | where | what it holds | kept | erasure of a user |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| `{i.kind}` | {i.description} | {i.retention} | {_words(i.erasure)} |" for i in activity.items]
        lines.append("")
    lines += ["## Technical and organisational security measures", ""]
    lines += [f"- {measure}" for measure in record.security_measures]
    return "\n".join(lines) + "\n"


Format = Literal["json", "markdown"]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _words(value: str) -> str:
    return value.replace("_", " ")
