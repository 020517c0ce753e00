"""The composition root: every store, service, cache, queue, the audit log and the rate limiter of this deployment,
wired once per container.

``container()`` is the container's one ``Container``; each part is built on first use and kept for the container's
life (one flag-set cache, one cache of published flow versions, one verifier cache per container). A part's modules
are imported when it is first built, so a function loads what its requests use and nothing else (decision 0045:
cold start). Flags and onboarding meet only here, through each other's small protocols (``FlagGates``,
``FlowParticipants``). Tests call ``reset()`` to start from a new container, or set a part before it is first built.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from firstmile.config import get_settings
from firstmile.platform import aws

if TYPE_CHECKING:
    from firstmile.analytics.aggregation import FunnelAggregation
    from firstmile.analytics.alert_store import AlertRuleStore
    from firstmile.analytics.alerting import AlertRules
    from firstmile.analytics.archive import EventArchive
    from firstmile.analytics.reports import AnalyticsReports
    from firstmile.analytics.store import FunnelCounterStore
    from firstmile.audit.store import AuditStore
    from firstmile.backups.ports import ControlPlane
    from firstmile.backups.service import Backups, RestoreDrills
    from firstmile.failures.collector import Collector
    from firstmile.failures.service import DeadLetters
    from firstmile.failures.store import FailureStore
    from firstmile.failures.task_store import TaskStore
    from firstmile.flags.admin import FlagAdmin
    from firstmile.flags.cache import FlagSetCache
    from firstmile.flags.controls import FlagControls
    from firstmile.flags.erasure import FlagErasure
    from firstmile.flags.evaluation import FlagEvaluation
    from firstmile.flags.exposures import Exposures
    from firstmile.flags.rollouts import Rollouts
    from firstmile.flags.store import FlagStore
    from firstmile.health.store import ProbeResultStore
    from firstmile.identity.keys import RotationPolicy
    from firstmile.identity.keystore import SecretsManagerKeyStore
    from firstmile.identity.revocation import RevocationCache
    from firstmile.identity.sessions import SessionService
    from firstmile.identity.store import IdentityStore
    from firstmile.identity.tenancy import TenancyService
    from firstmile.identity.tokens import Verifier
    from firstmile.limits.logic import RateLimiter
    from firstmile.onboarding.flows import FlowAdmin
    from firstmile.onboarding.idle import IdleUsers
    from firstmile.onboarding.logic import FlagGate
    from firstmile.onboarding.migrations import Migrations
    from firstmile.onboarding.participants import RecentParticipants
    from firstmile.onboarding.ports import EnrolmentConsent
    from firstmile.onboarding.progress import ProgressService
    from firstmile.onboarding.samples import SampleUsers
    from firstmile.onboarding.store import OnboardingStore
    from firstmile.onboarding.versions import PublishedVersions
    from firstmile.platform.gateway import TableGateway
    from firstmile.platform.objects import BucketObjects
    from firstmile.privacy.consent_store import ConsentStore
    from firstmile.privacy.consents import Consents
    from firstmile.privacy.current import CurrentPolicyCache
    from firstmile.privacy.deadlines import PrivacyDeadlines
    from firstmile.privacy.notifier import Notifier
    from firstmile.privacy.policy_store import PolicyStore
    from firstmile.privacy.policy_versions import PolicyVersions
    from firstmile.privacy.processing import RequestProcessor
    from firstmile.privacy.request_store import RequestStore
    from firstmile.privacy.retention import RetentionJob
    from firstmile.privacy.rights import DataRights
    from firstmile.sla.reports import SlaReports
    from firstmile.sla.store import TallyStore
    from firstmile.webhooks.delivery import Sender
    from firstmile.webhooks.dispatch import Dispatcher
    from firstmile.webhooks.endpoints import WebhookEndpoints
    from firstmile.webhooks.store import WebhookStore


class Container:
    """One container's parts, each built on first use."""

    @cached_property
    def table(self) -> TableGateway:
        """The deployment's table, through the low-level client: no boto3 resource layer in a cold start."""
        from firstmile.platform.gateway import TableGateway

        return TableGateway.over_client(aws.dynamodb(), get_settings().table_name)

    # --- shared ---------------------------------------------------------------------------------------------

    @cached_property
    def audit_store(self) -> AuditStore:
        """The per-tenant audit chains, written in the transaction of each audited change."""
        from firstmile.audit.store import AuditStore

        return AuditStore(self.table)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        """Fixed-window limits with the deployment's overrides."""
        from firstmile.limits.logic import RateLimiter, rules_with_overrides
        from firstmile.limits.store import RateLimitStore

        return RateLimiter(RateLimitStore(self.table), rules=rules_with_overrides(get_settings().rate_limit_overrides))

    # --- health ---------------------------------------------------------------------------------------------

    @cached_property
    def probe_results(self) -> ProbeResultStore:
        """The synthetic probe's results, by day."""
        from firstmile.health.store import ProbeResultStore

        return ProbeResultStore(self.table)

    @cached_property
    def request_tallies(self) -> TallyStore:
        """Per-route tallies of answered requests and probe runs, by minute, hour and day (issue 15)."""
        from firstmile.sla.store import TallyStore

        return TallyStore(self.table)

    @cached_property
    def sla_reports(self) -> SlaReports:
        """Uptime, response times, error rate and the objectives' budgets, from the tallies."""
        from firstmile.sla.reports import SlaReports

        return SlaReports(self.request_tallies)

    # --- backups --------------------------------------------------------------------------------------------

    @cached_property
    def backup_control(self) -> ControlPlane:
        """DynamoDB's backup and restore API (emulated by the local stack)."""
        from firstmile.backups.control import DynamoDbControlPlane

        return DynamoDbControlPlane(aws.dynamodb_control())

    @cached_property
    def backups(self) -> Backups:
        """The table's backups: the daily one, the retention, on demand, freshness."""
        from firstmile.backups.service import Backups

        settings = get_settings()
        return Backups(self.backup_control, table=settings.table_name, stage=settings.stage)

    @cached_property
    def restore_drills(self) -> RestoreDrills:
        """The weekly restore drill, a step per run, its records in the table."""
        from firstmile.backups.service import RestoreDrills
        from firstmile.backups.store import DrillStoreOnTable

        settings = get_settings()
        return RestoreDrills(
            self.backup_control, DrillStoreOnTable(self.table), table=settings.table_name, stage=settings.stage
        )

    # --- identity -------------------------------------------------------------------------------------------

    @cached_property
    def identity_store(self) -> IdentityStore:
        """Tenants, clients, sessions and revocations."""
        from firstmile.identity.store import IdentityStore

        return IdentityStore(self.table, audit=self.audit_store)

    @cached_property
    def signing_key_store(self) -> SecretsManagerKeyStore:
        """The private signing keys in Secrets Manager."""
        from firstmile.identity.keystore import SecretsManagerKeyStore

        return SecretsManagerKeyStore(get_settings().signing_keys_secret)

    @cached_property
    def session_service(self) -> SessionService:
        """Mints, rotates and revokes sessions."""
        from firstmile.identity.keystore import SigningKeyProvider
        from firstmile.identity.sessions import SessionPolicy, SessionService

        provider = SigningKeyProvider(self.signing_key_store.load)
        return SessionService(
            self.identity_store,
            signing_key=provider.current,
            policy=SessionPolicy.from_settings(get_settings()),
            limiter=self.rate_limiter,
        )

    @cached_property
    def tenancy_service(self) -> TenancyService:
        """Creates tenants and API clients."""
        from firstmile.identity.tenancy import TenancyService

        return TenancyService(self.identity_store, secret_grace_seconds=get_settings().client_secret_grace_seconds)

    @cached_property
    def token_verifier(self) -> Verifier:
        """Verifies access tokens against the published keys (cached, bounded refetch on an unknown kid)."""
        from firstmile.identity.authorizer import verifier_for

        return verifier_for(get_settings(), self.identity_store)

    @cached_property
    def revocation_cache(self) -> RevocationCache:
        """Users' revocations, cached for the stated revocation bound."""
        from firstmile.identity.authorizer import revocations_for

        return revocations_for(get_settings(), self.identity_store)

    @property
    def rotation_policy(self) -> RotationPolicy:
        """When keys are published, promoted and retired (read from the settings each time)."""
        from firstmile.identity.keys import RotationPolicy

        return RotationPolicy.from_settings(get_settings())

    # --- onboarding -----------------------------------------------------------------------------------------

    @cached_property
    def onboarding_store(self) -> OnboardingStore:
        """Flows, versions, progress, events and migrations."""
        from firstmile.onboarding.store import OnboardingStore

        return OnboardingStore(
            self.table, event_retention_days=get_settings().onboarding_event_retention_days, audit=self.audit_store
        )

    @cached_property
    def published_versions(self) -> PublishedVersions:
        """The container's published flow versions (immutable, so cached for its life)."""
        from firstmile.onboarding.versions import PublishedVersions

        return PublishedVersions(self.onboarding_store)

    @cached_property
    def progress(self) -> ProgressService:
        """Users' own onboarding; gated steps ask the flag domain through ``FlagGates``."""
        from firstmile.onboarding.progress import ProgressService

        return ProgressService(
            self.onboarding_store,
            self.published_versions,
            gates=_FlagGates(self),
            consent=_ConsentLookup(self),
            policies=_PolicyLookup(self),
        )

    @cached_property
    def flows(self) -> FlowAdmin:
        """Flow admin: drafts, versions, publishing, the default flow, restarts."""
        from firstmile.onboarding.flows import FlowAdmin

        return FlowAdmin(self.onboarding_store, self.published_versions, gates=_FlagGates(self))

    @cached_property
    def migrations(self) -> Migrations:
        """Version migrations and the migration queue's consumer."""
        from firstmile.onboarding.migrations import Migrations
        from firstmile.platform.queues import JsonQueue
        from firstmile.platform.resources import ONBOARDING_MIGRATIONS_QUEUE

        return Migrations(
            self.onboarding_store,
            self.published_versions,
            JsonQueue(ONBOARDING_MIGRATIONS_QUEUE),
            dry_run_max_users=get_settings().migration_dry_run_max_users,
        )

    @cached_property
    def idle_users(self) -> IdleUsers:
        """The daily idle job, its queue's consumer, and each tenant's onboarding settings."""
        from firstmile.onboarding.idle import IdleUsers
        from firstmile.platform.queues import JsonQueue
        from firstmile.platform.resources import ONBOARDING_DROPS_QUEUE

        return IdleUsers(self.onboarding_store, self.published_versions, JsonQueue(ONBOARDING_DROPS_QUEUE))

    @cached_property
    def sample_users(self) -> SampleUsers:
        """Demo users that walk the real state machine."""
        from firstmile.onboarding.samples import SampleUsers

        return SampleUsers(self.onboarding_store, self.published_versions, ttl_days=get_settings().sample_user_ttl_days)

    @cached_property
    def flow_participants(self) -> RecentParticipants:
        """A flow's recent participants, as a rollout's guard reads them."""
        from firstmile.onboarding.participants import RecentParticipants

        return RecentParticipants(self.onboarding_store)

    # --- flags ----------------------------------------------------------------------------------------------

    @cached_property
    def flag_store(self) -> FlagStore:
        """Flags, history, segments, kill switch, settings, rollout plans and exposure counts."""
        from firstmile.flags.store import FlagStore

        return FlagStore(self.table, audit=self.audit_store)

    @cached_property
    def flag_cache(self) -> FlagSetCache:
        """The container's flag sets: the epoch checked at most every second, 4 s of outage tolerated (0062)."""
        from firstmile.flags.cache import FlagSetCache

        return FlagSetCache(self.flag_store)

    @cached_property
    def flag_admin(self) -> FlagAdmin:
        """Flag CRUD, history, rollback and archive."""
        from firstmile.flags.admin import FlagAdmin

        return FlagAdmin(self.flag_store)

    @cached_property
    def flag_controls(self) -> FlagControls:
        """Segments, the kill switch and the flag settings."""
        from firstmile.flags.controls import FlagControls

        return FlagControls(self.flag_store)

    @cached_property
    def flag_evaluation(self) -> FlagEvaluation:
        """The evaluation route and onboarding's gates, with exposures sampled onto their queue."""
        from firstmile.flags.evaluation import FlagEvaluation
        from firstmile.flags.exposures import ExposureSampler
        from firstmile.platform.queues import JsonQueue
        from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE
        from firstmile.privacy.objections import Objections

        return FlagEvaluation(
            self.flag_cache,
            exposures=ExposureSampler(JsonQueue(FLAG_EXPOSURES_QUEUE)),
            objections=Objections(self.table).objects,
        )

    @cached_property
    def exposures(self) -> Exposures:
        """The exposure consumer's counting and the admins' report."""
        from firstmile.flags.exposures import Exposures

        return Exposures(self.flag_store)

    @cached_property
    def rollouts(self) -> Rollouts:
        """Rollout plans, the rollout job and its guard (onboarding's participants)."""
        from firstmile.flags.rollouts import Rollouts

        return Rollouts(self.flag_store, participants=self.flow_participants)

    @cached_property
    def flag_erasure(self) -> FlagErasure:
        """A user taken out of every flag, segment and flag version."""
        from firstmile.flags.erasure import FlagErasure

        return FlagErasure(self.flag_store)

    # --- analytics ------------------------------------------------------------------------------------------

    @cached_property
    def funnel_counters(self) -> FunnelCounterStore:
        """The funnel counters and the markers of the events they counted."""
        from firstmile.analytics.store import FunnelCounterStore

        return FunnelCounterStore(self.table)

    @cached_property
    def funnel_aggregation(self) -> FunnelAggregation:
        """Counts onboarding events from the table's stream, once each."""
        from firstmile.analytics.aggregation import FunnelAggregation

        return FunnelAggregation(self.funnel_counters)

    @cached_property
    def event_archive(self) -> EventArchive:
        """The raw archive of transition events in S3."""
        from firstmile.analytics.archive import EventArchive
        from firstmile.platform.objects import BucketObjects

        return EventArchive(BucketObjects(get_settings().archive_bucket), erased=self.privacy_requests.tombstoned)

    @cached_property
    def analytics_reports(self) -> AnalyticsReports:
        """Funnels, comparisons and recommendations over the counters, ordered by the flows' published versions."""
        from firstmile.analytics.reports import AnalyticsReports

        return AnalyticsReports(self.funnel_counters, self.published_versions)

    # --- privacy --------------------------------------------------------------------------------------------

    @cached_property
    def consent_store(self) -> ConsentStore:
        """Users' consent, and the analytics marker on their progress."""
        from firstmile.privacy.consent_store import ConsentStore

        return ConsentStore(self.table)

    @cached_property
    def policy_store(self) -> PolicyStore:
        """The tenants' published privacy-policy and terms versions."""
        from firstmile.privacy.policy_store import PolicyStore

        return PolicyStore(self.table, audit=self.audit_store)

    @cached_property
    def current_policies(self) -> CurrentPolicyCache:
        """Each tenant's current policy versions, cached 30 s per container (the status path)."""
        from firstmile.privacy.current import CurrentPolicyCache

        return CurrentPolicyCache(self.policy_store)

    @cached_property
    def policy_versions(self) -> PolicyVersions:
        """Publishing and listing policy versions; a publication refreshes this container's current versions."""
        from firstmile.privacy.policy_versions import PolicyVersions

        return PolicyVersions(self.policy_store, cache=self.current_policies)

    @cached_property
    def consents(self) -> Consents:
        """A user's own consent: read, grant, withdraw."""
        from firstmile.privacy.consents import Consents

        return Consents(self.consent_store)

    @cached_property
    def failure_store(self) -> FailureStore:
        """The failure records of queue consumers and scheduled jobs (decision 0090)."""
        from firstmile.failures.store import FailureStore

        return FailureStore(self.table)

    @cached_property
    def dead_letter_tasks(self) -> TaskStore:
        """Every dead letter as a task, with its counters (decision 0091)."""
        from firstmile.failures.task_store import TaskStore

        return TaskStore(self.table, audit=self.audit_store)

    @cached_property
    def dead_letters(self) -> DeadLetters:
        """The dead-letter tasks as operators and admins read, retry and delete them."""
        from firstmile.clock import utc_now
        from firstmile.failures.redelivery import Redelivery
        from firstmile.failures.service import DeadLetters
        from firstmile.platform.functions import invoke_later
        from firstmile.platform.objects import BucketObjects
        from firstmile.platform.queues import QueueMessages

        batches = BucketObjects(get_settings().stream_failures_bucket, content_type="application/json")
        return DeadLetters(
            self.dead_letter_tasks,
            audit=self.audit_store,
            redeliver=Redelivery(QueueMessages(), invoke_later, batches),
            clock=utc_now,
        )

    @cached_property
    def dead_letter_collector(self) -> Collector:
        """The job turning every dead letter into a task."""
        from firstmile.clock import utc_now
        from firstmile.failures.collector import Collector
        from firstmile.platform.objects import BucketObjects
        from firstmile.platform.queues import QueueMessages
        from firstmile.platform.resources import SCHEDULER_DLQ, dead_letter_queue_name

        settings = get_settings()
        consumers = {dead_letter_queue_name(queue): (queue, fn) for queue, fn in settings.queue_consumers.items()}
        return Collector(
            self.dead_letter_tasks,
            letters=QueueMessages(),
            batches=BucketObjects(settings.stream_failures_bucket, content_type="application/json"),
            find=self.failure_store.get,
            consumers=consumers,
            invocations=SCHEDULER_DLQ,
            clock=utc_now,
        )

    @cached_property
    def webhook_endpoints(self) -> WebhookEndpoints:
        """The tenants' webhook endpoints (decision 0093)."""
        from firstmile.clock import utc_now
        from firstmile.platform.queues import JsonQueue
        from firstmile.platform.resources import WEBHOOK_DELIVERIES_QUEUE
        from firstmile.webhooks.deliveries import DeliveryLog
        from firstmile.webhooks.endpoints import WebhookEndpoints

        return WebhookEndpoints(
            self.webhook_store,
            allow_loopback=get_settings().webhooks_allow_loopback,
            clock=utc_now,
            log=DeliveryLog(self.table),
            enqueue=JsonQueue(WEBHOOK_DELIVERIES_QUEUE).send,
            audit=self.audit_store,
        )

    @cached_property
    def webhook_store(self) -> WebhookStore:
        from firstmile.webhooks.store import WebhookStore

        return WebhookStore(self.table, audit=self.audit_store)

    @cached_property
    def webhook_dispatcher(self) -> Dispatcher:
        """Webhook events from the table's stream to the delivery queue."""
        from firstmile.platform.queues import JsonQueue
        from firstmile.platform.resources import WEBHOOK_DELIVERIES_QUEUE
        from firstmile.webhooks.dispatch import Dispatcher

        return Dispatcher(self.webhook_store, JsonQueue(WEBHOOK_DELIVERIES_QUEUE).send)

    @cached_property
    def webhook_sender(self) -> Sender:
        """The delivery worker's signed POSTs."""
        from firstmile.clock import utc_now
        from firstmile.webhooks.deliveries import DeliveryLog
        from firstmile.webhooks.delivery import Sender

        return Sender(
            self.webhook_store,
            DeliveryLog(self.table),
            allow_loopback=get_settings().webhooks_allow_loopback,
            clock=utc_now,
        )

    @cached_property
    def privacy_requests(self) -> RequestStore:
        """Data subject requests, their deadlines, the tenants' privacy settings and the erased users' tombstones."""
        from firstmile.privacy.request_store import RequestStore

        return RequestStore(
            self.table,
            audit=self.audit_store,
            closed_retention_days=get_settings().privacy_request_retention_days,
        )

    @cached_property
    def retention(self) -> RetentionJob:
        """The daily deletion of what is past its retention."""
        from firstmile.privacy.retention import RetentionJob, RetentionStore

        return RetentionJob(RetentionStore(self.table))

    @cached_property
    def export_objects(self) -> BucketObjects:
        """The export packages, encrypted by the bucket's own KMS key."""
        from firstmile.platform.objects import BucketObjects

        return BucketObjects(get_settings().exports_bucket, content_type="application/json")

    @cached_property
    def notifier(self) -> Notifier:
        """Erasure codes: an outbox file locally, SES when deployed."""
        from firstmile.privacy.notifier import OutboxNotifier, SesNotifier

        settings = get_settings()
        if settings.notifier_outbox:
            return OutboxNotifier(settings.notifier_outbox)
        return SesNotifier(settings.notifier_sender)

    @cached_property
    def data_rights(self) -> DataRights:
        """Users' and admins' data subject requests, queued for the request worker."""
        from firstmile.platform.queues import JsonQueue
        from firstmile.platform.resources import PRIVACY_REQUESTS_QUEUE
        from firstmile.privacy.rights import DataRights

        queue = JsonQueue(PRIVACY_REQUESTS_QUEUE)
        return DataRights(
            self.privacy_requests,
            notifier=self.notifier,
            enqueue=lambda tenant, request_id: queue.send([{"tenant": tenant, "request_id": request_id}]),
            exports=self.export_objects,
        )

    @cached_property
    def privacy_deadlines(self) -> PrivacyDeadlines:
        """The daily check of open requests against their deadline."""
        from firstmile.platform.queues import JsonQueue
        from firstmile.platform.resources import PRIVACY_REQUESTS_QUEUE
        from firstmile.privacy.deadlines import PrivacyDeadlines
        from firstmile.privacy.user_data import UserPartition

        queue = JsonQueue(PRIVACY_REQUESTS_QUEUE)
        return PrivacyDeadlines(
            self.privacy_requests,
            enqueue=lambda tenant, request_id: queue.send([{"tenant": tenant, "request_id": request_id}]),
            partition=UserPartition(self.table),
            erase_again=self.data_rights.erase_again,
            cancel_unverified=self.data_rights.cancel_unverified,
        )

    @cached_property
    def request_processor(self) -> RequestProcessor:
        """The request worker's exports and erasures."""
        from firstmile.platform.objects import BucketObjects
        from firstmile.privacy.processing import RequestProcessor
        from firstmile.privacy.user_data import ArchivedEvents, UserPartition

        return RequestProcessor(
            self.privacy_requests,
            partition=UserPartition(self.table),
            audit=self.audit_store,
            sessions=self.session_service,
            session_items=self.identity_store,
            flags=self.flag_erasure,
            archive=ArchivedEvents(BucketObjects(get_settings().archive_bucket)),
            exports=self.export_objects,
            # The authorizer's revocation cache, and a second for clocks.
            revocation_bound=timedelta(seconds=get_settings().revocation_cache_seconds + 1),
        )

    @cached_property
    def alert_rule_store(self) -> AlertRuleStore:
        """Drop-off alert rules, their versions and status, and their alerts."""
        from firstmile.analytics.alert_store import AlertRuleStore

        return AlertRuleStore(self.table, audit=self.audit_store)

    @cached_property
    def alert_rules(self) -> AlertRules:
        """The admins' alert rules and alerts, and the hourly check over the funnel counters."""
        from firstmile.analytics.alerting import AlertRules

        return AlertRules(self.alert_rule_store, self.published_versions, self.analytics_reports)


