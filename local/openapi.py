"""The OpenAPI document of the whole API, merged from every HTTP function's own resolver.

Each handler's Powertools resolver documents its route from the code (models, responses). This module loads every
handler named in the catalogue, merges their paths and components, and adds what only the catalogue knows: the
role of each route (a bearer token for every non-public one, with the 401/403 problems the authorizer and the
function answer) and the function's description. The result is served by the local stack and committed as
``docs/openapi.json``; ``--check`` fails when the committed copy drifts.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import firstmile
from firstmile.http.bodies import FORM_MEDIA_TYPE, JSON_MEDIA_TYPE
from firstmile.http.documentation import (
    FORM_SCHEMA_EXTENSION,
    RATE_LIMIT_HEADERS,
    REQUEST_HEADERS,
    REQUEST_HEADERS_EXTENSION,
    RESPONSE_HEADERS,
)
from firstmile.http.problems import PROBLEM_CONTENT_TYPE, ProblemDetails, problem_responses
from functions.catalog import CATALOG, Function, Route, http_functions

TITLE = "Firstmile"
DESCRIPTION = (
    "Self-hosted, serverless onboarding backend: onboarding progress, feature flags, funnels, SLA and privacy. "
    "Errors are RFC 9457 problem documents with a stable `code`."
)
BEARER_SCHEME = "bearerAuth"
_SCHEMA_PREFIX = "#/components/schemas/"
_HEADER_PREFIX = "#/components/headers/"
# Powertools documents validation failures with its own model; Firstmile's resolver answers them as problems.
_POWERTOOLS_VALIDATION_SCHEMA = _SCHEMA_PREFIX + "HTTPValidationError"


class OpenAPIError(RuntimeError):
    """The handlers and the catalogue disagree, or two handlers define one schema differently."""


def load_app(function: Function) -> Any:
    """The Powertools resolver ``app`` of an HTTP function, imported under a name unique to the function."""
    spec = importlib.util.spec_from_file_location(f"firstmile_openapi_{function.name}", function.handler_path)
    if spec is None or spec.loader is None:
        raise OpenAPIError(f"{function.name}: cannot load {function.handler_path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as an import does: pydantic resolves generic models (``Page[Item]``) declared at
    # module level through ``sys.modules``.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    app = getattr(module, "app", None)
    if app is None:
        raise OpenAPIError(f"{function.name}: handler.py has no `app` resolver")
    return app


def build_document(catalog: Iterable[Function] = CATALOG) -> dict[str, Any]:
    """The merged OpenAPI document of every HTTP function in ``catalog``."""
    version = firstmile.__version__
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    owners: dict[str, str] = {}
    operation_ids: dict[str, str] = {}
    for function, route in sorted(http_functions(tuple(catalog)), key=lambda fr: (fr[1].path, fr[1].method)):
        own = json.loads(load_app(function).get_openapi_json_schema(title=TITLE, version=version))
        operation = _only_operation(function, route, own.get("paths") or {})
        _annotate(operation, function, route)
        previous = operation_ids.setdefault(operation["operationId"], function.name)
        if previous != function.name:
            raise OpenAPIError(f"{function.name} and {previous} share the operationId {operation['operationId']}")
        paths.setdefault(route.path, {})[route.method.lower()] = operation
        for name, schema in ((own.get("components") or {}).get("schemas") or {}).items():
            if name in schemas and schemas[name] != schema:
                raise OpenAPIError(f"{function.name} and {owners[name]} define the schema {name} differently")
            schemas.setdefault(name, schema)
            owners.setdefault(name, function.name)
    _add_problem_schemas(schemas)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/", "description": "The API this document is served by"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": dict(sorted(RESPONSE_HEADERS.items())),
            "securitySchemes": {
                BEARER_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token; the route's role (x-firstmile-role) must be among its roles.",
                }
            },
        },
        "tags": [
            {"name": tag} for tag in sorted({t for ops in paths.values() for o in ops.values() for t in o["tags"]})
        ],
    }
    document["components"]["schemas"] = _referenced_schemas(document)
    return document


def _only_operation(function: Function, route: Route, own_paths: dict[str, Any]) -> dict[str, Any]:
    """The one operation a handler documents, which must be its catalogue route."""
    declared = sorted(f"{method.upper()} {path}" for path, ops in own_paths.items() for method in ops)
    if declared != [route.key]:
        raise OpenAPIError(f"{function.name} serves {declared or 'no route'} but the catalogue says {route.key}")
    return copy.deepcopy(own_paths[route.path][route.method.lower()])


def _annotate(operation: dict[str, Any], function: Function, route: Route) -> None:
    responses = operation.setdefault("responses", {})
    validation = responses.get("422") or {}
    if _POWERTOOLS_VALIDATION_SCHEMA in json.dumps(validation):
        responses["422"] = _problem_response(422)
    operation.setdefault("description", function.description)
    operation["tags"] = operation.get("tags") or [function.domain]
    operation["x-firstmile-role"] = route.role
    if route.also is not None:
        operation["x-firstmile-also-role"] = route.also
    if route.role != "public":
        operation["security"] = [{BEARER_SCHEME: []}]
        # The authorizer refuses a missing or invalid token; the function refuses a token without the role.
        for status in (401, 403):
            responses.setdefault(str(status), _problem_response(status))
    _declare_request(operation)
    _declare_platform_answers(operation, route)
    operation["responses"] = dict(sorted(responses.items()))


def _declare_request(operation: dict[str, Any]) -> None:
    """The request headers the route declared (and the correlation id every route reads); a form body beside JSON."""
    declared = operation.pop(REQUEST_HEADERS_EXTENSION, [])
    parameters = operation.setdefault("parameters", [])
    for name in [*declared, "X-Correlation-Id"]:
        parameters.append({"name": name, "in": "header", "required": False, **REQUEST_HEADERS[name]})
    form = operation.pop(FORM_SCHEMA_EXTENSION, None)
    if form is not None:
        operation["requestBody"]["content"][FORM_MEDIA_TYPE] = {"schema": form}


def _declare_platform_answers(operation: dict[str, Any], route: Route) -> None:
    """What the entry point and the resolver answer on any route, by what the route reads (firstmile.entrypoints)."""
    responses = operation["responses"]
    statuses: set[int] = set()
    if "requestBody" in operation:
        statuses |= {400, 413, 415}  # the body is admitted at the entry point (firstmile.http.bodies)
    if any(p.get("in") == "query" and p.get("name") == "cursor" for p in operation.get("parameters", [])):
        statuses.add(400)  # VAL_CURSOR_INVALID
    if any(
        p.get("in") == "header" and p.get("name") in ("If-Match", "Idempotency-Key") for p in operation["parameters"]
    ):
        statuses.add(400)  # VAL_IF_MATCH_INVALID, VAL_IDEMPOTENCY_KEY_INVALID
    if route.rate_class is not None:
        statuses.add(429)
    for status in statuses:
        responses.setdefault(str(status), _problem_response(status))
    for status, response in responses.items():
        if status in ("204", "304"):
            # Powertools documents the return type's JSON even for an answer that has no body.
            response.pop("content", None)
        headers = response.setdefault("headers", {})
        extra = ["X-Correlation-Id"]
        if status == "401":
            extra.append("WWW-Authenticate")
        elif status == "415":
            extra.append("Accept-Post")
        elif status in ("409", "503"):
            extra.append("Retry-After")
        elif status == "429":
            extra += ["Retry-After", *RATE_LIMIT_HEADERS]
        elif status.startswith("2") and route.rate_class is not None:
            extra += list(RATE_LIMIT_HEADERS)
        for name in extra:
            headers.setdefault(name, {})
        # Every response header is described once, under components/headers.
        response["headers"] = {name: {"$ref": _HEADER_PREFIX + name} for name in sorted(headers)}
    if "requestBody" in operation and JSON_MEDIA_TYPE not in operation["requestBody"].get("content", {}):
        raise OpenAPIError(f"{route.key}: a request body must be readable as JSON")


def _problem_response(status: int) -> dict[str, Any]:
    description = problem_responses(status)[status]["description"]
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": _SCHEMA_PREFIX + "ProblemDetails"}}},
    }


def _add_problem_schemas(schemas: dict[str, Any]) -> None:
    # Present even when no handler declared a problem response itself, since the gateway answers with them.
    generated = ProblemDetails.model_json_schema(ref_template=_SCHEMA_PREFIX + "{model}")
    for name, schema in (generated.pop("$defs", {}) | {"ProblemDetails": generated}).items():
        schemas.setdefault(name, schema)


def _referenced_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Only the schemas the paths reach (Powertools adds some that the merged operations no longer use)."""
    schemas = document["components"]["schemas"]
    reached: set[str] = set()
    pending = schema_references(document["paths"])
    while pending:
        name = pending.pop()
        if name in reached or name not in schemas:
            continue
        reached.add(name)
        pending |= schema_references(schemas[name])
    return {name: schemas[name] for name in sorted(reached)}


def schema_references(node: Any) -> set[str]:
    """The names of the component schemas ``node`` refers to, directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_SCHEMA_PREFIX):
                found.add(value[len(_SCHEMA_PREFIX) :])
            else:
                found |= schema_references(value)
    elif isinstance(node, list):
        for item in node:
            found |= schema_references(item)
    return found


def render(document: dict[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indent, a trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path, catalog: Iterable[Function] = CATALOG) -> None:
    """Write the document to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(build_document(catalog)), encoding="utf-8")


def check(path: Path, catalog: Iterable[Function] = CATALOG) -> str | None:
    """``None`` when ``path`` holds the current document, else what is wrong with it."""
    expected = render(build_document(catalog))
    if not path.exists():
        return f"{path} does not exist; run `make openapi` and commit it."
    if path.read_text(encoding="utf-8") != expected:
        return f"{path} is out of date with the handlers and the catalogue; run `make openapi` and commit it."
    return None
