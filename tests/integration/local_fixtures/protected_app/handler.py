"""A user-only route with a Powertools resolver, so the OpenAPI generator has a non-public route to document."""

from pydantic import BaseModel

from firstmile import entrypoints
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


class Greeting(BaseModel):
    tenant: str


@app.get("/fixture/me", summary="Who am I", tags=["fixture"], responses=problem_responses())
def me() -> Greeting:
    return Greeting(tenant="t-1")


lambda_handler = entrypoints.http(app)
