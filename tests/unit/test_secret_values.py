"""Secret values: the SDK's failures become an unavailable dependency naming the component the secret serves."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from firstmile.errors import DependencyUnavailableError
from firstmile.platform.secrets import SecretValue


def client(answer: Any) -> Any:
    def send(**_: Any) -> Any:
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return SimpleNamespace(get_secret_value=send, put_secret_value=send)


def test_the_text_of_a_secret_is_read_and_an_empty_secret_reads_as_empty_text() -> None:
    assert SecretValue("s", "signing keys", client({"SecretString": "keys"})).read() == "keys"
    assert SecretValue("s", "signing keys", client({"SecretBinary": b"x"})).read() == ""


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue"), "ResourceNotFoundException"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "EndpointConnectionError"),
    ],
)
def test_a_failure_of_the_sdk_names_the_component_and_the_services_code(failure: Exception, reason: str) -> None:
    secret = SecretValue("s", "signing keys", client(failure))

    for call in (secret.read, lambda: secret.write("keys")):
        with pytest.raises(DependencyUnavailableError) as unavailable:
            call()
        assert (unavailable.value.component, unavailable.value.reason) == ("signing keys", reason)


def test_an_exception_that_is_not_the_sdks_is_not_disguised() -> None:
    with pytest.raises(KeyError):
        SecretValue("s", "signing keys", client(KeyError("a defect"))).read()
