"""The core layer as a LayerVersion, one per stack that needs it.

Sharing one LayerVersion across stacks would export its ARN; every new layer version changes that ARN, and
CloudFormation refuses to change an export another stack imports. A LayerVersion per stack, from the same
asset, uploads once and avoids the deadlock.
"""

from __future__ import annotations

from aws_cdk import AssetHashType, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.function import ARCHITECTURE, RUNTIME
from infra.layer import LayerBuild


def core_layer(scope: Construct, build: LayerBuild) -> lambda_.LayerVersion:
    """A LayerVersion of the built core layer in ``scope``."""
    return lambda_.LayerVersion(
        scope,
        "CoreLayer",
        # The build key already hashes the lock file and sources: no need to fingerprint ~75 MB each synth.
        code=lambda_.Code.from_asset(str(build.path), asset_hash=build.key, asset_hash_type=AssetHashType.CUSTOM),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description=f"firstmile core and its locked dependencies ({build.key})",
        # Replaced versions are deleted: functions already deployed with one keep their copy, and keeping
        # every version would slowly fill the account's code storage.
        removal_policy=RemovalPolicy.DESTROY,
    )