class _FlagGates:
    """Onboarding's ``FlagGates`` over the container's flag evaluation, built only when a gated step first asks: a
    flow without gated steps never loads the flag package."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def gate_for(self, tenant: str, user: str, attributes: Mapping[str, str]) -> FlagGate:
        """The user's gate from the flag domain's evaluation (built on first use)."""
        return self._container.flag_evaluation.gate_for(tenant, user, attributes)


class _ConsentLookup:
    """Onboarding's ``ConsentLookup`` over the container's consent store, built only when a user first enrols: a
    status request of an enrolled user never loads the consent code."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def enrolment(self, tenant: str, user: str) -> EnrolmentConsent:
        return self._container.consent_store.enrolment(tenant, user)


class _PolicyLookup:
    """Onboarding's ``CurrentPolicies`` over the container's cache of current policy versions, built on the first
    status (it loads only the cache and the policy store, decision 0082)."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def current(self, tenant: str) -> dict[str, str]:
        return self._container.current_policies.current(tenant)


_container: Container | None = None


def container() -> Container:
    """This container's parts (built on first call)."""
    global _container  # noqa: PLW0603 - the one container of the process, by design
    if _container is None:
        _container = Container()
    return _container


def reset() -> None:
    """Forget every part: the next ``container()`` builds anew (tests switch deployments and settings)."""
    global _container  # noqa: PLW0603
    _container = None
