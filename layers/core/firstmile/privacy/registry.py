"""Every kind of item Firstmile stores, declared in one place: what data it holds, about whom, why, on what legal
basis, how long it is kept and how a user's part of it is erased (issue 13, item 7; decision 0080).

The Article 30 record (``firstmile.privacy.article30``) is rendered from these declarations, and a fitness test
(tests/unit/privacy/test_registry_fitness.py) reads the core layer's source and fails when an item kind written
anywhere is not declared here, or a declaration names a kind nothing writes. A new store therefore cannot keep data
the record does not show.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Subjects(StrEnum):
    """Whose data an item holds."""

    END_USERS = "end_users"  # the users a tenant onboards
    ADMINS = "tenant_admins"  # a tenant's admins and its API clients
    OPERATORS = "operators"  # who runs the deployment
    NOBODY = "nobody"  # no personal data


class Category(StrEnum):
    """The categories of data an item holds (Article 30(1)(c))."""

    IDENTIFIERS = "identifiers"  # user ids, session ids, API client ids
    CREDENTIALS = "credentials"  # hashes of secrets and tokens, signing keys
    PROFILE = "profile_attributes"  # country, locale, plan: attributes kept at enrolment
    USAGE = "product_usage"  # onboarding progress and its events
    ACTIVITY = "activity_log"  # who did what, when (audit)
    TARGETING = "targeting"  # user ids an admin lists in flag segments and rules
    CONSENT = "consent_records"  # a user's choices per purpose and cookie category
    CONFIGURATION = "configuration"  # flows, flags, settings an admin writes
    AGGREGATES = "aggregates"  # counts without identifiers
    OPERATIONAL = "operational"  # markers, counters and records the system keeps to work


class LegalBasis(StrEnum):
    """Article 6(1) GDPR; ``not_personal`` for items without personal data."""

    CONTRACT = "contract"  # (b): running the service the tenant's users signed up to
    LEGITIMATE_INTERESTS = "legitimate_interests"  # (f): security, abuse prevention, product improvement
    LEGAL_OBLIGATION = "legal_obligation"  # (c): accountability records
    CONSENT = "consent"  # (a)
    NOT_PERSONAL = "not_personal"


class Erasure(StrEnum):
    """How a user's data in an item goes when the user is erased."""

    USER_PARTITION = "user_partition"  # deleted with everything under the user's partition
    INDEXED = "indexed"  # outside the user's partition; found through an index that names the user, and deleted
    REWRITTEN = "rewritten"  # the user's id taken out of the item in place
    RETAINED = "retained"  # kept as the record that a request was answered, or to keep an erasure in force
    EXPIRES = "expires"  # gone by its own short expiry
    NOT_PERSONAL = "not_personal"  # nothing to erase


@dataclass(frozen=True)
class ItemType:
    """One kind of item (its ``kind`` attribute) and what the Article 30 record says of it."""

    kind: str
    description: str
    subjects: tuple[Subjects, ...]
    categories: tuple[Category, ...]
    purpose: str
    legal_basis: LegalBasis
    retention: str
    erasure: Erasure
    # The longest an item lives when it expires by itself (its TTL), in days; None: kept while the tenant keeps it.
    retention_days: float | None = None
    # Where it is kept: the table (the item's ``kind``), ``s3:<bucket>`` (objects of a bucket of
    # ``platform.resources.BUCKETS``), or ``sqs`` (messages in flight).
    store: str = "table"

    @property
    def personal(self) -> bool:
        return self.legal_basis is not LegalBasis.NOT_PERSONAL


