"""GET /.well-known/jwks.json: the public keys that verify Firstmile's access tokens."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()

# Verifiers may cache the set this long; a new key is published an hour before it signs anything.
CACHE_CONTROL = "public, max-age=300"


@app.get("/.well-known/jwks.json", summary="JSON Web Key Set", tags=["identity"], responses=problem_responses(503))
def jwks() -> Response[dict[str, Any]]:
    document, _ = container().identity_store.published_jwks()
    return Response(200, "application/json", document, headers={"Cache-Control": CACHE_CONTROL})


lambda_handler = entrypoints.http(app)
