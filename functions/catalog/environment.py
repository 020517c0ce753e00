"""The environment of a function: the one builder CDK and the local stack both take it from.

A function reads its configuration from ``FIRSTMILE_*`` variables (``firstmile.config.Settings``) and Powertools
from its own. Which variables a function gets follows from its catalogue entry (its trigger and its ``Access``)
and from where it is deployed (``DeploymentValues``): CDK passes tokens CloudFormation resolves, the local stack the
emulator's names. Whatever the local stack adds on top (the emulator's endpoints and what the Lambda service itself
sets) is listed in ``local/environment.py``, and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firstmile.config import ENV_PREFIX, Settings
from firstmile.limits.models import RouteClass
from firstmile.observability import METRICS_NAMESPACE, SERVICE
from firstmile.platform.resources import BUCKETS
from functions.catalog.model import Function, Route


@dataclass(frozen=True)
class DeploymentValues:
    """What one deployment tells its functions: names, addresses and identity settings.

    Values may be plain strings or deployment-time references (CloudFormation tokens); the builder never looks
    inside them.
    """

    stage: str
    version: str
    commit: str
    table_name: str
    # Settings field of each bucket (``BucketDefinition.settings_field``) -> its name.
    bucket_names: Mapping[str, str]
    # Logical queue name -> its URL; asked only for the queues a function names in its ``Access``.
    queue_url: Callable[[str], str]
    issuer: str
    audience: str
    cors_allow_origins: tuple[str, ...]
    # The key that signs pagination cursors (or a reference to the secret holding it); HTTP functions only.
    cursor_key: str
    # The signing keys' secret, by name; ``None`` when the deployment has none.
    signing_keys_secret: str | None
    # The address functions that send email (``Access.sends_email``) send from; ``None``: the settings' default
    # (the local stack sends no email, it writes to an outbox).
    notifier_sender: str | None = None
    # Encodes the queue URLs as JSON; CDK's encoder keeps its tokens intact.
    encode_json: Callable[[Any], str] = field(default=json.dumps)


def variable(settings_field: str) -> str:
    """The variable that carries ``firstmile.config.Settings.<settings_field>``; a field that does not exist is a
    mistake here, not a setting silently ignored by every function."""
    if settings_field not in Settings.model_fields:
        raise KeyError(f"firstmile.config.Settings has no field {settings_field!r}")
    return ENV_PREFIX + settings_field.upper()


def function_environment(function: Function, deployment: DeploymentValues) -> dict[str, str]:
    """The variables ``function`` runs with in ``deployment``, in a stable order."""
    access = function.access
    named_queues = sorted({*access.sends_to, *access.inspects_queues, *access.receives_from})
    environment = {
        variable("stage"): deployment.stage,
        variable("version"): deployment.version,
        variable("commit"): deployment.commit,
        variable("table_name"): deployment.table_name,
        # Only the queues its catalogue entry names: what it may not use, it does not know of.
        variable("queue_urls"): deployment.encode_json({name: deployment.queue_url(name) for name in named_queues}),
        variable("cors_allow_origins"): json.dumps(list(deployment.cors_allow_origins)),
    }
    if access.receives_from:
        # The dead-letter collector names each task after the function consuming its queue (decision 0091).
        environment[variable("queue_consumers")] = json.dumps(queue_consumers())
    if deployment.signing_keys_secret is not None:
        # Its name only: whether the function may read it is its role's business (Access.signing_keys).
        environment[variable("signing_keys_secret")] = deployment.signing_keys_secret
    if access.sends_email and deployment.notifier_sender is not None:
        # Only where the role may send from its domain's identity (Access.sends_email).
        environment[variable("notifier_sender")] = deployment.notifier_sender
    environment |= {
        variable("issuer"): deployment.issuer,
        variable("audience"): deployment.audience,
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    for bucket in BUCKETS:
        environment[variable(bucket.settings_field)] = deployment.bucket_names[bucket.settings_field]
    if isinstance(function.trigger, Route):
        role, *rate_class = route_variables(function.trigger).items()
        # The cursor key between the two, as deployed functions have always listed them (docs/decisions/0041).
        environment |= dict([role, (variable("cursor_key"), deployment.cursor_key), *rate_class])
    return environment


def route_variables(route: Route) -> dict[str, str]:
    """The variables that follow from the route alone: the role the function checks again, and the rate class it
    counts requests in (when it has one)."""
    variables: dict[str, str] = {variable("route_role"): route.role}
    if route.rate_class is not None:
        # Through the enum: a class the limiter does not know fails here, at synth, not at the first request.
        variables[variable("route_rate_class")] = RouteClass(route.rate_class).value
    if route.also is not None:
        variables[variable("route_also_role")] = route.also
    return variables


def queue_consumers() -> dict[str, str]:
    """Each work queue of the catalogue and the function consuming it."""
    from functions.catalog import CATALOG, Queue

    return {f.trigger.name: f.name for f in CATALOG if isinstance(f.trigger, Queue)}


ROUTE_VARIABLES = (variable("route_role"), variable("route_rate_class"), variable("route_also_role"))
"""Every variable :func:`route_variables` may set."""
