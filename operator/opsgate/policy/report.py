"""What a policy evaluation says: one result per policy and the decision they add up to.

Results are shaped like the results of a Kubernetes ``PolicyReport`` (wg-policy): policy,
result, severity, category, message; ``to_status()`` is ``status.policy`` of an OpsRequest.
The decision is a pure fold over the results: any deny → Denied; else any approval →
ApprovalRequired; else Allowed. Pure data; no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import pydantic
from pydantic import alias_generators

from opsgate import resources

DEFAULT_APPROVER_GROUPS: tuple[str, ...] = (resources.DEFAULT_APPROVER_GROUP,)
DEFAULT_REQUIRED_APPROVALS = 1


class Decision(enum.StrEnum):
    DENIED = "Denied"
    APPROVAL_REQUIRED = "ApprovalRequired"
    ALLOWED = "Allowed"


class Outcome(enum.StrEnum):
    """The result of one policy (``results[].result``)."""

    PASS = "pass"  # noqa: S105 - a policy result, not a password
    DENY = "deny"
    APPROVAL = "approval"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class PolicyCategory(enum.StrEnum):
    """What a policy guards (``results[].category``, as in a wg-policy PolicyReport).

    Not :class:`opsgate.intent.Category`, which says what kind of action a request asks for
    (provision, identity…): a security policy judges provisioning requests too.
    """

    SECURITY = "security"
    COMPLIANCE = "compliance"
    OPERATIONAL = "operational"


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class PolicyResult(_Frozen):
    policy: str
    result: Outcome
    severity: Severity
    category: PolicyCategory
    message: str


class ApprovalRequirement(_Frozen):
    """How many distinct approvers, from which groups, an ApprovalRequired decision needs.

    Dumped by alias it is the Approval's ``spec.requiredApprovals`` / ``spec.approverGroups``.
    """

    model_config = pydantic.ConfigDict(alias_generator=alias_generators.to_camel)

    required_approvals: int = pydantic.Field(default=DEFAULT_REQUIRED_APPROVALS, ge=1)
    approver_groups: tuple[str, ...] = DEFAULT_APPROVER_GROUPS


class PolicyReport(_Frozen):
    decision: Decision
    results: list[PolicyResult]
    approval: ApprovalRequirement = ApprovalRequirement()

    @property
    def denials(self) -> list[PolicyResult]:
        return [r for r in self.results if r.result is Outcome.DENY]

    @property
    def approvals(self) -> list[PolicyResult]:
        return [r for r in self.results if r.result is Outcome.APPROVAL]

    def to_status(self) -> dict[str, Any]:
        """``status.policy``: ``{decision, results[]}``."""
        return {
            "decision": self.decision.value,
            "results": [r.model_dump(mode="json") for r in self.results],
        }


def decide(results: Sequence[PolicyResult]) -> Decision:
    """Any deny → Denied; else any approval → ApprovalRequired; else Allowed."""
    outcomes = {r.result for r in results}
    if Outcome.DENY in outcomes:
        return Decision.DENIED
    if Outcome.APPROVAL in outcomes:
        return Decision.APPROVAL_REQUIRED
    return Decision.ALLOWED
