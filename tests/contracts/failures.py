"""The contract of ``FailureStorePort``: one record per message, its first failure kept, its newest error and the
highest attempt shown; and of ``TaskStorePort``: one task per piece of work, its history and counters kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from firstmile.failures.models import Failure
from firstmile.failures.ports import FailureStorePort, TaskStorePort
from firstmile.failures.tasks import TaskDraft, TaskFilter, task_id

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def failure(attempt: int, at: datetime, error: str = "KeyError") -> Failure:
    return Failure(
        task="flag_exposure_worker",
        source="queue:firstmile-test-flag-exposures",
        message_id="m-1",
        exception_type=error,
        message=f"{error} at {attempt}",
        traceback="Traceback ...",
        attempt=attempt,
        at=at,
        payload={"tenant": "t-acme", "exposures": [{"flag": "f", "variant": "on"}]},
        tenant="t-acme",
    )


class FailureStoreContract:
    """Subclasses provide ``failures``."""

    implementation: ClassVar[type]

    def test_each_attempt_updates_one_record_keeping_the_first_time_and_the_highest_attempt(
        self, failures: FailureStorePort
    ) -> None:
        failures.record(failure(1, T0))
        failures.record(failure(3, T0 + timedelta(minutes=2), error="ValueError"))
        failures.record(failure(2, T0 + timedelta(minutes=3)))  # a late, lower delivery number

        record = failures.get("queue:firstmile-test-flag-exposures", "m-1")

        assert record is not None
        assert (record.attempts, record.first_failed_at, record.last_failed_at) == (3, T0, T0 + timedelta(minutes=3))
        assert (record.exception_type, record.message, record.tenant) == ("KeyError", "KeyError at 2", "t-acme")
        assert record.payload == {"tenant": "t-acme", "exposures": [{"flag": "f", "variant": "on"}]}
        assert failures.get("queue:firstmile-test-flag-exposures", "m-2") is None


def draft(
    n: int,
    *,
    letter: str | None = None,
    tenant: str | None = "t-acme",
    task: str = "flag_exposure_worker",
    error: str = "KeyError",
    sent: datetime = T0,
) -> TaskDraft:
    source = "queue:flag-exposures"
    return TaskDraft(
        task_id=task_id(sent + timedelta(minutes=n), source, f"m-{n}"),
        task=task,
        kind="queue",
        source=source,
        message_id=f"m-{n}",
        letter_id=letter or f"letter-{n}",
        location="flag-exposures-dlq",
        exception_type=error,
        message=f"{error}: 'day'",
        traceback="Traceback ...",
        attempts=5,
        first_failed_at=sent + timedelta(minutes=n),
        last_failed_at=sent + timedelta(minutes=n + 1),
        dead_lettered_at=sent + timedelta(minutes=n + 2),
        tenant=tenant,
        payload={"tenant": tenant, "exposures": []},
        body=json.dumps({"tenant": tenant, "exposures": []}),
        attributes={"origin": "test"},
        failure_recorded=True,
    )


def nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if v}


EVERYTHING = TaskFilter()


class TaskStoreContract:
    """Subclasses provide ``tasks``: a task store over an empty table."""

    implementation: ClassVar[type]

    def test_a_letter_becomes_one_task_however_often_it_is_collected(self, tasks: TaskStorePort) -> None:
        first = draft(1)
        assert tasks.admit(first) == "new"
        assert tasks.admit(first) == "known"
        stored = tasks.get(first.task_id)
        assert stored is not None
        assert (stored["state"], stored["retries"], stored["body"], stored["attributes"]) == (
            "dead",
            0,
            first.body,
            {"origin": "test"},
        )
        assert [event["event"] for event in stored["history"]] == ["dead_lettered"]
        assert nonzero(tasks.counters(None)) == {
            "total": 1,
            "t:flag_exposure_worker": 1,
            "e:KeyError": 1,
            "p:flag_exposure_worker|KeyError": 1,
            "s:dead": 1,
        }
        assert nonzero(tasks.counters("t-acme")) == nonzero(tasks.counters(None))
        assert nonzero(tasks.counters("t-other")) == {}

    def test_a_retried_task_that_fails_again_comes_back_with_its_history(self, tasks: TaskStorePort) -> None:
        tasks.admit(draft(1))
        stored = tasks.get(draft(1).task_id)
        assert stored is not None
        assert tasks.mark_queued(stored, "operator:op-1", T0 + timedelta(hours=1))
        assert nonzero(tasks.counters(None))["s:queued"] == 1

        # the same work dead-lettered again, as another letter, failing otherwise
        assert tasks.admit(draft(1, letter="letter-1-again", error="ValueError")) == "returned"

        back = tasks.get(draft(1).task_id)
        assert back is not None
        assert (back["state"], back["retries"], back["exception_type"]) == ("dead", 1, "ValueError")
        assert [(e["event"], e.get("by")) for e in back["history"]] == [
            ("dead_lettered", None),
            ("retried", "operator:op-1"),
            ("failed_again", None),
        ]
        assert nonzero(tasks.counters(None)) == {
            "total": 1,
            "t:flag_exposure_worker": 1,
            "e:ValueError": 1,
            "p:flag_exposure_worker|ValueError": 1,
            "s:dead": 1,
        }

    def test_a_change_from_a_stale_read_is_refused_and_writes_nothing(self, tasks: TaskStorePort) -> None:
        tasks.admit(draft(1))
        read = tasks.get(draft(1).task_id)
        assert read is not None
        assert tasks.mark_queued(read, "admin:u-1", T0)
        assert not tasks.remove(read)  # read while dead, now queued
        assert not tasks.mark_queued(read, "admin:u-2", T0)
        assert tasks.get(draft(1).task_id) is not None
        assert tasks.resolve(draft(1).task_id)
        assert not tasks.resolve(draft(1).task_id)
        assert tasks.get(draft(1).task_id) is None
        assert nonzero(tasks.counters(None)) == {}
        assert nonzero(tasks.counters("t-acme")) == {}
        assert tasks.oldest(None) is None

    def test_lists_are_oldest_first_scoped_filtered_and_paged(self, tasks: TaskStorePort) -> None:
        for n, tenant, error in ((3, "t-acme", "KeyError"), (1, None, "KeyError"), (2, "t-acme", "ValueError")):
            tasks.admit(draft(n, tenant=tenant, error=error))
        tasks.admit(draft(4, tenant="t-other"))
        now = T0 + timedelta(hours=2)

        everything = [t["task_id"] for t in tasks.matching(None, EVERYTHING, now)]
        assert everything == sorted(everything) and len(everything) == 4
        assert [t["task_id"] for t in tasks.matching("t-acme", EVERYTHING, now)] == [
            draft(2).task_id,
            draft(3).task_id,
        ]
        assert tasks.oldest(None) == draft(1).task_id and tasks.oldest("t-acme") == draft(2).task_id
        keys = TaskFilter(exception_type="KeyError")
        assert [t["task_id"] for t in tasks.matching("t-acme", keys, now)] == [draft(3).task_id]
        assert tasks.count(None, keys, now) == 3
        assert tasks.count("t-acme", TaskFilter(task_name="flag_exposure_worker", exception_type="KeyError"), now) == 1
        # first sent 1-4 minutes after T0: "older than 1.96 hours" at T0 + 2 h is first sent before T0 + 2.4 min
        aged = TaskFilter(older_than_hours=1.96)
        assert [t["task_id"] for t in tasks.matching(None, aged, now)] == [draft(1).task_id, draft(2).task_id]
        assert tasks.count(None, aged, now) == 2
        assert tasks.count(None, TaskFilter(state="queued"), now) == 0

        seen: list[str] = []
        cursor = None
        while True:
            items, cursor = tasks.page(None, EVERYTHING, now, limit=3, cursor=cursor)
            seen += [t["task_id"] for t in items]
            if cursor is None:
                break
        assert seen == everything
