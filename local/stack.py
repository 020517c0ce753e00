"""The whole local stack, assembled from one catalogue: emulator, resources, runtime, scheduler, pollers, gateway."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from firstmile.platform.resources import SCHEDULER_DLQ, STREAM_FAILURES_BUCKET
from functions.catalog import CATALOG, Function, LogSubscription, Queue, TableStream
from local.config import AWS_PORT_ENV, PORT_ENV, LocalConfig
from local.demo_users import can_walk, walk_demo_users
from local.docs_page import render_docs_page
from local.emulator import Emulator, client
from local.environment import LocalEnvironment
from local.gateway import SYS_SEED_FAILED, Gateway, GatewayApp, authorizer_of
from local.invocations import AsyncInvoker
from local.log_subscriptions import LogSubscriptions
from local.openapi import build_document
from local.pollers import QueuePoller, StreamPoller
from local.resources import Deployment, create_resources, deployment_for
from local.runtime import Runtime
from local.scheduler import Scheduler, sqs_dead_letter_sink
from local.seed import DemoCredentials, SeedError, can_seed, functions_to_warm, seed_demo
from local.tokens_file import API_URL, AWS_ENDPOINT, OUTBOX, running_stack_values, write_tokens_file

T = TypeVar("T")
log = logging.getLogger(__name__)
# What Ctrl-C promises: every part of the stack and every process it started ends within this (decision 0029).
STOP_BOUND_SECONDS = 4.0


class LocalStack:
    """Starts and stops everything ``firstmile dev`` runs; tests start it with their own catalogue."""

    def __init__(
        self,
        config: LocalConfig,
        catalog: Iterable[Function] = CATALOG,
        *,
        retry_delay_seconds: float = 1.0,
        poll_idle_seconds: float = 0.5,
        seed: bool = True,
        tokens_path: Path | None = None,
        output: int | None = None,
        outbox_path: Path | None = None,
    ) -> None:
        self.config = config
        self.catalog = tuple(catalog)
        self.deployment: Deployment = deployment_for(self.catalog, config.stage)
        self._retry_delay = retry_delay_seconds
        self._poll_idle = poll_idle_seconds
        self._seed = seed
        # The stack's record for shells and CLI commands (local.tokens_file); None: not written.
        self.tokens_path = tokens_path
        # Where function instances, the fork server and the table engine write (local.console); None: stderr.
        self._output = output
        # The outbox erasure codes are written to (one JSON line each): beside the tokens file, else a private
        # temporary directory of this stack.
        self.outbox_path = outbox_path or (
            tokens_path.parent / "outbox.jsonl"
            if tokens_path is not None
            else Path(tempfile.mkdtemp(prefix="firstmile-outbox-")) / "outbox.jsonl"
        )
        self.app: GatewayApp | None = None
        self.started_in: float | None = None
        self.emulator: Emulator | None = None
        self.gateway: Gateway | None = None
        self.runtime: Runtime | None = None
        self.scheduler: Scheduler | None = None
        self.invoker: AsyncInvoker | None = None
        self.log_subscriptions: LogSubscriptions | None = None
        self.pollers: list[QueuePoller | StreamPoller] = []
        self.queue_urls: dict[str, str] = {}
        # The demo tenant, clients and tokens (``local.seed``), or why they could not be made.
        self.demo: DemoCredentials | None = None
        self.seed_error: str | None = None

    def start(self) -> LocalStack:
        """Bind both ports first (a taken port fails before anything runs), start every part, seed the demo, write
        the tokens file, and only then let ``GET /health/ready`` through: the one signal that the stack is usable.

        Seeding needs the whole stack (the rotation job runs in its instance, tokens are minted over the gateway),
        so it comes last; when it fails the stack keeps running, ``seed_error`` says why, and ``/health/ready``
        answers ``503 SYS_SEED_FAILED`` naming it.
        """
        began = time.monotonic()
        self.emulator = Emulator(self.config.aws_port, output=self._output).start()
        try:
            self.gateway = Gateway(self.config.host, self.config.port, env_var=PORT_ENV)
            if self.tokens_path is not None:
                # Both ports are ours: a file left by an earlier run describes a stack that is gone.
                self.tokens_path.unlink(missing_ok=True)
            endpoint = self.emulator.endpoint
            self.queue_urls = create_resources(self.deployment, endpoint)
            # Messages of an earlier run were for a stack that is gone.
            self.outbox_path.parent.mkdir(parents=True, exist_ok=True)
            self.outbox_path.write_text("")
            environment = LocalEnvironment(
                self.deployment,
                endpoint,
                self.queue_urls,
                self.config.cors_allow_origins,
                dynamodb_endpoint=self.emulator.dynamodb_endpoint,
                outbox_path=str(self.outbox_path),
            )
            subscriber = next((f.name for f in self.catalog if isinstance(f.trigger, LogSubscription)), None)
            if subscriber is not None:
                # The functions' output passes through the log subscription (the request records), as in AWS.
                self.log_subscriptions = LogSubscriptions(
                    self._output, lambda event: self._invoke_later(subscriber, event), subscriber=subscriber
                ).start()
            self.runtime = Runtime(
                self.catalog,
                environment.for_function,
                max_instances=self.config.max_instances_per_function,
                idle_seconds=self.config.instance_idle_seconds,
                start_method=self.config.instance_start,
                output=self.log_subscriptions.write_end if self.log_subscriptions else self._output,
            ).start()
            sqs = client("sqs", endpoint)
            invocation_failures = sqs_dead_letter_sink(sqs, self.queue_urls[SCHEDULER_DLQ])
            self.scheduler = Scheduler(
                self.catalog,
                self.runtime,
                invocation_failures,
                stage=self.config.stage,
                retry_delay_seconds=self._retry_delay,
            ).start()
            # Lambda's asynchronous Invoke on the emulator's endpoint (a dead-letter task's retry), failing into the
            # same invocation dead-letter queue.
            names = {f.name for f in self.catalog}
            self.invoker = AsyncInvoker(
                self.runtime, invocation_failures, retry_delay_seconds=self._retry_delay, known=names.__contains__
            )
            self.emulator.serve_invocations(self.invoker)
            self.pollers = self._pollers(endpoint, self.emulator.dynamodb_endpoint, self.queue_urls)
            for poller in self.pollers:
                poller.start()
            document = _once(lambda: build_document(self.catalog))
            self.app = GatewayApp(
                self.catalog,
                self.runtime,
                self.config.cors_allow_origins,
                openapi=document,
                docs_page=_once(lambda: render_docs_page(document())),
                access_records=self.log_subscriptions.access_record if self.log_subscriptions else None,
            )
            self.gateway.serve(self.app)
            if self._seed and can_seed(self.catalog):
                self._seed_demo()
            if self.tokens_path is not None:
                write_tokens_file(self.tokens_path, self.record(), notes=self._record_notes())
            if self.seed_error is not None:
                self.app.hold_readiness(SYS_SEED_FAILED, f"The demo data could not be seeded: {self.seed_error}")
            else:
                self.app.release_readiness()
                self._walk_demo_users()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _invoke_later(self, name: str, event: dict[str, Any]) -> None:
        if self.invoker is None:
            raise RuntimeError("the stack is not started")
        self.invoker.invoke_later(name, event)

    def record(self) -> dict[str, str]:
        """What the tokens file holds: where the stack listens, then the demo's credentials and tokens."""
        assert self.gateway is not None and self.emulator is not None  # noqa: S101 - only asked of a started stack
        values = {
            API_URL: self.api_url,
            PORT_ENV: str(self.gateway.port),
            AWS_PORT_ENV: str(self.emulator.port),
            AWS_ENDPOINT: self.aws_endpoint,
            OUTBOX: str(self.outbox_path),
        }
        if self.demo is not None:
            values |= self.demo.exports()
        return values

    def _record_notes(self) -> tuple[str, ...]:
        if self.demo is not None:
            return (
                "Access tokens live 15 minutes: `firstmile tokens` renews all three here, then source this file again.",
            )
        if self.seed_error is not None:
            return (f"No demo data: {self.seed_error}",)
        return ()

    @property
    def ready(self) -> bool:
        """Whether ``GET /health/ready`` reaches its function (the stack is started and its demo seeded)."""
        return self.app is not None and self.app.ready

    def _seed_demo(self) -> None:
        assert self.scheduler is not None and self.runtime is not None  # noqa: S101 - started just before
        try:
            self.demo = seed_demo(
                deployment=self.deployment,
                endpoint=self.aws_endpoint,
                api_url=self.api_url,
                scheduler=self.scheduler,
                runtime=self.runtime,
                warm=functions_to_warm(self.catalog, authorizer_of(self.catalog)),
            )
        except SeedError as exc:
            self.seed_error = str(exc)
            log.error("the demo data could not be seeded: %s", exc)
        except Exception as exc:  # a bug in seeding must not take the running stack down with it
            self.seed_error = f"{type(exc).__name__}: {exc}"
            log.exception("the demo data could not be seeded")

    def _walk_demo_users(self) -> None:
        """Once ready, walk the configured number of demo users through the demo flow in the background, so the
        analytics have something to show (``local.demo_users``); the console says when they are done."""
        demo = self.demo
        if demo is None or self.config.demo_users <= 0 or not can_walk(self.catalog):
            return
        users, api_url = self.config.demo_users, self.api_url

        def walk() -> None:
            log.warning("Demo users: walking %d through the demo flow over the last days, in the background", users)
            try:
                summary = walk_demo_users(api_url, demo.operator.access_token, users=users)
            except Exception:  # the stack runs on whatever happened to the demo users
                log.exception("the demo users could not be walked")
                return
            log.warning("%s", summary.line())
            for failure in summary.failures[:10]:
                log.error("demo user: %s", failure)

        threading.Thread(target=walk, name="demo-users", daemon=True).start()

    def _pollers(self, endpoint: str, table_endpoint: str, urls: dict[str, str]) -> list[QueuePoller | StreamPoller]:
        assert self.runtime is not None  # noqa: S101 - started just before
        pollers: list[QueuePoller | StreamPoller] = []
        for function in self.catalog:
            if isinstance(function.trigger, Queue):
                pollers.append(
                    QueuePoller(
                        function,
                        self.runtime,
                        client("sqs", endpoint),
                        urls[function.trigger.name],
                        idle_wait_seconds=self._poll_idle,
                    )
                )
            elif isinstance(function.trigger, TableStream):
                pollers.append(
                    StreamPoller(
                        function,
                        self.runtime,
                        dynamodb=client("dynamodb", table_endpoint),
                        streams=client("dynamodbstreams", table_endpoint),
                        table_name=self.deployment.table_name,
                        s3=client("s3", endpoint),
                        failures_bucket=self.deployment.bucket(STREAM_FAILURES_BUCKET),
                        idle_wait_seconds=self._poll_idle,
                        retry_delay_seconds=self._retry_delay,
                    )
                )
        return pollers

    @property
    def api_url(self) -> str:
        assert self.gateway is not None  # noqa: S101 - only asked of a started stack
        return f"http://{self.config.host}:{self.gateway.port}"

    @property
    def aws_endpoint(self) -> str:
        assert self.emulator is not None  # noqa: S101 - only asked of a started stack
        return self.emulator.endpoint

    def stop(self, bound_seconds: float = STOP_BOUND_SECONDS) -> None:
        """Stop every part within ``bound_seconds``, newest first: no new requests and no new work, then the
        instances and the fork server, the threads that fed them, and the emulator (moto, the table engine) last.

        The waits share the bound: a thread that has not finished by then is a daemon and ends with the process;
        every process the stack started is ended (killed when it lingers), so nothing outlives ``firstmile dev``.
        """
        began = time.monotonic()
        deadline = began + bound_seconds
        timings: list[str] = []

        def timed(what: str, step: Callable[[], object]) -> None:
            started = time.monotonic()
            try:
                step()
            except Exception:  # one part failing to stop must not keep the others running
                log.exception("stopping the %s failed", what)
            timings.append(f"{what} {time.monotonic() - started:.2f} s")

        api_url = self.api_url if self.gateway is not None else None
        gateway, scheduler, pollers = self.gateway, self.scheduler, self.pollers
        if scheduler is not None:
            scheduler.signal_stop()
        for poller in pollers:
            poller.signal_stop()
        # The gateway's loop notices a shutdown at its next poll; meanwhile everything else stops.
        closing = threading.Thread(target=gateway.stop, name="gateway-stop", daemon=True) if gateway else None
        if closing is not None:
            closing.start()
        if self.invoker is not None:
            self.invoker.stop(timeout=0)
        if self.runtime is not None:
            runtime = self.runtime
            timed("functions", lambda: runtime.stop(grace_seconds=min(1.0, _left(deadline) / 4)))
        if self.log_subscriptions is not None:
            subscriptions = self.log_subscriptions
            timed("log subscriptions", subscriptions.stop)
        if scheduler is not None:
            timed("scheduler", lambda: scheduler.stop(timeout=_left(deadline) / 3))
        if pollers:
            timed("pollers", lambda: [poller.stop(timeout=_left(deadline) / 3) for poller in pollers])
        if closing is not None:
            timed("gateway", lambda: closing.join(timeout=_left(deadline) / 2))
        if self.emulator is not None:
            emulator = self.emulator
            timed("emulator", lambda: emulator.stop(grace_seconds=max(0.5, _left(deadline) - 0.5)))
        self.gateway = self.scheduler = self.runtime = self.emulator = None
        self.invoker = None
        self.log_subscriptions = None
        self.pollers = []
        # Only this stack's own record: another stack may have written the file since.
        path = self.tokens_path
        if path is not None and api_url is not None and running_stack_values(path).get(API_URL) == api_url:
            path.unlink(missing_ok=True)
        log.info("stopped in %.2f s (%s)", time.monotonic() - began, ", ".join(timings))


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _once(make: Callable[[], T]) -> Callable[[], T]:
    """``make`` run on first use only, and at most once even when asked from several threads."""
    lock = threading.Lock()
    made: list[Any] = []

    def get() -> T:
        with lock:
            if not made:
                made.append(make())
            return made[0]  # type: ignore[no-any-return]

    return get
