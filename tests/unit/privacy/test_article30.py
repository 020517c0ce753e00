"""The Article 30 record rendered from the registry: every declared kind appears once, under its purpose, with what
the declaration says; the Markdown form carries the same."""

from __future__ import annotations

from datetime import UTC, datetime

from firstmile.privacy.article30 import markdown, processing_record
from firstmile.privacy.registry import REGISTRY, item_type

AT = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)


def test_every_declared_kind_appears_once_under_its_purpose() -> None:
    record = processing_record("acme", AT)

    listed = [(activity.purpose, item.kind) for activity in record.activities for item in activity.items]
    assert sorted(kind for _, kind in listed) == sorted(item.kind for item in REGISTRY)
    assert all(item_type(kind).purpose == purpose for purpose, kind in listed)
    assert (record.item_types, record.personal_item_types) == (
        len(REGISTRY),
        sum(1 for item in REGISTRY if item.personal),
    )
    assert 0 < record.personal_item_types < record.item_types


def test_an_activity_adds_up_its_items_subjects_categories_and_legal_bases() -> None:
    record = processing_record("acme", AT)
    running = next(a for a in record.activities if a.purpose.startswith("running the service"))

    kinds = {item.kind for item in running.items}
    assert {"onboarding_progress", "onboarding_event", "tenant"} <= kinds
    assert "end_users" in running.data_subjects
    assert {"identifiers", "product_usage", "profile_attributes"} <= set(running.data_categories)
    assert running.legal_bases == ["contract"]
    event = next(item for item in running.items if item.kind == "onboarding_event")
    assert (event.retention_days, event.erasure) == (400, "user_partition")


def test_the_markdown_record_has_a_section_per_activity_and_a_row_per_kind() -> None:
    record = processing_record("acme", AT)
    text = markdown(record)

    assert text.startswith("# Record of processing activities: tenant acme\n")
    assert text.count("\n## ") == len(record.activities) + 1  # and the security measures
    assert all(f"| `{item.kind}` |" in text for item in REGISTRY)
    assert "legal obligation" in text and "Transfers to third countries" in text
