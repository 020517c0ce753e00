"""A bucket of the deployment as a place to put objects (the analytics archive)."""

from __future__ import annotations

from firstmile.platform import aws


class BucketObjects:
    """Puts objects into one bucket. A failure raises the SDK's error: the caller's caller (a stream batch) retries."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        aws.s3().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson")
