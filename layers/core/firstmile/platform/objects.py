"""A bucket of the deployment as a place to keep objects (the analytics archive, the export packages)."""

from __future__ import annotations

from collections.abc import Iterator

from firstmile.platform import aws


class BucketObjects:
    """Puts, reads, lists and deletes objects of one bucket. A failure raises the SDK's error: the caller's caller
    (a stream batch, a queue message) retries. Objects are encrypted as the bucket's default says (the exports
    bucket: its own AWS KMS key; infra/constructs/buckets.py)."""

    def __init__(self, bucket: str, *, content_type: str = "application/x-ndjson") -> None:
        self.bucket = bucket
        self._content_type = content_type

    def put(self, key: str, body: bytes) -> None:
        aws.s3().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=self._content_type)

    def get(self, key: str) -> bytes | None:
        """The object's bytes; ``None`` when there is no such object."""
        client = aws.s3()
        try:
            answer = client.get_object(Bucket=self.bucket, Key=key)
        except client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read()

    def keys(self, prefix: str) -> Iterator[str]:
        """The keys under ``prefix``, in key order, page after page."""
        paginator = aws.s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]

    def folders(self, prefix: str) -> list[str]:
        """The "folders" right under ``prefix`` (common prefixes up to the next ``/``), in key order."""
        paginator = aws.s3().get_paginator("list_objects_v2")
        found: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            found += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
        return found

    def delete(self, key: str) -> None:
        aws.s3().delete_object(Bucket=self.bucket, Key=key)

    def move(self, key: str, to: str) -> None:
        """Copy the object at ``key`` to ``to`` in the same bucket, then delete the original (a copy that is there
        already is simply made again)."""
        client = aws.s3()
        client.copy_object(Bucket=self.bucket, Key=to, CopySource={"Bucket": self.bucket, "Key": key})
        client.delete_object(Bucket=self.bucket, Key=key)

    def link(self, key: str, seconds: int) -> str:
        """A presigned GET URL of the object, valid ``seconds``."""
        return aws.s3().generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
        )
