"""The merged OpenAPI document, its committed copy and the docs page, generated from the real handlers."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pytest

import firstmile
from functions.catalog import CATALOG, Route, http_functions
from local import openapi
from local.cli import main
from local.docs_page import render_docs_page
from tests.integration.local_fixtures import FixtureFunction

PROTECTED = FixtureFunction(
    name="protected_app",
    domain="fixture",
    stack="fixture",
    description="Tells the caller which tenant they belong to.",
    trigger=Route("GET", "/fixture/me", "user"),
)


def test_document_covers_every_route_of_the_catalogue() -> None:
    # Given the real catalogue
    # When the merged document is built
    document = openapi.build_document(CATALOG)

    # Then every route is there once, with its role, and nothing else is
    documented = {f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops}
    assert documented == {route.key for _, route in http_functions(CATALOG)}
    for _, route in http_functions(CATALOG):
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["x-firstmile-role"] == route.role
        assert ("security" in operation) == (route.role != "public")
    assert document["info"]["version"] == firstmile.__version__
    assert document["openapi"].startswith("3.")


def test_every_schema_reference_resolves() -> None:
    # Given the merged document
    document = openapi.build_document(CATALOG)
    schemas = document["components"]["schemas"]

    # When every $ref is collected
    refs = openapi.schema_references(document)

    # Then each names a schema the document has, and no schema is left unreferenced
    assert refs <= set(schemas)
    assert set(schemas) == refs | {r for name in refs for r in openapi.schema_references(schemas[name])}


def test_non_public_route_needs_a_bearer_token_and_documents_401_and_403() -> None:
    # Given a catalogue with a user-only route
    # When the document is built
    document = openapi.build_document((PROTECTED,))

    # Then the operation requires the bearer scheme and declares the refusals, as problems
    operation = document["paths"]["/fixture/me"]["get"]
    assert operation["security"] == [{openapi.BEARER_SCHEME: []}]
    assert document["components"]["securitySchemes"][openapi.BEARER_SCHEME]["scheme"] == "bearer"
    for status in ("401", "403", "422", "500"):
        assert "application/problem+json" in operation["responses"][status]["content"]
    assert operation["description"] == PROTECTED.description
    assert operation["x-firstmile-role"] == "user"


def test_a_handler_that_disagrees_with_the_catalogue_is_reported() -> None:
    # Given a catalogue entry whose route is not the one its handler serves
    drifted = FixtureFunction(
        name="protected_app",
        domain="fixture",
        stack="fixture",
        description="Drifted.",
        trigger=Route("GET", "/fixture/someone-else", "user"),
    )

    # When the document is built
    # Then the disagreement is named
    with pytest.raises(openapi.OpenAPIError, match=r"protected_app serves \['GET /fixture/me'\]"):
        openapi.build_document((drifted,))


def test_written_document_is_stable_and_check_detects_drift(tmp_path: Path) -> None:
    # Given the document written once
    path = tmp_path / "openapi.json"
    assert main(["openapi", "--write", str(path)]) == 0
    first = path.read_text(encoding="utf-8")

    # When it is checked, then written again, then edited by hand and checked
    unchanged = main(["openapi", "--check", str(path)])
    main(["openapi", "--write", str(path)])
    second = path.read_text(encoding="utf-8")
    path.write_text(first.replace('"Firstmile"', '"Edited"'), encoding="utf-8")
    edited = main(["openapi", "--check", str(path)])

    # Then the output is byte-identical across runs and only the edited copy fails the check
    assert first == second
    assert first.endswith("}\n")
    assert unchanged == 0
    assert edited == 1
    assert main(["openapi", "--check", str(tmp_path / "missing.json")]) == 1


def test_docs_page_lists_every_route_without_scripts() -> None:
    # Given the merged document
    document = openapi.build_document(CATALOG)

    # When the docs page is rendered
    page = render_docs_page(document)

    # Then each route appears with its summary and role, and the page needs nothing from the network
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert f"{method.upper()}</span>{escape(path)}</h2>" in page
            assert escape(operation["summary"]) in page
    assert "<script" not in page
    assert "http://" not in page and "https://" not in page
