"""The table stream's archive consumer: each batch's onboarding events become gzipped JSON-lines objects in the
archive bucket, one per tenant, day and user bucket (decision 0073). A failure fails the batch: the stream hands it
again (the same objects are written again), bisects it, and finally keeps it in the stream-failures bucket.
"""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.observability import logger


def archive(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    written = container().event_archive.write(records)
    logger.info("archived", extra={"events": len(records), "objects": written})
    return []


lambda_handler = entrypoints.stream_in_order(archive)
