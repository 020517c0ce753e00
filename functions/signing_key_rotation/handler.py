"""Hourly: advance the signing keys (publish ahead, promote, retire after the longest token lifetime)."""

import time
from typing import Any

from firstmile import entrypoints
from firstmile.identity.keystore import rotate_signing_keys
from firstmile.identity.runtime import identity_store, rotation_policy, signing_key_store


def rotate(event: dict[str, Any]) -> dict[str, Any]:
    events = rotate_signing_keys(
        signing_key_store(),
        identity_store(),
        now=time.time(),
        policy=rotation_policy(),
        rotate_now=bool((event or {}).get("rotate_now", False)),
    )
    return {"events": [{"kid": e.kid, "event": e.event} for e in events]}


lambda_handler = entrypoints.job(rotate)
