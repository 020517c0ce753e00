"""In-memory fakes of every store, for unit tests (no network, no emulator).

Each fake implements its store's port (``firstmile.<domain>.ports``), keeps what the store would keep in plain
dictionaries, reads models back as the table would (``storage.stored``), and can be told to fail per method
(``Faults``: throttled or unreachable, or a conditional write losing its race). Each one passes the same contract
suite as the store it stands for (tests/contracts); ``FAKES`` lists them, and tests/unit/test_fakes_fitness.py
fails when a store in the core layer has no fake here that runs its contract suite in tests/unit and the store
itself running it in tests/integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from firstmile.analytics.alert_store import AlertRuleStore
from firstmile.analytics.ports import AlertRuleStorePort, FunnelCounters
from firstmile.analytics.store import FunnelCounterStore
from firstmile.audit.ports import AuditLog
from firstmile.audit.store import AuditStore
from firstmile.backups.control import DynamoDbControlPlane
from firstmile.backups.ports import ControlPlane, DrillStore
from firstmile.backups.store import DrillStoreOnTable
from firstmile.failures.ports import FailureStorePort, TaskStorePort
from firstmile.failures.store import FailureStore
from firstmile.failures.task_store import TaskStore
from firstmile.flags.ports import FlagStorePort
from firstmile.flags.store import FlagStore
from firstmile.health.ports import ProbeResults
from firstmile.health.store import ProbeResultStore
from firstmile.http.idempotency_store import IdempotencyRecordStore
from firstmile.http.ports import IdempotencyRecordStorage
from firstmile.identity.keystore import SecretsManagerKeyStore
from firstmile.identity.ports import IdentityStorePort, SigningKeySecret
from firstmile.identity.store import IdentityStore
from firstmile.limits.ports import Counter
from firstmile.limits.store import RateLimitStore
from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.store import OnboardingStore
from firstmile.privacy.consent_store import ConsentStore
from firstmile.privacy.policy_store import PolicyStore
from firstmile.privacy.ports import (
    ConsentStorePort,
    PolicyStorePort,
    RequestStorePort,
    RetentionStorePort,
    UserPartitionPort,
)
from firstmile.privacy.request_store import RequestStore
from firstmile.privacy.retention import RetentionStore
from firstmile.privacy.user_data import UserPartition
from firstmile.sla.ports import RequestTallies
from firstmile.sla.store import TallyStore
from firstmile.webhooks.deliveries import DeliveryLog
from firstmile.webhooks.ports import DeliveryLogPort, WebhookStorePort
from firstmile.webhooks.store import WebhookStore
from tests.fakes.analytics import FakeAlertRuleStore, FakeFunnelCounterStore
from tests.fakes.audit import FakeAuditLog
from tests.fakes.backups import FakeControlPlane, FakeDrillStore
from tests.fakes.failures import FakeFailureStore, FakeTaskStore
from tests.fakes.flags import FakeFlagStore
from tests.fakes.health import FakeProbeResultStore
from tests.fakes.idempotency import FakeIdempotencyRecordStore
from tests.fakes.identity import FakeIdentityStore, FakeSigningKeySecret
from tests.fakes.limits import FakeRateLimitStore
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import (
    FakeConsentStore,
    FakePolicyStore,
    FakeRequestStore,
    FakeRetentionStore,
    FakeUserPartition,
)
from tests.fakes.sla import FakeTallyStore
from tests.fakes.webhooks import FakeDeliveryLog, FakeWebhookStore


@dataclass(frozen=True)
class Registration:
    """A store of the core layer, the port it implements, and its in-memory fake."""

    store: type
    port: type
    fake: type


FAKES = (
    Registration(AuditStore, AuditLog, FakeAuditLog),
    Registration(IdentityStore, IdentityStorePort, FakeIdentityStore),
    Registration(SecretsManagerKeyStore, SigningKeySecret, FakeSigningKeySecret),
    Registration(OnboardingStore, OnboardingStorePort, FakeOnboardingStore),
    Registration(FlagStore, FlagStorePort, FakeFlagStore),
    Registration(RateLimitStore, Counter, FakeRateLimitStore),
    Registration(ProbeResultStore, ProbeResults, FakeProbeResultStore),
    Registration(IdempotencyRecordStore, IdempotencyRecordStorage, FakeIdempotencyRecordStore),
    Registration(FunnelCounterStore, FunnelCounters, FakeFunnelCounterStore),
    Registration(AlertRuleStore, AlertRuleStorePort, FakeAlertRuleStore),
    Registration(ConsentStore, ConsentStorePort, FakeConsentStore),
    Registration(PolicyStore, PolicyStorePort, FakePolicyStore),
    Registration(RequestStore, RequestStorePort, FakeRequestStore),
    Registration(UserPartition, UserPartitionPort, FakeUserPartition),
    Registration(RetentionStore, RetentionStorePort, FakeRetentionStore),
    Registration(FailureStore, FailureStorePort, FakeFailureStore),
    Registration(TaskStore, TaskStorePort, FakeTaskStore),
    Registration(WebhookStore, WebhookStorePort, FakeWebhookStore),
    Registration(DeliveryLog, DeliveryLogPort, FakeDeliveryLog),
    Registration(TallyStore, RequestTallies, FakeTallyStore),
    Registration(DrillStoreOnTable, DrillStore, FakeDrillStore),
)

if TYPE_CHECKING:
    # mypy checks that each fake and each store implements its port, signatures included.
    _audit: AuditLog = FakeAuditLog()
    _identity: IdentityStorePort = FakeIdentityStore()
    _secret: SigningKeySecret = FakeSigningKeySecret()
    _onboarding: OnboardingStorePort = FakeOnboardingStore()
    _flags: FlagStorePort = FakeFlagStore()
    _counter: Counter = FakeRateLimitStore()
    _probe_results: ProbeResults = FakeProbeResultStore()
    _idempotency_records: IdempotencyRecordStorage = FakeIdempotencyRecordStore()
    _funnel_counters: FunnelCounters = FakeFunnelCounterStore()
    _alert_rules: AlertRuleStorePort = FakeAlertRuleStore()
    _consents: ConsentStorePort = FakeConsentStore()
    _policies: PolicyStorePort = FakePolicyStore()
    _requests: RequestStorePort = FakeRequestStore()
    _partitions: UserPartitionPort = FakeUserPartition()
    _retention: RetentionStorePort = FakeRetentionStore()
    _failures: FailureStorePort = FakeFailureStore()
    _tasks: TaskStorePort = FakeTaskStore()
    _webhooks: WebhookStorePort = FakeWebhookStore()
    _deliveries: DeliveryLogPort = FakeDeliveryLog()
    _tallies: RequestTallies = FakeTallyStore()
    _drills: DrillStore = FakeDrillStore()
    _audit_store: AuditLog = AuditStore(...)  # type: ignore[arg-type]
    _identity_store: IdentityStorePort = IdentityStore(...)  # type: ignore[arg-type]
    _secret_store: SigningKeySecret = SecretsManagerKeyStore("")
    _onboarding_store: OnboardingStorePort = OnboardingStore(...)  # type: ignore[arg-type]
    _flag_store: FlagStorePort = FlagStore(...)  # type: ignore[arg-type]
    _counter_store: Counter = RateLimitStore(...)  # type: ignore[arg-type]
    _probe_result_store: ProbeResults = ProbeResultStore(...)  # type: ignore[arg-type]
    _idempotency_record_store: IdempotencyRecordStorage = IdempotencyRecordStore(...)  # type: ignore[arg-type]
    _funnel_counter_store: FunnelCounters = FunnelCounterStore(...)  # type: ignore[arg-type]
    _alert_rule_store: AlertRuleStorePort = AlertRuleStore(...)  # type: ignore[arg-type]
    _consent_store: ConsentStorePort = ConsentStore(...)  # type: ignore[arg-type]
    _policy_store: PolicyStorePort = PolicyStore(...)  # type: ignore[arg-type]
    _request_store: RequestStorePort = RequestStore(...)  # type: ignore[arg-type]
    _user_partition: UserPartitionPort = UserPartition(...)  # type: ignore[arg-type]
    _retention_store: RetentionStorePort = RetentionStore(...)  # type: ignore[arg-type]
    _failure_store: FailureStorePort = FailureStore(...)  # type: ignore[arg-type]
    _task_store: TaskStorePort = TaskStore(..., audit=...)  # type: ignore[arg-type]
    _webhook_store: WebhookStorePort = WebhookStore(..., audit=...)  # type: ignore[arg-type]
    _tally_store: RequestTallies = TallyStore(...)  # type: ignore[arg-type]
    _drill_store: DrillStore = DrillStoreOnTable(...)  # type: ignore[arg-type]
    _control_plane: ControlPlane = FakeControlPlane()
    _dynamodb_control_plane: ControlPlane = DynamoDbControlPlane(...)
    _delivery_log: DeliveryLogPort = DeliveryLog(...)  # type: ignore[arg-type]
