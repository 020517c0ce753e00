"""Cursors and entity tags: opaque, bound to their list, refused when forged."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firstmile.http import problems as p
from firstmile.http.pagination import decode_cursor, encode_cursor
from firstmile.http.versioning import etag_for, parse_if_match
from firstmile.platform.errors import VersionConflictError
from firstmile.platform.versioned import retry_on_conflict

keys = st.dictionaries(st.sampled_from(["pk", "sk", "gsi1pk", "gsi1sk"]), st.text(max_size=40), min_size=1)


@given(keys, st.text(min_size=1, max_size=40))
def test_a_cursor_decodes_to_the_key_it_was_made_from(key, partition) -> None:  # type: ignore[no-untyped-def]
    assert decode_cursor(encode_cursor(key, partition), partition) == key


def test_the_end_of_a_list_has_no_cursor() -> None:
    assert encode_cursor(None, "p") is None
    assert encode_cursor({}, "p") is None
    assert decode_cursor(None, "p") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"p": "TENANT#a", "k": {"pk": {"S": "x"}}}).encode()).decode(),
        "A" * 5000,
    ],
)
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(p.Problem) as refused:
        decode_cursor(cursor, "TENANT#a")
    assert refused.value.error is p.VAL_CURSOR_INVALID


def test_a_cursor_from_another_tenants_list_is_refused() -> None:
    cursor = encode_cursor({"pk": "TENANT#b", "sk": "ITEM#9"}, "TENANT#b")

    with pytest.raises(p.Problem):
        decode_cursor(cursor, "TENANT#a")


def test_a_forged_start_key_outside_the_listed_partition_is_refused() -> None:
    # Given a cursor with the right scope but a start key in another tenant's partition
    forged = encode_cursor({"pk": "TENANT#b#AUDIT", "sk": "ENTRY#9"}, "TENANT#a#AUDIT")

    # When it is decoded for tenant a's list, then it is refused; an honest one is not
    with pytest.raises(p.Problem):
        decode_cursor(forged, "TENANT#a#AUDIT", key_partition="TENANT#a#AUDIT")
    honest = encode_cursor({"pk": "TENANT#a#AUDIT", "sk": "ENTRY#9"}, "TENANT#a#AUDIT")
    assert decode_cursor(honest, "TENANT#a#AUDIT", key_partition="TENANT#a#AUDIT") == {
        "pk": "TENANT#a#AUDIT",
        "sk": "ENTRY#9",
    }


@given(st.integers(min_value=0, max_value=10**12))
def test_if_match_reads_back_the_etag(version: int) -> None:
    assert parse_if_match(etag_for(version)) == version
    assert parse_if_match("W/" + etag_for(version)) == version


@pytest.mark.parametrize("value", [None, "", "*"])
def test_no_precondition_means_any_version(value) -> None:  # type: ignore[no-untyped-def]
    assert parse_if_match(value) is None


@pytest.mark.parametrize("value", ['"3"', "v3", '"v-1"', '"vabc"', '"v3", "v4"'])
def test_malformed_if_match_is_refused_not_ignored(value: str) -> None:
    with pytest.raises(p.Problem) as refused:
        parse_if_match(value)
    assert refused.value.error is p.VAL_IF_MATCH_INVALID


def test_retry_on_conflict_tries_again_until_it_wins() -> None:
    outcomes = iter([VersionConflictError(None, 1), VersionConflictError(None, 2), "written"])
    slept: list[float] = []

    def attempt() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry_on_conflict(attempt, sleep=slept.append) == "written"
    assert len(slept) == 2


def test_retry_on_conflict_gives_up_after_its_attempts() -> None:
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        raise VersionConflictError({"version": calls}, calls)

    with pytest.raises(VersionConflictError):
        retry_on_conflict(attempt, attempts=3, sleep=lambda _: None)
    assert calls == 3
