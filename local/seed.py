"""The hook where the local stack prepares its data once the emulator is up.

Identity is not built yet, so there is no demo tenant and no token to hand out: today seeding only makes sure
every resource of the deployment exists. When identity arrives, ``seed_demo`` also creates the demo tenant and
returns its ready-to-use tokens, which ``firstmile dev`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from local.resources import Deployment, create_resources


@dataclass(frozen=True)
class SeedResult:
    """What seeding produced: the queue URLs by logical name, and tokens to print by label."""

    queue_urls: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)


def seed_demo(deployment: Deployment, endpoint: str) -> SeedResult:
    """Prepare the emulator at ``endpoint`` for ``deployment``: its resources (and, later, a demo tenant)."""
    return SeedResult(queue_urls=create_resources(deployment, endpoint))
