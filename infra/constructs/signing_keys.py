"""The secret that holds the private signing keys, encrypted with its own customer-managed KMS key.

Only the functions whose catalogue ``Access.signing_keys`` says so may read it (``read``: sign tokens) or write it
(``write``: the rotation job); see ``CatalogFunction._grant``. The authorizer and the JWKS route read the public
keys from the table instead (docs/decisions/0011-identity-signing-key-rotation.md).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge
from infra.platform import SigningKeys


class SigningKeysSecret(Construct):
    """A KMS key (yearly rotation of its key material) and the secret ``name`` encrypted with it."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        # An own key rather than aws/secretsmanager: its key policy and CloudTrail trail concern this secret only,
        # and IAM grants can name it (the AWS managed key can be used by every principal of the account).
        self.key = kms.Key(
            self,
            "Key",
            description=f"Firstmile {stage}: encrypts the signing-keys secret {name}",
            enable_key_rotation=True,
            # Deleted with the secret it protects (after KMS's shortest waiting period): a retained key would keep
            # costing its monthly fee for a secret that no longer exists.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=name,
            description=f"Firstmile {stage}: the private signing keys (JSON key set), written by the rotation job",
            encryption_key=self.key,
            # A random placeholder: the key store reads any value that is not a key set as "no keys yet", and the
            # rotation job's first run (run once after deployment) replaces it with the first key.
            # Never change these options: CloudFormation generates a new value when they change, which would
            # replace the key set and make every token signed so far unverifiable.
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=32),
            # The keys are re-created by the rotation job within minutes and only sign 15-minute access tokens;
            # keeping them after the stage is gone would only block deploying the stage again under the same name.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "The signing keys are rotated by the signing_key_rotation function on its own hourly schedule, with "
            "publish-ahead and delayed retirement (docs/decisions/0011); Secrets Manager's rotation Lambda protocol "
            "would promote a new key at once and bypass the publish-ahead step, failing verifications.",
        )

    @property
    def reference(self) -> SigningKeys:
        """Name and ARNs, as the data stack exports them."""
        # The literal name: CDK would otherwise derive it from the ARN with Fn::Split, which reads worse and says
        # the same.
        return SigningKeys(secret_name=self.name, secret_arn=self.secret.secret_arn, key_arn=self.key.key_arn)