_USERS = (Subjects.END_USERS,)
_ADMINS = (Subjects.ADMINS,)
_NOBODY = (Subjects.NOBODY,)
_RUN = "running the service the tenant provides to its users"
_SECURE = "authenticating callers and keeping the service secure"
_ACCOUNTABLE = "accountability: a tamper-evident record of who changed what"
_CONFIGURE = "configuring the tenant's onboarding and feature flags"
_ANALYSE = "measuring where users drop off in onboarding, in aggregate"
_OPERATE = "operating the service: exactly-once processing, rate limits, availability"
_CONSENT = "recording and demonstrating users' consent and objections (Article 7(1))"
_KEPT = "while the tenant keeps it"
_RIGHTS = "answering data subject requests and proving they were answered (Articles 12-17, 5(2))"


def _impersonal(
    kind: str,
    description: str,
    categories: tuple[Category, ...],
    purpose: str,
    retention: str,
    retention_days: float | None = None,
) -> ItemType:
    """An item that names nobody: nothing personal to declare a basis for or to erase."""
    return ItemType(
        kind,
        description,
        _NOBODY,
        categories,
        purpose,
        LegalBasis.NOT_PERSONAL,
        retention,
        Erasure.NOT_PERSONAL,
        retention_days=retention_days,
    )


