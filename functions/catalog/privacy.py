"""Privacy and data rights (issue 13): the record of processing activities, consent and the data subject rights."""

from __future__ import annotations

from functions.catalog.model import Function, http_function

STACK = "privacy"

FUNCTIONS: tuple[Function, ...] = (
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
