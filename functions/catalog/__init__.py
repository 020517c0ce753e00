"""THE list of every Lambda function of Firstmile.

CDK (``infra/``), the local stack (``local/``) and the OpenAPI document are all generated from this list, and
``tests/unit/test_catalog.py`` fails when a ``functions/<name>/`` folder and an entry disagree.

- ``model``: what a function is (``Function``, its trigger, its ``Access``);
- one module per domain (``health``, ``identity``, ``audit``, ``onboarding``, ``flags``, ``analytics``,
  ``privacy``, ``failures``, ``webhooks``, ``sla``, ``backups``), each
  declaring its functions as ``FUNCTIONS`` and the stacks they are deployed in;
- ``build``: assembles ``CATALOG`` from those lists and refuses a catalogue that contradicts itself;
- ``environment``: the variables every function runs with, in AWS and in the local stack alike.
"""

from __future__ import annotations

from functions.catalog import (
    analytics,
    audit,
    backups,
    failures,
    flags,
    health,
    identity,
    onboarding,
    privacy,
    sla,
    webhooks,
)
from functions.catalog.build import CatalogError, assemble, problems
from functions.catalog.model import (
    API_STACK,
    FUNCTIONS_DIR,
    Access,
    Authorizer,
    Function,
    HttpMethod,
    LogSubscription,
    Queue,
    Route,
    Schedule,
    TableAccess,
    TableStream,
    Trigger,
)

__all__ = [
    "API_STACK",
    "CATALOG",
    "FUNCTIONS_DIR",
    "Access",
    "Authorizer",
    "CatalogError",
    "Function",
    "HttpMethod",
    "LogSubscription",
    "Queue",
    "Route",
    "Schedule",
    "TableAccess",
    "TableStream",
    "Trigger",
    "assemble",
    "by_name",
    "http_functions",
    "problems",
    "queues",
]

CATALOG: tuple[Function, ...] = assemble(
    health.FUNCTIONS,
    identity.FUNCTIONS,
    audit.FUNCTIONS,
    onboarding.FUNCTIONS,
    flags.FUNCTIONS,
    analytics.FUNCTIONS,
    privacy.FUNCTIONS,
    failures.FUNCTIONS,
    webhooks.FUNCTIONS,
    sla.FUNCTIONS,
    backups.FUNCTIONS,
)


def by_name(name: str) -> Function:
    """The catalogue entry called ``name``."""
    for function in CATALOG:
        if function.name == name:
            return function
    raise KeyError(f"no function named {name!r} in the catalogue")


def http_functions(catalog: tuple[Function, ...] = CATALOG) -> list[tuple[Function, Route]]:
    """Every function served by an HTTP route, with its route."""
    return [(f, f.trigger) for f in catalog if isinstance(f.trigger, Route)]


def queues(catalog: tuple[Function, ...] = CATALOG) -> list[Queue]:
    """Every queue a function consumes."""
    return [f.trigger for f in catalog if isinstance(f.trigger, Queue)]
