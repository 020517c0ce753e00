"""Codes live in ``firstmile.errors``; their statuses and titles in the HTTP layer's one table. The two agree."""

from __future__ import annotations

import re

import pytest

from firstmile import errors as e
from firstmile.http import problems as p

CODE_NAME = re.compile(r"^(?:AUTH|PERM|VAL|RES|RATE|BIZ|EXT|SYS)_[A-Z0-9_]+$")


def declared_codes() -> dict[str, object]:
    return {name: value for name, value in vars(e).items() if CODE_NAME.match(name)}


def test_every_declared_code_is_a_string_equal_to_its_name() -> None:
    declared = declared_codes()

    assert len(declared) > 50
    assert {name: value for name, value in declared.items() if value != name} == {}
    assert set(declared) == e.ALL_CODES


def test_every_code_has_a_row_in_the_table_and_every_row_names_a_code() -> None:
    # Given the codes of firstmile.errors and the rows of the HTTP layer's table
    codes, rows = e.ALL_CODES, set(p.TABLE)

    # Then neither has one the other lacks
    assert sorted(codes - rows) == [], "codes without a status and title"
    assert sorted(rows - codes) == [], "rows naming no code of firstmile.errors"


def test_every_row_is_registered_and_its_status_fits_the_codes_family() -> None:
    for code, (status, title) in p.TABLE.items():
        assert p.CODES[code] == p.ErrorCode(code, status, title)


def test_a_code_missing_from_the_table_answers_an_internal_error_rather_than_crashing() -> None:
    # Given a domain error whose code has no row (what the tests above prevent)
    problem = p.problem_for(e.DomainError("BIZ_NOT_IN_THE_TABLE", "nobody registered this"))

    # Then it is still answered, as the internal error it is, without the detail meant for another status
    assert problem.error == p.CODES[e.SYS_INTERNAL]
    assert "nobody" not in problem.detail


@pytest.mark.parametrize(
    ("error", "status", "headers"),
    [
        (e.NotFoundError("client c-1", code=e.RES_CLIENT_NOT_FOUND), 404, {}),
        (e.VersionConflictError({"v": 1}, 4), 409, {"ETag": '"v4"'}),
        (e.VersionConflictError(None, None), 409, {}),
        (e.ItemRefusedError("item_size", "too big"), 413, {}),
        (e.ItemRefusedError("number", "not a number"), 422, {}),
        (e.DomainError(e.SYS_UNAVAILABLE, "later", retry_after_seconds=5), 503, {"Retry-After": "5"}),
    ],
)
def test_the_platforms_errors_map_to_their_status_and_headers(
    error: e.DomainError, status: int, headers: dict[str, str]
) -> None:
    problem = p.problem_for(error)

    assert (problem.error.status, problem.headers) == (status, headers)
    assert problem.document("r")["detail"] == error.detail


def test_a_conflict_without_a_visible_state_says_nothing_of_it() -> None:
    assert "current" not in p.problem_for(e.VersionConflictError(None, 3)).document("r")
