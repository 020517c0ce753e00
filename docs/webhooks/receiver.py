"""A webhook receiver for Firstmile's deliveries: verifies each with the Standard Webhooks reference library
(``pip install standardwebhooks``) and refuses a delivery it has seen before.

    WEBHOOK_SECRET=whsec_... python docs/webhooks/receiver.py 8088

Verification refuses a wrong or missing signature (an altered body, id or timestamp) and a timestamp more than five
minutes from this machine's clock (an old delivery replayed). A delivery replayed within those five minutes carries
an id this receiver has accepted: it is refused too. Deliveries are retried with the same id, so a receiver that
answered 2xx and lost nothing may also simply answer 2xx again; this one says 409 to make replays visible.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

TOLERANCE_SECONDS = 300


class Receiver:
    """Verifies deliveries and remembers the ids it accepted for as long as their timestamps stay acceptable."""

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def receive(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> tuple[int, str]:
        """The status to answer and why: 204 accepted, 400 not verified, 409 a replay."""
        now = time.time() if now is None else now
        try:
            event = self._webhook.verify(body, dict(headers))
        except WebhookVerificationError as error:
            return 400, f"refused: {error}"
        message_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        with self._lock:
            self._seen = {k: at for k, at in self._seen.items() if now - at <= 2 * TOLERANCE_SECONDS}
            if message_id in self._seen:
                return 409, f"refused: {message_id} was delivered before"
            self._seen[message_id] = now
        return 204, f"accepted {event.get('type', '?')} {message_id}"


def serve(port: int, secret: str) -> None:
    receiver = Receiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, reason = receiver.receive(dict(self.headers.items()), body)
            print(reason, json.loads(body) if status == 204 else "", flush=True)  # noqa: T201 - it is the demo
            self.send_response(status)
            self.end_headers()

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8088, os.environ["WEBHOOK_SECRET"])
