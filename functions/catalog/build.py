"""Assembles the catalogue from the domains' lists and refuses one that contradicts itself."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from firstmile.roles import ROLES
from functions.catalog.model import API_STACK, Authorizer, Function, Queue, Route

# The shared stacks besides the API's: no catalogue stack may take their names.
DATA_STACK = "data"
# Every route lives under /v1, /health or /.well-known; path parameters are {snake_case}.
_PATH = re.compile(r"/(v1|health|\.well-known)(/[a-z0-9\-._]+|/\{[a-z_]+\})*")


class CatalogError(ValueError):
    """The catalogue contradicts itself; the message names every problem."""


def assemble(*domains: Iterable[Function]) -> tuple[Function, ...]:
    """The catalogue: every domain's functions, in the order given; ``CatalogError`` if :func:`problems` finds any."""
    catalog = tuple(function for domain in domains for function in domain)
    found = problems(catalog)
    if found:
        raise CatalogError("the catalogue contradicts itself:\n- " + "\n- ".join(found))
    return catalog


def problems(catalog: Iterable[Function]) -> list[str]:
    """Every contradiction in ``catalog``, as sentences (none for a sound catalogue)."""
    catalog = tuple(catalog)
    found = [
        f"{name} is catalogued {count} times" for name, count in Counter(f.name for f in catalog).items() if count > 1
    ]
    routes = Counter(f.trigger.key for f in catalog if isinstance(f.trigger, Route))
    found += [f"route {key} is served by {count} functions" for key, count in routes.items() if count > 1]
    consumed = Counter(f.trigger.name for f in catalog if isinstance(f.trigger, Queue))
    found += [f"queue {name} is consumed by {count} functions" for name, count in consumed.items() if count > 1]
    for function in catalog:
        found += _entry_problems(function)
    authorizers = [f.name for f in catalog if isinstance(f.trigger, Authorizer)]
    if len(authorizers) > 1:
        found.append(f"{len(authorizers)} functions are the authorizer ({', '.join(authorizers)}); one only")
    return found


def _entry_problems(function: Function) -> list[str]:
    found = []
    route = function.route
    if route is not None:
        if route.role not in ROLES:
            found.append(f"{function.name}: role {route.role!r} is not one of {ROLES}")
        if not _PATH.fullmatch(route.path):
            found.append(f"{function.name}: path {route.path} is outside /v1, /health and /.well-known")
    if isinstance(function.trigger, Authorizer) != (function.stack == API_STACK):
        found.append(f"{function.name}: the {API_STACK!r} stack holds the authorizer and nothing else")
    if function.stack == DATA_STACK or not re.fullmatch(r"[a-z][a-z0-9_]*", function.stack):
        found.append(f"{function.name}: stack {function.stack!r} is not a snake_case name other than {DATA_STACK!r}")
    return found
