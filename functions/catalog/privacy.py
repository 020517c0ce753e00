"""Privacy and data rights (issue 13): the record of processing activities, consent and the data subject rights."""

from __future__ import annotations

from functools import partial

from firstmile.limits.models import RouteClass
from firstmile.platform.resources import PRIVACY_REQUESTS_QUEUE
from functions.catalog.model import Access, Function, HttpMethod, Queue, Route, Schedule, http_function

STACK = "privacy"
# The data subject requests: their routes, worker and deadline job (decision 0083).
REQUESTS_STACK = "privacy_requests"
_QUEUED = (PRIVACY_REQUESTS_QUEUE,)
_REQUEST = "/v1/admin/dsr/requests/{request_id}"
_admin_dsr = partial(http_function, domain="privacy", stack=REQUESTS_STACK, role="admin", table="write")


def _user_request(
    name: str,
    method: HttpMethod,
    path: str,
    description: str,
    *,
    rate_class: RouteClass | None = None,
    access: Access | None = None,
) -> Function:
    """A user's own privacy-request route: by default it writes the request and queues it for the worker."""
    return Function(
        name=name,
        domain="privacy",
        stack=REQUESTS_STACK,
        description=description,
        trigger=Route(method, path, "user", rate_class=rate_class),
        access=access or Access(table="write", sends_to=_QUEUED),
    )


_user = partial(http_function, domain="privacy", stack=STACK, role="user")

FUNCTIONS: tuple[Function, ...] = (
    _user(
        "compliance_consent_get",
        "GET",
        "/v1/compliance/consent",
        "The caller's consent per purpose and cookie category, and their newest choices.",
        table="read",
    ),
    _user(
        "compliance_consent_set",
        "POST",
        "/v1/compliance/consent",
        "Grants or withdraws consent; withdrawing analytics marks the caller's progress at once.",
        table="write",
        # Each change adds records to the user's history: an ordinary write budget (20 a minute).
        rate_class=RouteClass.USER_WRITE,
    ),
    _user(
        "compliance_policies_get",
        "GET",
        "/v1/compliance/policies",
        "The tenant's current privacy-policy and terms versions, and every version published.",
        table="read",
    ),
    _user(
        "me_rectify",
        "PATCH",
        "/v1/me",
        "Corrects the attributes kept about the caller (country, locale, plan, returning); a rights request.",
        table="write",
        rate_class=RouteClass.USER_WRITE,
    ),
    http_function(
        "admin_policy_publish",
        "POST",
        "/v1/admin/compliance/policies",
        "Publishes a privacy-policy or terms version; users who accepted an older one must accept it (audited).",
        domain="privacy",
        stack=STACK,
        role="admin",
        table="write",
    ),
    http_function(
        "compliance_registry",
        "GET",
        "/v1/compliance/registry",
        "The tenant's Article 30 record of what Firstmile stores, from the declarations of every item kind.",
        domain="privacy",
        stack=STACK,
        role="admin",
        table="none",
    ),
    _user_request(
        "compliance_export_request",
        "POST",
        "/v1/compliance/export/request",
        "Asks for a package of everything stored about the caller; the request worker makes it.",
        rate_class=RouteClass.PRIVACY_REQUEST,
    ),
    # Signing a download link needs the right to read the object the link names.
    _user_request(
        "compliance_export_get",
        "GET",
        "/v1/compliance/export/{request_id}",
        "The caller's export request; when complete, a download link valid five minutes.",
        access=Access(table="read", exports_bucket="read"),
    ),
    _user_request(
        "compliance_deletion_request",
        "POST",
        "/v1/compliance/deletion/request",
        "Asks for the caller's erasure: a six-digit code is sent to them, valid ten minutes.",
        rate_class=RouteClass.PRIVACY_REQUEST,
        access=Access(table="write", sends_email=True),
    ),
    _user_request(
        "compliance_deletion_verify",
        "POST",
        "/v1/compliance/deletion/verify",
        "Checks the erasure code: five wrong codes close the request; an expired code is refused.",
        rate_class=RouteClass.VERIFICATION_CHECK,
    ),
    _user_request(
        "compliance_deletion_execute",
        "POST",
        "/v1/compliance/deletion/execute",
        "Runs a verified erasure: the request worker removes everything stored about the caller.",
    ),
    Function(
        name="privacy_request_worker",
        domain="privacy",
        stack=REQUESTS_STACK,
        description="Carries out approved requests: gathers an export, or erases a user step by step (resumable).",
        trigger=Queue(PRIVACY_REQUESTS_QUEUE, batch_size=1, max_receive_count=5),
        memory_mb=512,
        timeout_seconds=300,
        reserved_concurrency=2,
        access=Access(table="write", exports_bucket="write", archive_bucket="erase"),
    ),
    Function(
        name="privacy_deadline_job",
        domain="privacy",
        stack=REQUESTS_STACK,
        description="Daily: counts open and overdue requests (metric, alarm) and queues again approved requests "
        "that waited too long.",
        trigger=Schedule("cron(0 6 * * ? *)"),
        timeout_seconds=300,
        reserved_concurrency=1,
        # Writes only when invoked after a restore: a new erasure request for each erased user whose data is back.
        access=Access(table="write", sends_to=_QUEUED),
    ),
    Function(
        name="privacy_retention_job",
        domain="privacy",
        stack=REQUESTS_STACK,
        description="Daily: deletes what is past its retention from the time-bucketed retention index (no Scan).",
        trigger=Schedule("cron(30 3 * * ? *)"),
        timeout_seconds=300,
        reserved_concurrency=1,
        access=Access(table="write"),
    ),
    _admin_dsr(
        "admin_dsr_export",
        "POST",
        "/v1/admin/dsr/export",
        "Records an export request received elsewhere for a user (audited; a second admin approves it when the "
        "tenant asks).",
        sends_to=_QUEUED,
    ),
    _admin_dsr(
        "admin_dsr_delete",
        "POST",
        "/v1/admin/dsr/delete",
        "Records an erasure request received elsewhere for a user (audited; a second admin approves it when the "
        "tenant asks).",
        sends_to=_QUEUED,
    ),
    _admin_dsr(
        "admin_dsr_list",
        "GET",
        "/v1/admin/dsr/requests",
        "The tenant's privacy requests, by state or past their deadline, with counts per state.",
        table="read",
    ),
    _admin_dsr("admin_dsr_get", "GET", _REQUEST, "One privacy request of the tenant.", table="read"),
    _admin_dsr(
        "admin_dsr_approve",
        "POST",
        f"{_REQUEST}/approve",
        "Approves a pending request (another admin than the one who recorded it); it is queued.",
        sends_to=_QUEUED,
    ),
    _admin_dsr("admin_dsr_deny", "POST", f"{_REQUEST}/deny", "Refuses an open request, with the reason (audited)."),
    _admin_dsr(
        "admin_privacy_settings_get",
        "GET",
        "/v1/admin/compliance/settings",
        "The tenant's privacy settings.",
        table="read",
    ),
    _admin_dsr(
        "admin_privacy_settings_put",
        "PUT",
        "/v1/admin/compliance/settings",
        "Sets whether an erasure runs on verification and whether admins' requests need a second admin (audited).",
    ),
)
