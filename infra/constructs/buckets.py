"""Private S3 buckets: encrypted, TLS only, no public access, access-logged, expiring by lifecycle.

A bucket is encrypted with SSE-S3 unless its definition asks for a customer-managed KMS key (``kms``): then it gets
a key of its own, with yearly rotation of the key material, and S3 Bucket Keys so that S3 asks KMS for a data key
per bucket and hour rather than per object.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from firstmile.platform.resources import BucketDefinition

# Server access logs answer "who read this export"; a year covers a privacy authority's usual questions.
ACCESS_LOG_RETENTION = Duration.days(365)


def _private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    expire_after: Duration | None,
    access_logs: s3.IBucket | None,
    log_prefix: str | None = None,
    key: kms.IKey | None = None,
) -> s3.Bucket:
    lifecycle = [
        s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1))
    ]
    if expire_after is not None:
        lifecycle.append(s3.LifecycleRule(id="expire", expiration=expire_after))
    return s3.Bucket(
        scope,
        construct_id,
        # SSE-S3 (the only encryption S3 server access logging can write to, and free of key fees) unless the
        # bucket has a key of its own.
        encryption=s3.BucketEncryption.S3_MANAGED if key is None else s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True if key is not None else None,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=lifecycle,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=log_prefix,
        removal_policy=RemovalPolicy.RETAIN,
    )


class Buckets(Construct):
    """The deployment's buckets from ``definitions``, all logging to one access-log bucket."""

    def __init__(
        self, scope: Construct, construct_id: str, *, definitions: tuple[BucketDefinition, ...], stage: str
    ) -> None:
        super().__init__(scope, construct_id)
        # The access-log target logs nothing itself: it would log its own log deliveries.
        self.access_logs = _private_bucket(self, "AccessLogs", expire_after=ACCESS_LOG_RETENTION, access_logs=None)
        self.by_field: dict[str, s3.Bucket] = {}
        # Settings field -> the bucket's own KMS key, for the buckets whose definition asks for one.
        self.keys: dict[str, kms.Key] = {}
        for definition in definitions:
            key = None
            if definition.kms:
                key = self.keys[definition.settings_field] = kms.Key(
                    self,
                    f"{definition.logical_name}Key",
                    description=f"Firstmile {stage}: encrypts the objects of the {definition.logical_name} bucket",
                    enable_key_rotation=True,
                    # Kept with the bucket, which is kept: without its key, no object left in it could be read.
                    removal_policy=RemovalPolicy.RETAIN,
                )
            self.by_field[definition.settings_field] = _private_bucket(
                self,
                definition.logical_name,
                expire_after=Duration.days(definition.expire_after_days) if definition.expire_after_days else None,
                access_logs=self.access_logs,
                log_prefix=f"{definition.logical_name.lower()}/",
                key=key,
            )
