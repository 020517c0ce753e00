"""Context values become deployment settings, and impossible ones are refused at synth."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App

from infra.settings import DeploymentSettings, SettingsError


def settings(**context: Any) -> DeploymentSettings:
    return DeploymentSettings.from_context(App(context=context))


def test_defaults_when_the_context_says_nothing() -> None:
    result = settings()
    assert (result.stage, result.commit, result.cors_allow_origins) == ("dev", "unknown", ())
    assert (result.api_throttle_rate, result.api_throttle_burst) == (100, 200)
    assert (result.issuer, result.audience) == ("urn:firstmile:dev", "urn:firstmile:dev:api")
    assert (result.privacy_sender, result.privacy_sender_domain) == ("privacy@example.com", "example.com")


def test_the_privacy_sender_and_its_domain_come_from_the_context() -> None:
    given = settings(privacySender="dpo@mail.example.org")
    assert (given.privacy_sender, given.privacy_sender_domain) == ("dpo@mail.example.org", "mail.example.org")


def test_issuer_and_audience_follow_the_stage_unless_given() -> None:
    assert (settings(stage="prod").issuer, settings(stage="prod").audience) == (
        "urn:firstmile:prod",
        "urn:firstmile:prod:api",
    )
    given = settings(stage="prod", issuer="https://auth.example.com", audience="urn:example:api")
    assert (given.issuer, given.audience) == ("https://auth.example.com", "urn:example:api")


def test_the_authorizer_cache_is_no_context_value_any_more() -> None:
    # cdk.json's 0 is still accepted; anything else would be ignored silently, so it is refused
    assert settings(authorizerCacheSeconds=0).stage == "dev"
    with pytest.raises(SettingsError, match="Authorizer trigger"):
        settings(authorizerCacheSeconds="300")


def test_origins_from_cdk_json_list_or_command_line_string() -> None:
    assert settings(corsAllowOrigins=["https://a.example"]).cors_allow_origins == ("https://a.example",)
    assert settings(corsAllowOrigins='["https://a.example"]').cors_allow_origins == ("https://a.example",)
    assert settings(corsAllowOrigins="https://a.example, https://b.example").cors_allow_origins == (
        "https://a.example",
        "https://b.example",
    )


@pytest.mark.parametrize(
    "context",
    [
        {"stage": "Prod"},
        {"stage": "a-stage-name-that-is-too-long"},
        {"logRetentionDays": 10},
        {"apiThrottleRate": "fast"},
        {"apiThrottleBurst": 0},
        {"corsAllowOrigins": "https://a.example/path"},
        {"issuer": "firstmile prod"},
        {"audience": "api"},
        {"privacySender": "privacy"},
        {"privacySender": "privacy@localhost"},
    ],
)
def test_impossible_values_are_refused(context: dict[str, Any]) -> None:
    with pytest.raises(SettingsError):
        settings(**context)
