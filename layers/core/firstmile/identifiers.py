"""The shapes of the ids two domains share: onboarding's gated steps name feature flags by key, and a rollout's guard
names an onboarding flow by id. Both domains take them from here, so neither imports the other's models."""

FLOW_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"
"""An onboarding flow's id, chosen by the tenant."""

FLAG_KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
"""A feature flag's key (and a segment's), unique in the tenant."""


def user_partition(tenant: str, user: str) -> str:
    """The partition that holds everything personal of one user (identity, onboarding and privacy keep their items
    there; an erasure deletes it)."""
    return f"TENANT#{tenant}#USER#{user}"
