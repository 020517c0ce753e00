"""The user journeys Firstmile's load profiles send (issue 15; run by ``bench/load/run.py``, never alone).

Each simulated user is a person onboarding: a session from the tenant's API client (``token``), their onboarding
status (``status``, the first of which names the step they take), a step completed (``step``), the flags evaluated
for them (``evaluate``); now and then an admin reads the flow's funnel (``funnel``). A user who completed their step
starts over as a new person, with a new session. The profile (``FIRSTMILE_LOAD_PROFILE``: smoke, load, stress,
spike) sets how many users, when.

The target and credentials come from the environment ``run.py`` sets: ``FIRSTMILE_LOAD_CLIENTS`` (API clients of
the tenant, ``id:secret`` each, comma-separated: a client may start 60 sessions a minute),
``FIRSTMILE_LOAD_ADMIN_TOKEN`` and ``FIRSTMILE_LOAD_FLOW`` (the flow the funnel reads).
"""

from __future__ import annotations

import base64
import itertools
import os
import uuid
from typing import Any

from locust import HttpUser, LoadTestShape, between, task

CLIENTS = [c for c in os.environ.get("FIRSTMILE_LOAD_CLIENTS", "").split(",") if c]
ADMIN_TOKEN = os.environ.get("FIRSTMILE_LOAD_ADMIN_TOKEN", "")
FLOW = os.environ.get("FIRSTMILE_LOAD_FLOW", "getting-started")
_clients = itertools.cycle(base64.b64encode(c.encode()).decode() for c in CLIENTS or ["-:-"])

# (seconds from the start, users, users started per second): the last stage's time ends the run.
PROFILES: dict[str, tuple[tuple[float, int, float], ...]] = {
    "smoke": ((float(os.environ.get("FIRSTMILE_LOAD_SECONDS", "20")), 2, 2.0),),
    "load": ((30.0, 20, 1.0), (210.0, 20, 1.0)),
    "stress": ((30.0, 10, 2.0), (60.0, 20, 2.0), (90.0, 40, 4.0), (120.0, 60, 4.0), (150.0, 80, 4.0)),
    "spike": ((60.0, 5, 5.0), (90.0, 60, 60.0), (150.0, 5, 60.0)),
}


class Person(HttpUser):
    """Someone onboarding, and now and then an admin looking at the funnel."""

    wait_time = between(0.2, 0.6)

    def on_start(self) -> None:
        self._start_over()

    def _start_over(self) -> None:
        self.token = ""
        self.stepped = False
        self.next_step: str | None = None
        user = f"load-{uuid.uuid4().hex[:12]}"
        body = {"grant_type": "client_credentials", "user_id": user, "roles": ["user"], "attributes": {"plan": "pro"}}
        headers = {"Authorization": f"Basic {next(_clients)}"}
        with self.client.post("/v1/auth/token", json=body, headers=headers, name="token", catch_response=True) as r:
            if r.status_code == 200:
                self.token = r.json()["access_token"]
            else:
                r.failure(f"{r.status_code}")
                return
        # The person's first look at their onboarding names the step they take: the tenant's default flow, whatever
        # it is (a step completed by a milestone, not by the user, is left for later).
        with self.client.get("/v1/onboarding/status", headers=self._as_user(), name="status", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}")
                return
            steps = r.json().get("steps") or []
        self.next_step = next(
            (s["id"] for s in steps if s.get("kind") != "milestone" and s.get("state") not in ("completed", "skipped")),
            None,
        )

    def _as_user(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _without_session(self) -> bool:
        """A person whose session was refused (its failure counted) asks for one again instead of calling."""
        if not self.token:
            self._start_over()
        return not self.token

    @task(5)
    def status(self) -> None:
        if self._without_session():
            return
        self.client.get("/v1/onboarding/status", headers=self._as_user(), name="status")

    @task(3)
    def step(self) -> None:
        if self.stepped or self.next_step is None:
            self._start_over()
        if self._without_session() or self.next_step is None:
            return
        body: dict[str, Any] = {"step_id": self.next_step, "action": "complete"}
        self.client.post("/v1/onboarding/step", json=body, headers=self._as_user(), name="step")
        self.stepped = True

    @task(4)
    def evaluate(self) -> None:
        if self._without_session():
            return
        self.client.post("/v1/flags/evaluate", json={}, headers=self._as_user(), name="evaluate")

    @task(1)
    def funnel(self) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.client.get(f"/v1/onboarding/analytics/funnel?flow={FLOW}", headers=headers, name="funnel")


class Profile(LoadTestShape):
    """The stages of ``FIRSTMILE_LOAD_PROFILE``."""

    def tick(self) -> tuple[int, float] | None:
        stages = PROFILES[os.environ.get("FIRSTMILE_LOAD_PROFILE", "smoke")]
        elapsed = self.get_run_time()
        for ends, users, rate in stages:
            if elapsed < ends:
                return users, rate
        return None
