"""Privacy and data rights (issue 13): the record of processing activities, consent and the data subject rights."""

from __future__ import annotations

from functools import partial

from firstmile.limits.models import RouteClass
from functions.catalog.model import Function, http_function

STACK = "privacy"

_user = partial(http_function, domain="privacy", stack=STACK, role="user")

FUNCTIONS: tuple[Function, ...] = (
    _user(
        "compliance_consent_get",
        "GET",
        "/v1/compliance/consent",
        "The caller's consent per purpose and cookie category, and their newest choices.",
        table="read",
    ),
    _user(
        "compliance_consent_set",
        "POST",
        "/v1/compliance/consent",
        "Grants or withdraws consent; withdrawing analytics marks the caller's progress at once.",
        table="write",
        # Each change adds records to the user's history: an ordinary write budget (20 a minute).
        rate_class=RouteClass.USER_WRITE,
    ),
    _user(
        "compliance_policies_get",
        "GET",
        "/v1/compliance/policies",
        "The tenant's current privacy-policy and terms versions, and every version published.",
        table="read",
    ),
    http_function(
        "admin_policy_publish",
        "POST",
        "/v1/admin/compliance/policies",
        "Publishes a privacy-policy or terms version; users who accepted an older one must accept it (audited).",
        domain="privacy",
        stack=STACK,
        role="admin",
        table="write",
    ),
    http_function(
        "compliance_registry",
        "GET",
        "/v1/compliance/registry",
        "The tenant's Article 30 record of what Firstmile stores, from the declarations of every item kind.",
        domain="privacy",
        stack=STACK,
        role="admin",
        table="none",
    ),
)
