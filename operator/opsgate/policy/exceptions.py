"""Policy exceptions (``policies/exceptions.yaml``): a named requester, action and policy, until a date.

An exception turns that policy's deny or approval into a pass whose message cites the ticket,
for that requester and action only, and only while ``now < expiresAt``. Every exception carries
a reason and a ticket so the waiver is auditable. An exception naming an unknown policy, or one
whose rule sets ``allowExceptions: false``, fails the load. Pure apart from reading the file.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pydantic

from opsgate.policy import errors

EXCEPTIONS_FILE = "exceptions.yaml"


class PolicyException(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    policy: str
    requester: str
    action: str  # a catalog key
    expires_at: pydantic.AwareDatetime = pydantic.Field(alias="expiresAt")
    reason: str = pydantic.Field(min_length=1)
    ticket: str = pydantic.Field(min_length=1)

    def covers(self, *, policy: str, requester: str, action: str) -> bool:
        return (self.policy, self.requester, self.action) == (policy, requester, action)

    def live(self, now: datetime.datetime) -> bool:
        return now < self.expires_at


def load_exceptions(directory: Path) -> tuple[PolicyException, ...]:
    """``directory/exceptions.yaml``, or none when the file is absent."""
    path = directory / EXCEPTIONS_FILE
    if not path.exists():
        return ()
    document = errors.read_yaml(path)
    if not isinstance(document, dict) or document.get("version") != 1:
        raise errors.PolicyLoadError(f"{path}: expected a mapping with `version: 1`")
    raw_items = document.get("exceptions") or []
    if not isinstance(raw_items, list):
        raise errors.PolicyLoadError(f"{path}: `exceptions` must be a list")
    loaded: list[PolicyException] = []
    for index, raw in enumerate(raw_items):
        try:
            loaded.append(PolicyException.model_validate(raw))
        except pydantic.ValidationError as exc:
            raise errors.PolicyLoadError(
                f"{path}: exception #{index + 1}: {errors.first_error(exc)}"
            ) from exc
    return tuple(loaded)
