"""Policy configuration (``policies/config.yaml``): the knobs the shipped rules read as ``config``.

The rules stay generic (``plan.parameters.region.lowerAscii() in
config.residency.allowedRegions``) and a platform team tunes them here: when MFA is
required and how it is asserted (group, claim), the allowed regions, the production change
window and its time zone, the hourly rate limits and the default approvers. Values are
checked at load (an unknown MFA requirement or time zone, a window that ends before it
starts) and handed to CEL in the shape the rules expect (days as CEL day-of-week numbers, the
window as minutes of the day). Pure apart from reading the file.
"""

from __future__ import annotations

import datetime
import enum
import zoneinfo
from pathlib import Path
from typing import Any

import pydantic

from opsgate.policy import errors, report

CONFIG_FILE = "config.yaml"


class Weekday(enum.StrEnum):
    SUNDAY = "sunday"
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"

    @property
    def cel_number(self) -> int:
        """CEL's ``getDayOfWeek()``: 0 is Sunday."""
        return list(Weekday).index(self)


class _Section(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ApprovalDefaults(_Section):
    required_approvals: int = pydantic.Field(default=report.DEFAULT_REQUIRED_APPROVALS, ge=1, alias="requiredApprovals")
    approver_groups: tuple[str, ...] = pydantic.Field(
        default=report.DEFAULT_APPROVER_GROUPS, alias="approverGroups", min_length=1
    )


class MfaRequirement(enum.StrEnum):
    """When ``mfa-for-privileged-operations`` asks the requester for MFA."""

    APPROVAL = "approval"  # the seed: whenever the plan needs an approval, and for privileged actions
    PRIVILEGED = "privileged"  # only for catalog actions flagged privileged
    NEVER = "never"  # the rule never applies


class Mfa(_Section):
    """MFA: membership in ``group``, or ``userInfo.extra[claim]`` holding one of ``claimValues``."""

    require: MfaRequirement = MfaRequirement.APPROVAL
    group: str = "opsgate-mfa"
    claim: str = "amr"
    claim_values: tuple[str, ...] = pydantic.Field(default=("mfa",), alias="claimValues")


class Residency(_Section):
    allowed_regions: tuple[str, ...] = pydantic.Field(default=("us-east-1", "eu-west-1"), alias="allowedRegions")


class ChangeWindow(_Section):
    time_zone: str = pydantic.Field(default="UTC", alias="timeZone")
    days: tuple[Weekday, ...] = (Weekday.MONDAY, Weekday.WEDNESDAY)
    start: datetime.time = datetime.time(9, 0)
    end: datetime.time = datetime.time(17, 0)

    @pydantic.field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @pydantic.model_validator(mode="after")
    def _ends_after_start(self) -> ChangeWindow:
        if self.end <= self.start:
            raise ValueError(f"the change window must end after it starts ({self.start} to {self.end})")
        return self


class PolicyConfig(_Section):
    approval: ApprovalDefaults = ApprovalDefaults()
    mfa: Mfa = Mfa()
    residency: Residency = Residency()
    change_window: ChangeWindow = pydantic.Field(default=ChangeWindow(), alias="changeWindow")
    rate_limits: dict[str, int] = pydantic.Field(
        default_factory=lambda: {"provision": 10, "delete": 5, "rotate": 20}, alias="rateLimits"
    )

    def to_cel(self) -> dict[str, Any]:
        """The ``config`` variable of every rule."""
        window = self.change_window
        return {
            "mfa": {
                "require": self.mfa.require.value,
                "group": self.mfa.group,
                "claim": self.mfa.claim,
                "claimValues": list(self.mfa.claim_values),
            },
            "residency": {"allowedRegions": [r.lower() for r in self.residency.allowed_regions]},
            "changeWindow": {
                "timeZone": window.time_zone,
                "days": [d.cel_number for d in window.days],
                "dayNames": ", ".join(d.value.capitalize() for d in window.days),
                "startMinute": window.start.hour * 60 + window.start.minute,
                "endMinute": window.end.hour * 60 + window.end.minute,
                "start": window.start.strftime("%H:%M"),
                "end": window.end.strftime("%H:%M"),
            },
            "rateLimits": dict(self.rate_limits),
        }


def load_config(directory: Path) -> PolicyConfig:
    """``directory/config.yaml``, or the shipped defaults when the file is absent."""
    path = directory / CONFIG_FILE
    if not path.exists():
        return PolicyConfig()
    document = errors.read_yaml(path)
    if not isinstance(document, dict) or document.get("version") != 1:
        raise errors.PolicyLoadError(f"{path}: expected a mapping with `version: 1`")
    body = {k: v for k, v in document.items() if k != "version"}
    try:
        return PolicyConfig.model_validate(body)
    except pydantic.ValidationError as exc:
        raise errors.PolicyLoadError(f"{path}: {errors.first_error(exc)}") from exc
