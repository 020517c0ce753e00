"""Hourly: advance the signing keys (publish ahead, promote, retire after the longest token lifetime)."""

import time
from typing import Any

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.identity.keystore import rotate_signing_keys


def rotate(event: dict[str, Any]) -> dict[str, Any]:
    events = rotate_signing_keys(
        container().signing_key_store,
        container().identity_store,
        now=time.time(),
        policy=container().rotation_policy,
        rotate_now=bool((event or {}).get("rotate_now", False)),
    )
    return {"events": [{"kid": e.kid, "event": e.event} for e in events]}


lambda_handler = entrypoints.job(rotate)
