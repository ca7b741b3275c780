"""Python models of the OpsRequest and Approval custom resources (``opsgate.dev/v1alpha1``).

The CRD manifests in ``crds/`` are the source of truth the API server enforces; these models are
what the controller reads and writes. ``tests/unit/test_resources_match_crds.py`` proves the two
agree (field names, enums, required fields), so neither drifts silently.
Pure data; no I/O.
"""

from __future__ import annotations

import enum
from typing import Any

import pydantic

GROUP = "opsgate.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
OPSREQUEST_PLURAL = "opsrequests"
APPROVAL_PLURAL = "approvals"
MAX_REQUEST_CHARS = 4096
# Who may decide an Approval when no policy names its own groups (DESIGN.md: Approval).
DEFAULT_APPROVER_GROUP = "opsgate-approvers"


class Phase(enum.StrEnum):
    """``status.phase`` of an OpsRequest (fixed vocabulary, see DESIGN.md)."""

    PENDING = "Pending"
    PLANNING = "Planning"
    DENIED = "Denied"
    NEEDS_INFO = "NeedsInfo"
    AWAITING_APPROVAL = "AwaitingApproval"
    APPROVED = "Approved"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    ANSWERED = "Answered"


class Environment(enum.StrEnum):
    """``spec.environment`` and the namespace label ``opsgate.dev/environment``, least strict first."""

    DEV = "dev"
    STAGING = "staging"
    PRODUCTION = "production"


class ApprovalState(enum.StrEnum):
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    EXPIRED = "Expired"


class Verdict(enum.StrEnum):
    """One approver's decision in ``Approval.spec.decisions[].decision``."""

    APPROVE = "Approve"
    REJECT = "Reject"


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class SpecIntent(_Model):
    """``spec.intent``: a structured intent supplied by the requester (parsing is skipped)."""

    category: str
    action: str
    resource_type: str
    entities: dict[str, Any] = pydantic.Field(default_factory=dict)


class OpsRequestSpec(_Model):
    request: str = pydantic.Field(min_length=1, max_length=MAX_REQUEST_CHARS)
    requester: str
    requester_groups: tuple[str, ...] | None = pydantic.Field(default=None, alias="requesterGroups")
    requester_extra: dict[str, list[str]] | None = pydantic.Field(default=None, alias="requesterExtra")
    environment: Environment | None = None
    dry_run: bool = pydantic.Field(default=False, alias="dryRun")
    intent: SpecIntent | None = None


class OpsRequestRef(_Model):
    name: str
    uid: str


class ApprovalSummary(_Model):
    request: str = ""
    action: str = ""
    description: str = ""
    risk: str = ""
    environment: str = ""
    executor: str = ""
    parameters: dict[str, Any] = pydantic.Field(default_factory=dict)
    policy: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class ApprovalDecision(_Model):
    approver: str
    decision: Verdict
    digest: str
    message: str = ""


class ApprovalSpec(_Model):
    ops_request_ref: OpsRequestRef = pydantic.Field(alias="opsRequestRef")
    plan_digest: str = pydantic.Field(alias="planDigest")
    requester: str
    required_approvals: int = pydantic.Field(alias="requiredApprovals", ge=1, le=10)
    approver_groups: tuple[str, ...] = pydantic.Field(alias="approverGroups")
    expires_at: str = pydantic.Field(alias="expiresAt")
    summary: ApprovalSummary
    decisions: tuple[ApprovalDecision, ...] = ()
