"""Alertmanager's webhook payload (``version: "4"``), as documented in its configuration reference.

Only what routing needs is read; unknown keys are ignored (Alertmanager adds fields over time).
Annotations are kept in the model because Alertmanager sends them, but nothing downstream reads
them: a parameter never comes from free text a person or an exporter wrote. Pure.
"""

from __future__ import annotations

import enum
from typing import Any

import pydantic

SUPPORTED_VERSION = "4"


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    status: AlertStatus
    labels: dict[str, str] = pydantic.Field(default_factory=dict)
    annotations: dict[str, str] = pydantic.Field(default_factory=dict)
    starts_at: str = pydantic.Field(default="", alias="startsAt")
    ends_at: str = pydantic.Field(default="", alias="endsAt")
    generator_url: str = pydantic.Field(default="", alias="generatorURL")
    fingerprint: str = pydantic.Field(min_length=1, max_length=64, pattern=r"^[0-9a-zA-Z]+$")


class Payload(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    version: str
    group_key: str = pydantic.Field(default="", alias="groupKey")
    receiver: str = ""
    status: AlertStatus
    alerts: tuple[Alert, ...] = pydantic.Field(max_length=1000)

    @pydantic.field_validator("version")
    @classmethod
    def _supported(cls, version: str) -> str:
        if version != SUPPORTED_VERSION:
            raise ValueError(f"unsupported webhook version {version!r} (expected {SUPPORTED_VERSION!r})")
        return version


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook payload; the message says what is wrong."""


def parse(document: Any) -> Payload:
    """The payload, or a :class:`PayloadError` naming the first problem."""
    try:
        return Payload.model_validate(document)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise PayloadError(f"not an Alertmanager webhook payload: {where}: {error['msg']}") from exc
