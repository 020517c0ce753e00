"""What the contract suites on the in-memory fakes share."""

from __future__ import annotations

import pytest

from tests.fakes.audit import FakeAuditLog


@pytest.fixture
def audit_log() -> FakeAuditLog:
    """The in-memory audit log a fake store's audited changes append to (the audit log's own contract replaces it)."""
    return FakeAuditLog()
