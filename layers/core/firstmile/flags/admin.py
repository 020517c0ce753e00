"""A tenant's flags as its admins manage them: list, read, create, update, archive, history and rollback.

Every change is checked against the tenant's whole set (``logic.validate_flag_set``: no prerequisite cycles, no
references to missing flags, variants or segments), makes a new version with its diff, and leaves an audit entry
written in the same transaction as the change (the store's ``event``). A change needs the version it was made on
(``If-Match``, or the body's ``version``): two admins never overwrite each other silently.
"""

from __future__ import annotations

from firstmile import errors as e
from firstmile.audit.events import action_event
from firstmile.clock import Clock, utc_now
from firstmile.flags import logic
from firstmile.flags.history import MAX_KILL_SWITCH_CHANGES, FlagHistoryPage
from firstmile.flags.models import Flag, FlagSet
from firstmile.flags.ports import FlagStorePort
from firstmile.flags.shapes import FlagKillSwitch, FlagView, KillSwitchEvent, KillSwitchState
from firstmile.flags.store import FlagExistsError
from firstmile.platform.cursors import Page
from firstmile.platform.versioned import change_version


def existing_flag(store: FlagStorePort, tenant: str, key: str) -> Flag:
    """The flag as stored now; RES_FLAG_NOT_FOUND when the tenant has none by that key."""
    flag = store.get_flag(tenant, key)
    if flag is None:
        raise e.DomainError(e.RES_FLAG_NOT_FOUND, f"The tenant has no flag {key!r}.")
    return flag


class FlagAdmin:
    """The use cases of a tenant's flag admins."""

    def __init__(self, store: FlagStorePort, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def list_flags(self, tenant: str, *, limit: int, cursor: str | None) -> Page[FlagView]:
        """One page of the tenant's flags, each with whether the kill switch holds it off now."""
        page = self._store.list_flags(tenant, limit=limit, cursor=cursor)
        killed = self._store.kill_switch_state(tenant)
        return Page[FlagView](items=[_view(f, killed) for f in page.items], next_cursor=page.next_cursor)

    def get_flag(self, tenant: str, key: str) -> Flag:
        """The flag (RES_FLAG_NOT_FOUND when absent)."""
        return existing_flag(self._store, tenant, key)

    def flag_view(self, tenant: str, key: str) -> FlagView:
        """The flag, whether the kill switch holds it off now, and the newest kill or revival that concerned it."""
        flag = self.get_flag(tenant, key)
        changes = self._store.kill_switch_changes(tenant, key, limit=1)
        return _view(flag, self._store.kill_switch_state(tenant), changes[0] if changes else None)

    def create_flag(self, tenant: str, flag: Flag, actor: str) -> Flag:
        """Store a new flag as version 1 (RES_FLAG_EXISTS when the key is taken, archived flags included)."""
        self._validate(tenant, flag)
        event = action_event(tenant, actor, "flag.created", f"flag:{flag.key}", version=1)
        try:
            stored = self._store.create_flag(tenant, flag, actor, self._clock(), event=event)
        except FlagExistsError as exc:
            raise e.DomainError(
                e.RES_FLAG_EXISTS,
                f"The tenant already has a flag {flag.key!r}; change it with PUT and its ETag.",
                extensions={"current": exc.current},
            ) from None
        return stored

    def update_flag(self, tenant: str, key: str, flag: Flag, expected: int | None, actor: str) -> Flag:
        """Replace the flag with ``flag`` as a new version, if ``expected`` is still its version."""
        if flag.key != key:
            raise e.DomainError(e.VAL_FLAG_KEY_MISMATCH, f"The body describes flag {flag.key!r}, the path {key!r}.")
        expected = change_version(expected, flag, "flag")
        self._validate(tenant, flag)
        return self._replace(tenant, flag, expected, actor, "flag.updated")

    def archive_flag(self, tenant: str, key: str, expected: int | None, actor: str) -> Flag:
        """Archive the flag (it serves its off value, evaluate-all leaves it out): a new version."""
        current = self.get_flag(tenant, key)
        expected = change_version(expected, None, "flag")
        archived = current.model_copy(update={"archived": True})
        self._validate(tenant, archived)
        return self._replace(tenant, archived, expected, actor, "flag.archived")

    def history(self, tenant: str, key: str, *, limit: int, cursor: str | None) -> FlagHistoryPage:
        """The flag's versions, newest first, and the newest kill-switch changes that concerned it."""
        self.get_flag(tenant, key)
        page = self._store.history(tenant, key, limit=limit, cursor=cursor)
        changes = self._store.kill_switch_changes(tenant, key, limit=MAX_KILL_SWITCH_CHANGES)
        return FlagHistoryPage(items=page.items, next_cursor=page.next_cursor, kill_switch_changes=changes)

    def rollback(self, tenant: str, key: str, version: int, expected: int | None, actor: str) -> Flag:
        """Make the flag as it was at ``version`` again, as a new version (history keeps everything)."""
        self.get_flag(tenant, key)
        expected = change_version(expected, None, "flag")
        entry = self._store.get_history_version(tenant, key, version)
        if entry is None:
            raise e.DomainError(e.RES_FLAG_VERSION_NOT_FOUND, f"Flag {key!r} has no version {version}.")
        self._validate(tenant, entry.flag)
        return self._replace(tenant, entry.flag, expected, actor, "flag.rolled_back", restored_version=version)

    def _validate(self, tenant: str, flag: Flag) -> None:
        """Refuse ``flag`` if the tenant's set with it could not be evaluated (reads the whole set)."""
        current = self._store.load(tenant)
        logic.validate_flag_set(
            FlagSet(
                tenant=tenant,
                version=current.version,
                flags={**current.flags, flag.key: flag},
                segments=current.segments,
            )
        )

    def _replace(self, tenant: str, flag: Flag, expected: int, actor: str, action: str, **details: object) -> Flag:
        """Store ``flag`` as the version after ``expected``, with its audit entry (``action``, the new version and
        ``details``) in the same transaction."""
        event = action_event(tenant, actor, action, f"flag:{flag.key}", version=expected + 1, **details)
        try:
            return self._store.replace_flag(tenant, flag, expected, actor, self._clock(), event=event)
        except e.NotFoundError:
            raise e.DomainError(e.RES_FLAG_NOT_FOUND, f"The tenant has no flag {flag.key!r}.") from None


def _view(flag: Flag, killed: KillSwitchState, last_change: KillSwitchEvent | None = None) -> FlagView:
    """``flag`` with the kill-switch targets in force that hold it off."""
    by = [f"flag:{flag.key}"] if flag.key in killed.flags else []
    by += [f"tag:{tag}" for tag in flag.tags if tag in killed.tags]
    by += ["all"] if killed.all else []
    state = FlagKillSwitch(killed=bool(by), killed_by=by, last_change=last_change)
    return FlagView.model_validate({**flag.model_dump(), "kill_switch": state})
