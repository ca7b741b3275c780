"""Validated changes that undo themselves: what a rollback runs, read from the capture step.

A catalog entry with a ``rollback`` runs a read-only capture playbook before its change; that
playbook publishes the inverse's parameters (``set_stats: data.rollback_parameters``). They are
checked against the inverse entry's schema *before* the change runs - a change that could not be
undone is not started - and recorded in the result, whether or not they are used. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsgate import catalog

PUBLISHED_KEY = "rollback_parameters"
MESSAGE_NOT_PUBLISHED = (
    "the capture playbook {playbook} published no {key}: nothing can undo the change, so it was not run"
)
MESSAGE_INVALID = "the captured rollback parameters are invalid for {action}: {error}; the change was not run"


class CaptureError(ValueError):
    """The capture step gave nothing usable; the message says why (and that nothing changed)."""


def inverse_parameters(
    published: Mapping[str, Any], *, entry: catalog.ActionEntry, inverse: catalog.ActionEntry
) -> dict[str, Any]:
    """The inverse's parameters from what the capture playbook published, schema-checked."""
    assert entry.rollback is not None
    raw = published.get(PUBLISHED_KEY)
    if not isinstance(raw, Mapping) or not raw:
        raise CaptureError(MESSAGE_NOT_PUBLISHED.format(playbook=entry.rollback.capture, key=PUBLISHED_KEY))
    properties = inverse.parameters.get("properties", {})
    parameters = {str(k): _typed(v, properties.get(str(k), {})) for k, v in raw.items()}
    errors = sorted(inverse.validator.iter_errors(parameters), key=lambda e: list(e.path))
    if errors:
        where = ".".join(str(p) for p in errors[0].path)
        raise CaptureError(
            MESSAGE_INVALID.format(action=inverse.key, error=f"{where}: {errors[0].message}".lstrip(": "))
        )
    return parameters


def _typed(value: Any, schema: Mapping[str, Any]) -> Any:
    """A templated value as the schema's type (Ansible may hand an integer back as its digits)."""
    if schema.get("type") == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def record(action: str, parameters: Mapping[str, Any], *, state: str, summary: str | None = None) -> dict[str, Any]:
    """The ``rollback`` object of a result."""
    document: dict[str, Any] = {"action": action, "parameters": dict(parameters), "state": state}
    if summary:
        document["summary"] = summary
    return document
