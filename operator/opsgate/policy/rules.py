"""The rule file format (``policies/*.yaml`` besides the catalog, the config and the exceptions).

A rule file holds ``version: 1`` and a list of ``rules``. Each rule::

    - name: no-production-deletion        # the policy name in results and exceptions
      category: operational               # security | compliance | operational
      severity: critical                  # low | medium | high | critical
      description: Nothing in production is deleted through OpsGate.
      scope: plan                         # plan (default): needs a plan; request: runs on every request
      stage: first                        # first (default); second: runs after every first-stage rule
                                          # and also sees `policy` (their approvals and denials)
      match: plan.environment == 'production'   # CEL: does the rule apply? (default true)
      violation: intent.action == 'delete'      # CEL: is the request in breach?
      decision: deny                      # deny | approval
      message: Deleting in production is not allowed   # or messageExpression (CEL string)
      allowExceptions: true               # may policies/exceptions.yaml waive it? (default true)
      approval: {requiredApprovals: 2, approverGroups: [security-approvers]}  # approval rules only

Pure data plus reading the files; compiling is the engine's job.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pydantic

from opsgate.policy import errors, report

# Files in the policy directory that are not rule files.
NON_RULE_FILES = frozenset({"actions.yaml", "config.yaml", "exceptions.yaml", "alert-routes.yaml"})
RULE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Scope(enum.StrEnum):
    PLAN = "plan"  # evaluated when a plan was built; sees `plan`
    REQUEST = "request"  # evaluated on every request, even one that could not be planned


class Stage(enum.StrEnum):
    """When a rule runs. A second-stage rule reads what the first stage decided, never another second-stage rule's."""

    FIRST = "first"
    SECOND = "second"  # sees ``policy.approvals`` / ``policy.denials``: names of first-stage rules, after exceptions


class RuleDecision(enum.StrEnum):
    DENY = "deny"
    APPROVAL = "approval"

    @property
    def outcome(self) -> report.Outcome:
        return report.Outcome(self.value)


class RuleApproval(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    required_approvals: int = pydantic.Field(default=1, ge=1, alias="requiredApprovals")
    approver_groups: tuple[str, ...] = pydantic.Field(default=(), alias="approverGroups")


class Rule(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = pydantic.Field(pattern=RULE_NAME_PATTERN, max_length=63)
    category: report.PolicyCategory
    severity: report.Severity
    description: str = ""
    scope: Scope = Scope.PLAN
    stage: Stage = Stage.FIRST
    match: str = "true"
    violation: str
    decision: RuleDecision
    message: str | None = None
    message_expression: str | None = pydantic.Field(default=None, alias="messageExpression")
    allow_exceptions: bool = pydantic.Field(default=True, alias="allowExceptions")
    approval: RuleApproval | None = None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Rule:
        if (self.message is None) == (self.message_expression is None):
            raise ValueError("give exactly one of `message` and `messageExpression`")
        if self.approval is not None and self.decision is not RuleDecision.APPROVAL:
            raise ValueError("`approval` only goes with `decision: approval`")
        return self


def rule_files(directory: Path) -> list[Path]:
    """The rule files of a policy directory, in name order (the order of the results)."""
    return sorted(p for p in directory.glob("*.yaml") if p.name not in NON_RULE_FILES)


def load_rules(path: Path) -> list[Rule]:
    """The rules of one file; a malformed rule raises ``PolicyLoadError`` naming file and rule."""
    document = errors.read_yaml(path)
    if not isinstance(document, dict) or document.get("version") != 1 or not isinstance(document.get("rules"), list):
        raise errors.PolicyLoadError(f"{path}: expected a mapping with `version: 1` and a `rules` list")
    rules: list[Rule] = []
    for index, raw in enumerate(document["rules"]):
        where = f"{path}: rule {_rule_name(raw, index)}"
        try:
            rules.append(Rule.model_validate(raw))
        except pydantic.ValidationError as exc:
            raise errors.PolicyLoadError(f"{where}: {errors.first_error(exc)}") from exc
    return rules


def _rule_name(raw: Any, index: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return repr(name) if isinstance(name, str) else f"#{index + 1}"
