"""Audit: the tenant's hash-chained log of every change, read and verified by its admins."""

from __future__ import annotations

from functions.catalog.model import Access, Function, Route

STACK = "audit"

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="admin_audit_list",
        domain="audit",
        stack=STACK,
        description="The tenant's audit log, newest first, filtered by actor, action and time.",
        trigger=Route("GET", "/v1/admin/audit", "admin"),
        access=Access(table="read"),
    ),
    Function(
        name="admin_audit_verify",
        domain="audit",
        stack=STACK,
        description="Walks the tenant's audit hash chain and reports the first broken link.",
        trigger=Route("GET", "/v1/admin/audit/verify", "admin"),
        timeout_seconds=30,
        access=Access(table="read"),
    ),
)