REGISTRY: tuple[ItemType, ...] = (
    # --- identity -------------------------------------------------------------------------------------------
    ItemType(
        "tenant",
        "a tenant: its id, name and settings",
        _ADMINS,
        (Category.IDENTIFIERS, Category.CONFIGURATION),
        _RUN,
        LegalBasis.CONTRACT,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    ItemType(
        "api_client",
        "a tenant's API client: id, name, hash of its secret, roles",
        _ADMINS,
        (Category.IDENTIFIERS, Category.CREDENTIALS),
        _SECURE,
        LegalBasis.CONTRACT,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    ItemType(
        "session_family",
        "a user's session (refresh-token family): user id, roles, attributes, hashes of its tokens",
        _USERS,
        (Category.IDENTIFIERS, Category.CREDENTIALS, Category.PROFILE),
        _SECURE,
        LegalBasis.CONTRACT,
        "until the session's absolute expiry (30 days by default)",
        Erasure.USER_PARTITION,
        retention_days=30,
    ),
    ItemType(
        "refresh_pointer",
        "which session a refresh token belongs to: tenant, user id, session id",
        _USERS,
        (Category.IDENTIFIERS,),
        _SECURE,
        LegalBasis.CONTRACT,
        "until its session's absolute expiry",
        Erasure.INDEXED,
        retention_days=30,
    ),
    ItemType(
        "revocation",
        "a user's sessions or one access token revoked before a moment (beside the user's partition)",
        _USERS,
        (Category.IDENTIFIERS,),
        _SECURE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "16 minutes: longer than an access token lives",
        Erasure.EXPIRES,
        retention_days=16 / (24 * 60),
    ),
    _impersonal(
        "published_keys",
        "the public signing keys (JWKS) the deployment publishes",
        (Category.CREDENTIALS,),
        _SECURE,
        "until the keys are rotated out",
    ),
    ItemType(
        "rate_counter",
        "requests counted per user, API client or source address in a rate window",
        (Subjects.END_USERS, Subjects.ADMINS),
        (Category.IDENTIFIERS, Category.OPERATIONAL),
        _SECURE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "one minute after its window",
        Erasure.EXPIRES,
        retention_days=2 / (24 * 60),
    ),
    ItemType(
        "idempotency_record",
        "the answer to a request sent with an Idempotency-Key, to answer a retry alike",
        (Subjects.END_USERS, Subjects.ADMINS),
        (Category.IDENTIFIERS, Category.OPERATIONAL),
        _OPERATE,
        LegalBasis.CONTRACT,
        "one hour by default (FIRSTMILE_IDEMPOTENCY_TTL_SECONDS, at most 7 days)",
        Erasure.EXPIRES,
        retention_days=7,
    ),
    # --- audit ----------------------------------------------------------------------------------------------
    ItemType(
        "audit_entry",
        "one entry of a tenant's hash-chained audit log: actor, action, target, time, details; on erasure the fields "
        "naming the user become salted digests and the chain still verifies (decision 0083)",
        (Subjects.ADMINS, Subjects.END_USERS, Subjects.OPERATORS),
        (Category.IDENTIFIERS, Category.ACTIVITY),
        _ACCOUNTABLE,
        LegalBasis.LEGAL_OBLIGATION,
        _KEPT,
        Erasure.REWRITTEN,
    ),
    ItemType(
        "audit_actor_entry",
        "a copy of an audit entry under its actor, to list one actor's actions; rewritten like the entry, or "
        "deleted when the erased user is the actor",
        (Subjects.ADMINS, Subjects.END_USERS, Subjects.OPERATORS),
        (Category.IDENTIFIERS, Category.ACTIVITY),
        _ACCOUNTABLE,
        LegalBasis.LEGAL_OBLIGATION,
        _KEPT,
        Erasure.REWRITTEN,
    ),
    ItemType(
        "audit_person_pointer",
        "the key of an audit entry under each user it names, so an export or an erasure finds their entries",
        (Subjects.ADMINS, Subjects.END_USERS),
        (Category.IDENTIFIERS,),
        _ACCOUNTABLE,
        LegalBasis.LEGAL_OBLIGATION,
        _KEPT,
        Erasure.INDEXED,
    ),
    _impersonal(
        "audit_head",
        "the newest entry's sequence and hash of a tenant's audit chain",
        (Category.OPERATIONAL,),
        _ACCOUNTABLE,
        _KEPT,
    ),
    # --- onboarding -----------------------------------------------------------------------------------------
    ItemType(
        "flow_draft",
        "an onboarding flow as its admins edit it",
        _ADMINS,
        (Category.CONFIGURATION,),
        _CONFIGURE,
        LegalBasis.CONTRACT,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    ItemType(
        "flow_version",
        "a published, immutable version of an onboarding flow",
        _ADMINS,
        (Category.CONFIGURATION,),
        _CONFIGURE,
        LegalBasis.CONTRACT,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    _impersonal(
        "default_flow",
        "which flow a tenant's new users enrol on",
        (Category.CONFIGURATION,),
        _CONFIGURE,
        _KEPT,
    ),
    _impersonal(
        "onboarding_settings",
        "a tenant's onboarding settings (idle days before a user counts as dropped)",
        (Category.CONFIGURATION,),
        _CONFIGURE,
        _KEPT,
    ),
    ItemType(
        "onboarding_progress",
        "a user's onboarding progress: flow and version, step states and times, milestones, segment attributes",
        _USERS,
        (Category.IDENTIFIERS, Category.USAGE, Category.PROFILE),
        _RUN,
        LegalBasis.CONTRACT,
        "while the user's account exists; a sample user's 7 days",
        Erasure.USER_PARTITION,
    ),
    ItemType(
        "onboarding_event",
        "one change of a user's progress: type, step, time, segment attributes",
        _USERS,
        (Category.IDENTIFIERS, Category.USAGE, Category.PROFILE),
        _RUN,
        LegalBasis.CONTRACT,
        "400 days by default (FIRSTMILE_ONBOARDING_EVENT_RETENTION_DAYS)",
        Erasure.USER_PARTITION,
        retention_days=400,
    ),
    ItemType(
        "onboarding_migration",
        "a version migration an admin started, and its progress counts",
        _ADMINS,
        (Category.CONFIGURATION, Category.OPERATIONAL),
        _CONFIGURE,
        LegalBasis.CONTRACT,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    _impersonal(
        "migration_marker",
        "a migration page or batch already counted, so a redelivery counts nothing twice",
        (Category.OPERATIONAL,),
        _OPERATE,
        _KEPT,
    ),
    # --- feature flags --------------------------------------------------------------------------------------
    ItemType(
        "flag",
        "a feature flag: rules, variants, and any user ids an admin lists as targets",
        (Subjects.ADMINS, Subjects.END_USERS),
        (Category.CONFIGURATION, Category.TARGETING),
        _CONFIGURE,
        LegalBasis.LEGITIMATE_INTERESTS,
        _KEPT,
        Erasure.REWRITTEN,
    ),
    ItemType(
        "flag_version",
        "a version of a flag as it was, with its diff",
        (Subjects.ADMINS, Subjects.END_USERS),
        (Category.CONFIGURATION, Category.TARGETING),
        _CONFIGURE,
        LegalBasis.LEGITIMATE_INTERESTS,
        _KEPT,
        Erasure.REWRITTEN,
    ),
    ItemType(
        "flag_segment",
        "a named list of users and conditions that flags target",
        (Subjects.ADMINS, Subjects.END_USERS),
        (Category.CONFIGURATION, Category.TARGETING),
        _CONFIGURE,
        LegalBasis.LEGITIMATE_INTERESTS,
        _KEPT,
        Erasure.REWRITTEN,
    ),
    _impersonal(
        "flag_epoch",
        "a tenant's flag-set version, kill switch and flag settings",
        (Category.CONFIGURATION,),
        _CONFIGURE,
        _KEPT,
    ),
    ItemType(
        "flag_kill_switch_change",
        "a kill or revival of flags, with its reason and who made it",
        _ADMINS,
        (Category.CONFIGURATION, Category.ACTIVITY),
        _CONFIGURE,
        LegalBasis.LEGITIMATE_INTERESTS,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    _impersonal(
        "flag_rollout",
        "a flag's progressive rollout plan and its last guard reading",
        (Category.CONFIGURATION, Category.AGGREGATES),
        _CONFIGURE,
        _KEPT,
    ),
    _impersonal(
        "flag_rollout_active",
        "the deployment's list entry of an active rollout plan",
        (Category.OPERATIONAL,),
        _OPERATE,
        "until the plan ends",
    ),
    _impersonal(
        "flag_exposure",
        "sampled counts of a flag's variants served per day",
        (Category.AGGREGATES,),
        _ANALYSE,
        "90 days after their day",
        retention_days=90,
    ),
    _impersonal(
        "flag_exposure_event",
        "an exposure event already counted (its id only)",
        (Category.OPERATIONAL,),
        _OPERATE,
        "15 days",
        retention_days=15,
    ),
    # --- analytics ------------------------------------------------------------------------------------------
    _impersonal(
        "funnel_counter",
        "a flow version's funnel counts by enrolment day or hour and segment",
        (Category.AGGREGATES,),
        _ANALYSE,
        "day counts while the tenant keeps them; hour counts 8 days",
    ),
    _impersonal(
        "funnel_event",
        "an onboarding event already counted (a digest of its key only)",
        (Category.OPERATIONAL,),
        _OPERATE,
        "3 days",
        retention_days=3,
    ),
    ItemType(
        "alert_rule",
        "a drop-off alert rule and what its last check found",
        _ADMINS,
        (Category.CONFIGURATION, Category.AGGREGATES),
        _ANALYSE,
        LegalBasis.CONTRACT,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    ItemType(
        "alert_rule_version",
        "a version of a drop-off alert rule, with who changed it",
        _ADMINS,
        (Category.CONFIGURATION, Category.ACTIVITY),
        _ANALYSE,
        LegalBasis.CONTRACT,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    _impersonal(
        "analytics_alert",
        "a drop-off rule that started or stopped firing, with its figures",
        (Category.AGGREGATES,),
        _ANALYSE,
        "400 days",
        retention_days=400,
    ),
    _impersonal(
        "analytics_alert_rule_checked",
        "the deployment's list entry of an enabled alert rule",
        (Category.OPERATIONAL,),
        _OPERATE,
        "while the rule is enabled",
    ),
    # --- privacy --------------------------------------------------------------------------------------------
    ItemType(
        "consent_state",
        "a user's current consent per purpose and cookie category, and their restriction and objection (decision "
        "0084), each with its time, policy version and source",
        _USERS,
        (Category.IDENTIFIERS, Category.CONSENT),
        _CONSENT,
        LegalBasis.LEGAL_OBLIGATION,
        "while the user's account exists",
        Erasure.USER_PARTITION,
    ),
    ItemType(
        "consent_record",
        "one consent choice as it was made: what, granted or withdrawn, when, under which policy version, from where",
        _USERS,
        (Category.IDENTIFIERS, Category.CONSENT),
        _CONSENT,
        LegalBasis.LEGAL_OBLIGATION,
        "while the user's account exists",
        Erasure.USER_PARTITION,
    ),
    ItemType(
        "policy_version",
        "a privacy-policy or terms version a tenant published: version, link, summary, who published it",
        _ADMINS,
        (Category.CONFIGURATION, Category.ACTIVITY),
        _CONSENT,
        LegalBasis.LEGAL_OBLIGATION,
        _KEPT,
        Erasure.NOT_PERSONAL,
    ),
    ItemType(
        "privacy_request",
        "a data subject request (export or erasure): whose, its state, deadline, who approved it, an erasure's "
        "receipt (counts only), the digest of its one-time code",
        (Subjects.END_USERS, Subjects.ADMINS),
        (Category.IDENTIFIERS, Category.ACTIVITY),
        _RIGHTS,
        LegalBasis.LEGAL_OBLIGATION,
        "open, then 3 years after it closed (FIRSTMILE_PRIVACY_REQUEST_RETENTION_DAYS): the proof that it was "
        "answered, and when; then deleted by the daily retention job (decisions 0083, 0085)",
        Erasure.RETAINED,
    ),
    _impersonal(
        "retention_entry",
        "the key of an item to delete on a given day, in a partition of that day: what the retention job reads",
        (Category.OPERATIONAL,),
        _OPERATE,
        "until its day comes",
    ),
    _impersonal(
        "privacy_request_open",
        "an open data subject request's deadline, state and type, for the daily deadline check",
        (Category.OPERATIONAL,),
        _RIGHTS,
        "until the request closes",
    ),
    _impersonal(
        "privacy_settings",
        "a tenant's privacy settings: erase on verification, a second admin's approval",
        (Category.CONFIGURATION,),
        _RIGHTS,
        _KEPT,
    ),
    ItemType(
        "erasure_tombstone",
        "the id of an erased user and when: late events naming them are dropped, and the erasure is applied again "
        "after a restore from backup",
        _USERS,
        (Category.IDENTIFIERS,),
        _RIGHTS,
        LegalBasis.LEGAL_OBLIGATION,
        "while the tenant keeps it (decision 0083)",
        Erasure.RETAINED,
    ),
    ItemType(
        "failure_record",
        "a queue message or scheduled run that failed: the function, the source, the error and traceback (secrets "
        "redacted), attempts, times, and the message as it was (it may carry tenant and user ids)",
        (Subjects.END_USERS, Subjects.ADMINS),
        (Category.IDENTIFIERS, Category.OPERATIONAL),
        _OPERATE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "30 days after its last failure",
        Erasure.EXPIRES,
        retention_days=30,
    ),
    ItemType(
        "dead_letter_task",
        "a dead letter as a task: the failed work's function, source, error and traceback (secrets redacted), the "
        "message as it was for a retry, its history (who retried it); it may carry tenant and user ids",
        (Subjects.END_USERS, Subjects.ADMINS),
        (Category.IDENTIFIERS, Category.OPERATIONAL),
        _OPERATE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "30 days after its work was first sent, unless retried or deleted sooner (decision 0091)",
        Erasure.EXPIRES,
        retention_days=30,
    ),
    _impersonal(
        "webhook_endpoint",
        "a tenant's webhook endpoint: its URL, the event types it wants, its signing secret (and the previous one "
        "during a rotation's grace period)",
        (Category.CONFIGURATION,),
        _OPERATE,
        _KEPT,
    ),
    ItemType(
        "webhook_delivery",
        "one webhook message to one endpoint: its body (the event, which may name a user), state, tries and the "
        "endpoint's last answer, for the admins' delivery log and replays",
        (Subjects.END_USERS, Subjects.ADMINS),
        (Category.IDENTIFIERS, Category.OPERATIONAL),
        _OPERATE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "30 days after its last try",
        Erasure.EXPIRES,
        retention_days=30,
    ),
    _impersonal(
        "dead_letter_stats",
        "how many dead-letter tasks there are, per function, exception and state",
        (Category.OPERATIONAL,),
        _OPERATE,
        _KEPT,
    ),
    # --- outside the table ----------------------------------------------------------------------------------
    ItemType(
        "archived_events",
        "onboarding's transition events as gzipped JSON lines for ad-hoc SQL: user id, step, times, segment values",
        _USERS,
        (Category.IDENTIFIERS, Category.USAGE, Category.PROFILE),
        _ANALYSE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "400 days (bucket lifecycle)",
        Erasure.REWRITTEN,
        retention_days=400,
        store="s3:Archive",
    ),
    ItemType(
        "stream_failure_batches",
        "table-stream batches a consumer could not process: the onboarding events they held, for inspection",
        _USERS,
        (Category.IDENTIFIERS, Category.USAGE, Category.PROFILE),
        _OPERATE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "90 days (bucket lifecycle)",
        Erasure.EXPIRES,
        retention_days=90,
        store="s3:StreamFailures",
    ),
    ItemType(
        "data_exports",
        "the package of everything stored about one user, made at their request (access and portability); "
        "SSE-KMS, downloadable through a link valid five minutes",
        _USERS,
        (Category.IDENTIFIERS, Category.USAGE, Category.PROFILE, Category.CONSENT, Category.ACTIVITY),
        _RIGHTS,
        LegalBasis.LEGAL_OBLIGATION,
        "30 days (bucket lifecycle); deleted at once by the user's erasure",
        Erasure.INDEXED,
        retention_days=30,
        store="s3:Exports",
    ),
    ItemType(
        "queue_messages",
        "work in flight and failed work in the queues and their dead-letter queues: tenant and user ids, event ids",
        (Subjects.END_USERS, Subjects.ADMINS),
        (Category.IDENTIFIERS, Category.OPERATIONAL),
        _OPERATE,
        LegalBasis.LEGITIMATE_INTERESTS,
        "at most 14 days (SQS retention)",
        Erasure.EXPIRES,
        retention_days=14,
        store="sqs",
    ),
    # --- health ---------------------------------------------------------------------------------------------
    _impersonal(
        "probe_result",
        "a synthetic probe's result: which dependencies answered, how fast",
        (Category.OPERATIONAL,),
        _OPERATE,
        "90 days",
        retention_days=90,
    ),
    # --- backups --------------------------------------------------------------------------------------------
    _impersonal(
        "restore_drill",
        "a restore drill: which backup, how long its restore took, item counts and checksums per item kind",
        (Category.OPERATIONAL,),
        _OPERATE,
        "1 year",
        retention_days=365,
    ),
    # --- service levels -------------------------------------------------------------------------------------
    _impersonal(
        "sla_tally",
        "a route's answered requests over a minute, hour or day: counts by status and problem code, latency buckets",
        (Category.OPERATIONAL,),
        _OPERATE,
        "minutes 3 days, hours 35 days, days 400 days",
        retention_days=400,
    ),
    _impersonal(
        "sla_delivery",
        "that a log delivery to the request aggregator was taken, so what follows it is done once (a digest only)",
        (Category.OPERATIONAL,),
        _OPERATE,
        "2 days",
        retention_days=2,
    ),
)

_BY_KIND = {item.kind: item for item in REGISTRY}


def item_type(kind: str) -> ItemType:
    """The declaration of ``kind``; ``KeyError`` when nothing declares it."""
    return _BY_KIND[kind]
