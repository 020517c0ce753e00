"""Secrets Manager, the one way the core package reads and writes a secret's value; SDK failures are translated here.

Every failure of the SDK or the service is ``DependencyUnavailableError`` naming the component the secret serves
and the service's error code (or the SDK's exception). Like the table gateway, importing this module loads nothing
of botocore: the client is made on first use (``aws.secretsmanager``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from firstmile.errors import DependencyUnavailableError
from firstmile.platform import aws

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

_T = TypeVar("_T")


class SecretValue:
    """The text value of one secret, kept for ``component`` (which a failure names)."""

    def __init__(self, secret_id: str, component: str, client: SecretsManagerClient | None = None) -> None:
        self.secret_id = secret_id
        self.component = component
        self._client = client

    @property
    def client(self) -> SecretsManagerClient:
        """The Secrets Manager client (the deployment's, made on first use, unless one was given)."""
        if self._client is None:
            self._client = aws.secretsmanager()
        return self._client

    def read(self) -> str:
        """The secret's current text (empty when it holds none)."""
        response = self._call(lambda: self.client.get_secret_value(SecretId=self.secret_id))
        return str(response.get("SecretString") or "")

    def write(self, text: str) -> None:
        """Store ``text`` as the secret's new current version."""
        self._call(lambda: self.client.put_secret_value(SecretId=self.secret_id, SecretString=text))

    def _call(self, send: Callable[[], _T]) -> _T:
        try:
            return send()
        except Exception as exc:
            from botocore.exceptions import BotoCoreError, ClientError

            if isinstance(exc, ClientError):
                error: Any = exc.response.get("Error", {})
                raise DependencyUnavailableError(self.component, str(error.get("Code", "ClientError"))) from exc
            if isinstance(exc, BotoCoreError):
                raise DependencyUnavailableError(self.component, type(exc).__name__) from exc
            raise
