"""The deployment's settings, read from CDK context (``cdk.json`` or ``cdk synth -c key=value``).

Context given on the command line always arrives as a string, so every reader accepts both the JSON value
from ``cdk.json`` and its string form.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent

# Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
# A URI with a scheme (``urn:...``, ``https://...``): JWT's StringOrURI requires one for any value with a colon.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]{1,250}$")
# An email address whose domain SES can verify: one @, a domain with at least one dot.
_SENDER = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class SettingsError(ValueError):
    """A context value is missing its expected shape."""


@dataclass(frozen=True)
class DeploymentSettings:
    """Everything about one deployment that is not in the catalogue."""

    stage: str = "dev"
    version: str = "0.0.0"
    commit: str = "unknown"
    cors_allow_origins: tuple[str, ...] = ()
    # Default route throttling of the HTTP API stage: steady requests per second and burst.
    api_throttle_rate: int = 100
    api_throttle_burst: int = 200
    log_retention_days: int = 30
    # The table's point-in-time recovery window, in days (DynamoDB allows 1 to 35; decision 0104).
    pitr_days: int = 7
    # The access tokens' ``iss`` and ``aud``, the same for every function; empty means the stage's default
    # (``urn:firstmile:<stage>`` and ``urn:firstmile:<stage>:api``).
    issuer: str = ""
    audience: str = ""
    # The address erasure codes are sent from (SES); its domain must be a verified SES identity of the account
    # (functions that send email may use that identity only).
    privacy_sender: str = "privacy@example.com"

    def __post_init__(self) -> None:
        if not self.issuer:
            object.__setattr__(self, "issuer", f"urn:firstmile:{self.stage}")
        if not self.audience:
            object.__setattr__(self, "audience", f"urn:firstmile:{self.stage}:api")

    @classmethod
    def from_context(cls, scope: Construct) -> DeploymentSettings:
        """Read the settings from the context of ``scope``, with defaults for anything not given."""

        def get(key: str) -> Any:
            return scope.node.try_get_context(key)

        settings = cls(
            stage=_text(get("stage"), "dev"),
            version=_text(get("version"), project_version()),
            commit=_text(get("commit"), "unknown"),
            cors_allow_origins=_origins(get("corsAllowOrigins")),
            api_throttle_rate=_integer(get("apiThrottleRate"), cls.api_throttle_rate, "apiThrottleRate"),
            api_throttle_burst=_integer(get("apiThrottleBurst"), cls.api_throttle_burst, "apiThrottleBurst"),
            log_retention_days=_integer(get("logRetentionDays"), cls.log_retention_days, "logRetentionDays"),
            pitr_days=_integer(get("pitrDays"), cls.pitr_days, "pitrDays"),
            issuer=_text(get("issuer"), ""),
            audience=_text(get("audience"), ""),
            privacy_sender=_text(get("privacySender"), cls.privacy_sender),
        )
        # The authorizer's result cache is the catalogue's (Authorizer.result_ttl_seconds): the authorizer has no
        # identity source, so API Gateway could not key a cache, and revocation is promised within 5 s.
        if _integer(get("authorizerCacheSeconds"), 0, "authorizerCacheSeconds") != 0:
            raise SettingsError(
                "authorizerCacheSeconds is no longer read: the authorizer result cache is set by the catalogue's "
                "Authorizer trigger and must stay 0 (docs/decisions/0035-infra-authorizer-wiring.md)"
            )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values AWS would reject at deploy time, so the mistake shows at synth."""
        if not _STAGE.match(self.stage):
            raise SettingsError(f"stage {self.stage!r}: lower-case letters, digits and '-', at most 16")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise SettingsError(f"logRetentionDays must be one of {LOG_RETENTION_DAYS}")
        if not 1 <= self.pitr_days <= 35:
            raise SettingsError("pitrDays must be 1..35 (DynamoDB's point-in-time recovery window)")
        if not 1 <= self.api_throttle_rate <= 10_000 or not 1 <= self.api_throttle_burst <= 5_000:
            raise SettingsError("apiThrottleRate must be 1..10000 and apiThrottleBurst 1..5000")
        for key, value in (("issuer", self.issuer), ("audience", self.audience)):
            if not _URI.match(value):
                raise SettingsError(f"{key} {value!r} must be a URI such as urn:firstmile:prod or https://host")
        if not _SENDER.match(self.privacy_sender):
            raise SettingsError(f"privacySender {self.privacy_sender!r} must be an email address such as a@example.com")
        for origin in self.cors_allow_origins:
            if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
                raise SettingsError(f"CORS origin {origin!r} must be scheme://host[:port] with no path")

    @property
    def privacy_sender_domain(self) -> str:
        """The domain of :attr:`privacy_sender`: the SES identity the functions that send email may use."""
        return self.privacy_sender.rpartition("@")[2]

    def stack_name(self, suffix: str) -> str:
        """The CloudFormation name of a stack, unique per stage so stages can share an account."""
        return f"firstmile-{self.stage}-{suffix}"


def project_version() -> str:
    """The product version from ``pyproject.toml``."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def _text(value: Any, default: str) -> str:
    return default if value is None or value == "" else str(value)


def _integer(value: Any, default: int, key: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{key} must be an integer, got {value!r}") from error


def _origins(value: Any) -> tuple[str, ...]:
    """A list from cdk.json, or a JSON list / comma-separated string from the command line."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        stripped = value.strip()
        value = json.loads(stripped) if stripped.startswith("[") else stripped.split(",")
    if not isinstance(value, list | tuple):
        raise SettingsError(f"corsAllowOrigins must be a list of origins, got {value!r}")
    return tuple(str(origin).strip() for origin in value if str(origin).strip())
