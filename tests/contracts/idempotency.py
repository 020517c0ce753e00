"""The contract of ``IdempotencyRecordStorage``: Powertools' idempotency records by partition and key, a key taken
over only once its record is no longer live."""

from __future__ import annotations

from typing import ClassVar

from firstmile.http.ports import IdempotencyRecord, IdempotencyRecordStorage, KeyHeld
from tests.factories import NOW

TENANT = "TENANT#t-acme#IDEMPOTENCY"
OTHER_TENANT = "TENANT#t-other#IDEMPOTENCY"
KEY = "admin_flow_create.create#" + "a" * 64
IN_PROGRESS_FOR_MS = 30_000


def in_progress(
    key: str = KEY,
    partition: str = TENANT,
    *,
    expires_at: int = int(NOW) + 3600,
    in_progress_until_ms: int | None = int(NOW * 1000) + IN_PROGRESS_FOR_MS,
    validation: str | None = "body-hash-1",
) -> IdempotencyRecord:
    """A record as Powertools writes it when a request starts."""
    return IdempotencyRecord(
        partition=partition,
        key=key,
        status="INPROGRESS",
        expires_at=expires_at,
        in_progress_expires_at=in_progress_until_ms,
        validation=validation,
    )


def completed(
    record: IdempotencyRecord, data: str = '{"status":201}', validation: str | None = None
) -> IdempotencyRecord:
    """The update Powertools sends when the request succeeded."""
    return IdempotencyRecord(
        partition=record.partition,
        key=record.key,
        status="COMPLETED",
        expires_at=record.expires_at + 60,
        data=data,
        validation=validation,
    )


class IdempotencyRecordStorageContract:
    """Subclasses provide ``records``."""

    implementation: ClassVar[type]

    def test_a_written_record_reads_back_as_written(self, records: IdempotencyRecordStorage) -> None:
        assert records.get(TENANT, KEY) is None

        assert records.put_unless_live(in_progress(), now=NOW) is None

        assert records.get(TENANT, KEY) == in_progress()

    def test_absent_parts_read_back_absent(self, records: IdempotencyRecordStorage) -> None:
        bare = in_progress(in_progress_until_ms=None, validation=None)

        records.put_unless_live(bare, now=NOW)

        stored = records.get(TENANT, KEY)
        assert stored == bare
        assert stored is not None and stored.data is None and stored.validation is None

    def test_each_partition_keeps_its_own_records(self, records: IdempotencyRecordStorage) -> None:
        assert records.put_unless_live(in_progress(), now=NOW) is None
        assert records.put_unless_live(in_progress(partition=OTHER_TENANT, validation="other"), now=NOW) is None

        records.delete(TENANT, KEY)

        assert records.get(TENANT, KEY) is None
        assert records.get(OTHER_TENANT, KEY) == in_progress(partition=OTHER_TENANT, validation="other")

    def test_a_request_in_progress_holds_its_key(self, records: IdempotencyRecordStorage) -> None:
        # Given a request in progress
        records.put_unless_live(in_progress(), now=NOW)

        # When the same key is written again while it runs
        held = records.put_unless_live(in_progress(validation="body-hash-2"), now=NOW + 1)

        # Then the write is refused with the stored record, which stays as it was
        assert held == KeyHeld(stored=in_progress())
        assert records.get(TENANT, KEY) == in_progress()

    def test_a_completed_record_holds_its_key_until_it_expires(self, records: IdempotencyRecordStorage) -> None:
        # Given a completed request, long past the in-progress expiry it was written with
        first = in_progress()
        records.put_unless_live(first, now=NOW)
        records.update(completed(first))
        stored = records.get(TENANT, KEY)
        later = NOW + 600

        # When the same key is written again before its record expires (and exactly at its expiry)
        held = records.put_unless_live(in_progress(), now=later)
        at_expiry = records.put_unless_live(in_progress(), now=float(completed(first).expires_at))

        # Then both are refused with the completed record
        assert held == at_expiry == KeyHeld(stored=stored)
        assert stored is not None and stored.status == "COMPLETED"

    def test_an_expired_record_is_taken_over(self, records: IdempotencyRecordStorage) -> None:
        # Given a completed record that expired a second ago (the TTL sweeper has not removed it yet)
        first = in_progress(in_progress_until_ms=None)
        records.put_unless_live(first, now=NOW)
        records.update(completed(first, validation="old-hash"))
        expiry = completed(first).expires_at

        # When the key is written anew
        fresh = in_progress(expires_at=expiry + 3600, in_progress_until_ms=None, validation=None)
        taken = records.put_unless_live(fresh, now=float(expiry + 1))

        # Then the new record replaces the old one whole: no response, no hash of the old one remains
        assert taken is None
        assert records.get(TENANT, KEY) == fresh

    def test_a_request_in_progress_past_its_in_progress_expiry_is_taken_over(
        self, records: IdempotencyRecordStorage
    ) -> None:
        # Given a request whose function timed out: in progress, its in-progress expiry passed
        records.put_unless_live(in_progress(), now=NOW)
        after_timeout = NOW + IN_PROGRESS_FOR_MS / 1000 + 0.5

        # When a retry writes the key, then it takes the record over
        retry = in_progress(in_progress_until_ms=int(after_timeout * 1000) + IN_PROGRESS_FOR_MS)
        assert records.put_unless_live(retry, now=after_timeout) is None
        assert records.get(TENANT, KEY) == retry

    def test_an_update_sets_the_outcome_and_keeps_the_rest(self, records: IdempotencyRecordStorage) -> None:
        # Given a request in progress
        first = in_progress()
        records.put_unless_live(first, now=NOW)

        # When it completes, without a hash and then with one
        records.update(completed(first, data='{"n":1}'))
        without_hash = records.get(TENANT, KEY)
        records.update(completed(first, data='{"n":2}', validation="body-hash-2"))
        with_hash = records.get(TENANT, KEY)

        # Then status, expiry and response are set; the in-progress expiry stays, and so does the hash unless given
        assert without_hash == IdempotencyRecord(
            partition=TENANT,
            key=KEY,
            status="COMPLETED",
            expires_at=first.expires_at + 60,
            in_progress_expires_at=first.in_progress_expires_at,
            data='{"n":1}',
            validation="body-hash-1",
        )
        assert with_hash is not None and (with_hash.data, with_hash.validation) == ('{"n":2}', "body-hash-2")

    def test_an_update_of_an_absent_record_writes_what_it_sets(self, records: IdempotencyRecordStorage) -> None:
        records.update(completed(in_progress(), validation="body-hash-1"))

        assert records.get(TENANT, KEY) == IdempotencyRecord(
            partition=TENANT,
            key=KEY,
            status="COMPLETED",
            expires_at=in_progress().expires_at + 60,
            data='{"status":201}',
            validation="body-hash-1",
        )

    def test_a_deleted_record_frees_its_key(self, records: IdempotencyRecordStorage) -> None:
        records.put_unless_live(in_progress(), now=NOW)

        records.delete(TENANT, KEY)
        records.delete(TENANT, "no-such-key")

        assert records.get(TENANT, KEY) is None
        assert records.put_unless_live(in_progress(validation="body-hash-2"), now=NOW + 1) is None
