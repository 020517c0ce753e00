"""The whole local stack, assembled from one catalogue: emulator, resources, runtime, scheduler, pollers, gateway."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from firstmile.platform.resources import SCHEDULER_DLQ, STREAM_FAILURES_QUEUE
from functions.catalog import CATALOG, Function, Queue, TableStream
from local.config import PORT_ENV, LocalConfig
from local.docs_page import render_docs_page
from local.emulator import Emulator, client
from local.environment import LocalEnvironment
from local.gateway import Gateway, GatewayApp, authorizer_of
from local.openapi import build_document
from local.pollers import QueuePoller, StreamPoller
from local.resources import Deployment, create_resources, deployment_for
from local.runtime import Runtime
from local.scheduler import Scheduler, sqs_dead_letter_sink
from local.seed import DemoCredentials, SeedError, can_seed, functions_to_warm, seed_demo

T = TypeVar("T")
log = logging.getLogger(__name__)


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
    ) -> None:
        self.config = config
        self.catalog = tuple(catalog)
        self.deployment: Deployment = deployment_for(self.catalog, config.stage)
        self._retry_delay = retry_delay_seconds
        self._poll_idle = poll_idle_seconds
        self._seed = seed
        self.emulator: Emulator | None = None
        self.gateway: Gateway | None = None
        self.runtime: Runtime | None = None
        self.scheduler: Scheduler | None = None
        self.pollers: list[QueuePoller | StreamPoller] = []
        self.queue_urls: dict[str, str] = {}
        # The demo tenant, clients and tokens (``local.seed``), or why they could not be made.
        self.demo: DemoCredentials | None = None
        self.seed_error: str | None = None

    def start(self) -> LocalStack:
        """Bind both ports first (a taken port fails before anything runs), start every part, then seed the demo.

        Seeding needs the whole stack (the rotation job runs in its instance, tokens are minted over the gateway),
        so it comes last; when it fails the stack keeps running and ``seed_error`` says why.
        """
        self.emulator = Emulator(self.config.aws_port).start()
        try:
            self.gateway = Gateway(self.config.host, self.config.port, env_var=PORT_ENV)
            endpoint = self.emulator.endpoint
            self.queue_urls = create_resources(self.deployment, endpoint)
            environment = LocalEnvironment(
                self.deployment,
                endpoint,
                self.queue_urls,
                self.config.cors_allow_origins,
                dynamodb_endpoint=self.emulator.dynamodb_endpoint,
            )
            self.runtime = Runtime(
                self.catalog,
                environment.for_function,
                max_instances=self.config.max_instances_per_function,
                idle_seconds=self.config.instance_idle_seconds,
            ).start()
            sqs = client("sqs", endpoint)
            self.scheduler = Scheduler(
                self.catalog,
                self.runtime,
                sqs_dead_letter_sink(sqs, self.queue_urls[SCHEDULER_DLQ]),
                stage=self.config.stage,
                retry_delay_seconds=self._retry_delay,
            ).start()
            self.pollers = self._pollers(endpoint, self.emulator.dynamodb_endpoint, self.queue_urls)
            for poller in self.pollers:
                poller.start()
            document = _once(lambda: build_document(self.catalog))
            self.gateway.serve(
                GatewayApp(
                    self.catalog,
                    self.runtime,
                    self.config.cors_allow_origins,
                    openapi=document,
                    docs_page=_once(lambda: render_docs_page(document())),
                )
            )
            if self._seed and can_seed(self.catalog):
                self._seed_demo()
        except BaseException:
            self.stop()
            raise
        return self

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
                        sqs=client("sqs", endpoint),
                        failures_queue_url=urls[STREAM_FAILURES_QUEUE],
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

    def stop(self) -> None:
        """Stop every part, newest first: no new requests, no new work, instances ended, emulator last."""
        if self.gateway is not None:
            self.gateway.stop()
        if self.scheduler is not None:
            self.scheduler.signal_stop()
        for poller in self.pollers:
            poller.signal_stop()
        if self.runtime is not None:
            self.runtime.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        for poller in self.pollers:
            poller.stop()
        if self.emulator is not None:
            self.emulator.stop()
        self.gateway = self.scheduler = self.runtime = self.emulator = None
        self.pollers = []


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
