"""CEL policies over a request and its plan: Denied, ApprovalRequired or Allowed, with every result.

The public surface::

    policies = PolicySet.load(paths.policies_dir())      # compile once (PolicyLoadError if malformed)
    report = policies.evaluate(PolicyInputs(...))        # per request
    report.decision, report.results, report.approval, report.to_status()

Rule format: :mod:`opsgate.policy.rules`; configuration: :mod:`opsgate.policy.config`;
exceptions: :mod:`opsgate.policy.exceptions`. Pure (no kopf, no Kubernetes client).
"""

from opsgate.policy.config import PolicyConfig
from opsgate.policy.engine import PolicySet
from opsgate.policy.errors import PolicyLoadError
from opsgate.policy.exceptions import PolicyException
from opsgate.policy.inputs import PolicyInputs
from opsgate.policy.report import (
    ApprovalRequirement,
    Decision,
    Outcome,
    PolicyCategory,
    PolicyReport,
    PolicyResult,
    Severity,
)
from opsgate.policy.rules import Rule, Scope

__all__ = [
    "ApprovalRequirement",
    "Decision",
    "Outcome",
    "PolicyCategory",
    "PolicyConfig",
    "PolicyException",
    "PolicyInputs",
    "PolicyLoadError",
    "PolicyReport",
    "PolicyResult",
    "PolicySet",
    "Rule",
    "Scope",
    "Severity",
]
