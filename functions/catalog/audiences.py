"""The audience of every route (the role it requires), for the request aggregator (decision 0105).

The aggregator counts the answers API Gateway made itself, when a function or the authorizer failed, from the API's
access log, which names the route but not its role. The catalogue is not deployed with the functions, so the
audiences are written beside the aggregator's handler, from the catalogue: ``make openapi`` rewrites the file, and
``tests/unit/test_gateway_answers.py`` fails while it differs from the catalogue.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from functions.catalog import CATALOG, Function, http_functions

AUDIENCES_PATH = Path(__file__).resolve().parents[1] / "sla_request_aggregator" / "route_audiences.json"


def route_audiences(catalog: tuple[Function, ...] = CATALOG) -> dict[str, str]:
    """Every route key (``GET /v1/flags/{key}``) with the role its route requires."""
    return {route.key: route.role for _, route in sorted(http_functions(catalog), key=lambda entry: entry[1].key)}


def render(catalog: tuple[Function, ...] = CATALOG) -> str:
    """The file's text: one route a line, sorted, so a change reads as a one-line diff."""
    return json.dumps(route_audiences(catalog), indent=0, sort_keys=True) + "\n"


def main() -> int:
    AUDIENCES_PATH.write_text(render())
    print(f"{AUDIENCES_PATH} is up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
