"""Where a user's consent is kept: under the user's partition, so erasing the user erases it (decision 0081).

Key formats (docs/data-model.md, rows 51-52), ``pk = TENANT#<t>#USER#<u>``:
- the current choices: ``sk = CONSENT#STATE`` (``kind = consent_state``): ``purposes``, ``cookies`` (each choice with
  its time, policy version and source), ``version``, ``updated_at``;
- each choice as made: ``sk = CONSENT#RECORD#<at ISO-8601>#<state version:010d>#<n:02d>``
  (``kind = consent_record``, immutable).

Every change copies the accepted policy versions (decision 0082) onto the user's onboarding progress, and a choice
about analytics sets ``analytics_opt_out`` there too, moving the progress's version on in the same transaction: a
progress change that read the progress before races it and loses its condition, reads again and keeps the marks. A
user not enrolled yet has no progress: the transaction then checks it is still absent, and the enrolment's
transaction checks that the consent is still as it read it (``enrolment``), so a withdrawal and an enrolment at the
same moment never lose the marker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firstmile.identifiers import user_partition
from firstmile.onboarding.ports import EnrolmentConsent
from firstmile.onboarding.store import progress_key
from firstmile.platform.gateway import TableGateway, applied, partition
from firstmile.platform.items import plain, storable, stored_fields, without_keys
from firstmile.privacy.objections import CONSENT_STATE_SK, exercised

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from firstmile.privacy.consent import ConsentRecord, ConsentState

_STATE_SK = CONSENT_STATE_SK
_RECORD_PREFIX = "CONSENT#RECORD#"


def _state_key(tenant: str, user: str) -> dict[str, str]:
    return {"pk": user_partition(tenant, user), "sk": _STATE_SK}


def _version_condition(read: int) -> dict[str, Any]:
    """The state is still at the version read (absent for 0)."""
    if read == 0:
        return {"condition": "attribute_not_exists(pk)"}
    return {"condition": "#v = :read", "names": {"#v": "version"}, "values": {":read": read}}


class ConsentStore:
    """Users' consent: the current choices, the history of choices, and the analytics marker on their progress."""

    def __init__(self, table: Table | TableGateway) -> None:
        self._table = TableGateway.of(table)

    def get(self, tenant: str, user: str) -> ConsentState:
        """The user's current choices (version 0 when none is recorded): one consistent GetItem."""
        from firstmile.privacy.consent import ConsentState

        item = self._table.get(_state_key(tenant, user))
        if item is None:
            return ConsentState()
        return ConsentState.model_validate({k: plain(item[k]) for k in ConsentState.model_fields if k in item})

    def history(self, tenant: str, user: str, *, limit: int) -> list[ConsentRecord]:
        """The user's newest ``limit`` choices, newest first: one Query."""
        from firstmile.privacy.consent import ConsentRecord

        page = self._table.query(
            partition(user_partition(tenant, user)).begins_with(_RECORD_PREFIX),
            limit=limit,
            newest_first=True,
            consistent=True,
        )
        return [ConsentRecord.model_validate(plain(without_keys(item))) for item in page.items]

    def write(
        self,
        tenant: str,
        user: str,
        state: ConsentState,
        records: list[ConsentRecord],
        *,
        analytics_opt_out: bool | None = None,
        restricted: bool | None = None,
    ) -> bool:
        """Store ``state`` (if the stored one is at ``state.version - 1``) and ``records``, and copy the accepted
        policy versions (and ``analytics_opt_out``, ``restricted`` when given) onto the user's progress in the same
        transaction, or check the progress is still absent. ``False``, writing nothing, when a condition failed:
        another change came first."""
        user_pk = user_partition(tenant, user)
        actions = [
            self._table.put_action(
                {**_state_key(tenant, user), "kind": "consent_state", **stored_fields(state)},
                **_version_condition(state.version - 1),
            )
        ]
        for n, record in enumerate(records):
            item = {
                "pk": user_pk,
                "sk": f"{_RECORD_PREFIX}{record.at.isoformat()}#{state.version:010d}#{n:02d}",
                "kind": "consent_record",
                **storable(record.model_dump(mode="json")),
            }
            actions.append(self._table.put_new_action(item))
        actions.append(self._progress_marks(tenant, user, state.accepted, analytics_opt_out, restricted))
        return applied(self._table.transact(actions), f"the consent of a user of tenant {tenant}")

    def enrolment(self, tenant: str, user: str) -> EnrolmentConsent:
        """``ConsentLookup`` for onboarding: whether the user is out of analytics, the policy versions they accepted,
        and a ConditionCheck that their consent is still at the version read, for the enrolment's transaction."""
        # Read as stored, without the consent models: an enrolment is on the status path, which loads as little as
        # it can (decision 0045).
        item = self._table.get(_state_key(tenant, user)) or {}
        analytics = (item.get("purposes") or {}).get("analytics") or {}
        objected, restricted = exercised(item, "object"), exercised(item, "restrict_processing")
        accepted = {str(k): str(v) for k, v in (item.get("accepted") or {}).items()}
        check = self._table.check_action(_state_key(tenant, user), **_version_condition(int(item.get("version", 0))))
        return EnrolmentConsent(analytics.get("granted") is False or objected, accepted, check, restricted)

    def _progress_marks(
        self, tenant: str, user: str, accepted: dict[str, str], opted_out: bool | None, restricted: bool | None
    ) -> dict[str, Any]:
        """The progress's accepted versions (and analytics marker) set, its version moved on, if it exists; else a
        check that it still does not."""
        key = progress_key(tenant, user)
        if self._table.get(key, projection="pk") is None:
            return self._table.check_action(key, condition="attribute_not_exists(pk)")
        names = {"#ap": "accepted_policies", "#v": "version"}
        values: dict[str, Any] = {":ap": storable(accepted), ":one": 1}
        assignments = "#ap = :ap"
        if opted_out is not None:
            names["#o"], values[":o"] = "analytics_opt_out", opted_out
            assignments += ", #o = :o"
        if restricted is not None:
            names["#r"], values[":r"] = "restricted", restricted
            assignments += ", #r = :r"
        return self._table.update_action(
            key, f"SET {assignments} ADD #v :one", condition="attribute_exists(pk)", names=names, values=values
        )
