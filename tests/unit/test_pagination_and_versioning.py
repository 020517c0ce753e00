"""Cursors and entity tags: opaque, bound to their list, refused when forged."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firstmile import errors as e
from firstmile.errors import VersionConflictError
from firstmile.http import problems as p
from firstmile.http.headers import etag_for
from firstmile.http.versioning import parse_if_match
from firstmile.platform.cursors import decode_cursor, encode_cursor
from firstmile.platform.versioned import ConflictRetry

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
    with pytest.raises(e.DomainError) as refused:
        decode_cursor(cursor, "TENANT#a")
    assert refused.value.code == e.VAL_CURSOR_INVALID


def test_a_cursor_from_another_tenants_list_is_refused() -> None:
    cursor = encode_cursor({"pk": "TENANT#b", "sk": "ITEM#9"}, "TENANT#b")

    with pytest.raises(e.DomainError):
        decode_cursor(cursor, "TENANT#a")


def test_a_forged_start_key_outside_the_listed_partition_is_refused() -> None:
    # Given a cursor with the right scope but a start key in another tenant's partition
    forged = encode_cursor({"pk": "TENANT#b#AUDIT", "sk": "ENTRY#9"}, "TENANT#a#AUDIT")

    # When it is decoded for tenant a's list, then it is refused; an honest one is not
    with pytest.raises(e.DomainError):
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


def test_conflict_retry_tries_again_until_it_wins() -> None:
    outcomes = iter([VersionConflictError(None, 1), VersionConflictError(None, 2), "written"])
    slept: list[float] = []

    def attempt() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert ConflictRetry(sleep=slept.append)(attempt) == "written"
    assert len(slept) == 2


def test_conflict_retry_gives_up_after_its_attempts() -> None:
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        raise VersionConflictError({"version": calls}, calls)

    with pytest.raises(VersionConflictError):
        ConflictRetry(attempts=3, sleep=lambda _: None)(attempt)
    assert calls == 3


def _refused(cursor: str, partition: str = "TENANT#a") -> bool:
    try:
        decode_cursor(cursor, partition, key_partition=partition)
    except e.DomainError as refusal:
        return refusal.code == e.VAL_CURSOR_INVALID
    return False


def test_a_hand_made_cursor_is_refused_even_when_it_names_the_right_list() -> None:
    # Given a cursor made by hand in the genuine shape, naming the caller's own list
    payload = base64.urlsafe_b64encode(json.dumps({"p": "TENANT#a", "k": {"pk": "TENANT#a", "sk": ""}}).encode())
    hand_made = payload.decode().rstrip("=")

    # Then it is refused, with or without a made-up signature
    assert _refused(hand_made)
    assert _refused(hand_made + ".AAAA")


@given(st.integers(min_value=0, max_value=200), st.sampled_from("AQgw_-"))
def test_any_altered_cursor_is_refused(position: int, replacement: str) -> None:
    # Given a genuine cursor of tenant a's list, with one character changed
    genuine = encode_cursor({"pk": "TENANT#a", "sk": "ITEM#0042"}, "TENANT#a")
    assert genuine is not None
    index = position % len(genuine)
    if genuine[index] == replacement or genuine[index] == ".":
        return
    altered = genuine[:index] + replacement + genuine[index + 1 :]

    # Then it is refused (only the unaltered one is accepted)
    assert _refused(altered)
    assert not _refused(genuine)


def test_a_cursor_signed_with_another_deployments_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from firstmile.config import reset_settings

    # Given a cursor signed under one cursor key
    monkeypatch.setenv("FIRSTMILE_CURSOR_KEY", "k" * 40)
    reset_settings()
    cursor = encode_cursor({"pk": "TENANT#a", "sk": "ITEM#1"}, "TENANT#a")
    assert cursor is not None and not _refused(cursor)

    # When the deployment's key is another one, then the cursor is refused
    monkeypatch.setenv("FIRSTMILE_CURSOR_KEY", "m" * 40)
    reset_settings()
    try:
        assert _refused(cursor)
    finally:
        monkeypatch.delenv("FIRSTMILE_CURSOR_KEY")
        reset_settings()
