"""The catalogue and the functions/ folders agree, and every route is well formed."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from functions.catalog import CATALOG, FUNCTIONS_DIR, ROLES, Route, http_functions
from tests.factories import load_handler


def catalogue_problems(catalog=CATALOG, folders=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Every disagreement between a catalogue and the function folders, as sentences."""
    if folders is None:
        folders = {p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py")}
    names = [f.name for f in catalog]
    problems = [f"{n} is catalogued twice" for n, c in Counter(names).items() if c > 1]
    problems += [f"functions/{n}/handler.py has no catalogue entry" for n in sorted(folders - set(names))]
    problems += [f"{n} has no functions/{n}/handler.py" for n in sorted(set(names) - folders)]
    routes = Counter(route.key for _, route in http_functions(catalog))
    problems += [f"route {key} is served by {count} functions" for key, count in routes.items() if count > 1]
    for function, route in http_functions(catalog):
        if route.role not in ROLES:
            problems.append(f"{function.name}: role {route.role!r} is not one of {ROLES}")
        if not re.fullmatch(r"/(v1|health|\.well-known)(/[a-z0-9\-._]+|/\{[a-z_]+\})*", route.path):
            problems.append(f"{function.name}: path {route.path} is outside /v1, /health and /.well-known")
    return problems


def test_catalogue_and_function_folders_agree() -> None:
    assert catalogue_problems() == []


def test_the_check_notices_a_folder_without_entry_and_an_entry_without_folder() -> None:
    # Given folders that differ from the catalogue by one on each side
    folders = {f.name for f in CATALOG} - {"health_live"} | {"orphan_function"}

    # When the catalogue is checked against them
    problems = catalogue_problems(folders=folders)

    # Then both sides are reported
    assert "functions/orphan_function/handler.py has no catalogue entry" in problems
    assert "health_live has no functions/health_live/handler.py" in problems


def test_the_check_notices_a_shared_route_and_a_missing_role() -> None:
    # Given a catalogue where two functions serve one route and one route has no valid role
    first, second = CATALOG[0], CATALOG[1]
    clash = type(second)(**{**second.__dict__, "trigger": first.trigger})
    roleless = type(second)(**{**second.__dict__, "name": "x", "trigger": Route("GET", "/v1/x", "nobody")})  # type: ignore[arg-type]

    # When it is checked
    problems = catalogue_problems(catalog=(first, clash, roleless), folders={first.name, second.name, "x"})

    # Then both problems are named
    assert any("is served by 2 functions" in p for p in problems)
    assert any("role 'nobody'" in p for p in problems)


@pytest.mark.parametrize(("function", "route"), http_functions(), ids=lambda v: getattr(v, "name", ""))
def test_each_http_handler_serves_exactly_its_catalogued_route(function, route) -> None:  # type: ignore[no-untyped-def]
    # Given the handler module as Lambda would import it
    module = load_handler(function.name)

    # When its resolver's routes are listed
    # Powertools writes path parameters as <name>, API Gateway and the catalogue as {name}.
    served = {
        (r.method.upper(), re.sub(r"<(\w+)>", r"{\1}", r.path))
        for r in module.app._static_routes + module.app._dynamic_routes
    }

    # Then it serves the catalogued route and nothing else
    assert served == {(route.method, route.path)}
