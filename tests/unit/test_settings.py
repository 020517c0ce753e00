"""Settings come from FIRSTMILE_* variables on first use; structured values are JSON."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from firstmile.config import Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_environment({})

    assert settings.route_role == "public"
    assert settings.queue_urls == {}


def test_values_are_read_and_converted() -> None:
    settings = Settings.from_environment(
        {
            "FIRSTMILE_TABLE_NAME": "t1",
            "FIRSTMILE_DEPENDENCY_TIMEOUT_SECONDS": "1.5",
            "FIRSTMILE_QUEUE_URLS": '{"jobs": "http://q"}',
            "FIRSTMILE_CORS_ALLOW_ORIGINS": '["https://a.example"]',
            "FIRSTMILE_ROUTE_ROLE": "admin",
            "OTHER": "ignored",
        }
    )

    assert settings.table_name == "t1"
    assert settings.dependency_timeout_seconds == 1.5
    assert settings.queue_urls == {"jobs": "http://q"}
    assert settings.cors_allow_origins == ("https://a.example",)
    assert settings.route_role == "admin"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FIRSTMILE_QUEUE_URLS", "not json"),
        ("FIRSTMILE_ROUTE_ROLE", "superuser"),
        ("FIRSTMILE_ACCESS_TOKEN_TTL_SECONDS", "3600"),
    ],
)
def test_an_invalid_value_fails_naming_its_field(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as invalid:
        Settings.from_environment({name: value})

    assert [e["loc"][0] for e in invalid.value.errors()] == [name.removeprefix("FIRSTMILE_").lower()]


def test_settings_are_frozen() -> None:
    settings = Settings.from_environment({})

    with pytest.raises(ValidationError):
        settings.table_name = "other"  # type: ignore[misc]
