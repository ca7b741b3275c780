"""Entity normalisers: turn what people write into the values the action catalog accepts.

Requesters write ``prod``, ``5GB``, ``last 2 hours``, ``read-only``; the catalog's parameter
schemas want ``production``, ``5Gi``, ``2h``, ``view``. Both parsers (rules and LLM) pass their
entities through :func:`normalise` so the plan builder sees one spelling. Normalisers never
invent a value: anything they cannot map is returned unchanged, and the schema check decides.
Pure functions; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# The environments are the CRD's (``spec.environment``); this module only maps words onto them.
from opsgate.resources import Environment

ENVIRONMENT_WORDS: dict[str, Environment] = {
    "dev": Environment.DEV,
    "develop": Environment.DEV,
    "development": Environment.DEV,
    "stg": Environment.STAGING,
    "stage": Environment.STAGING,
    "staging": Environment.STAGING,
    "prod": Environment.PRODUCTION,
    "prd": Environment.PRODUCTION,
    "production": Environment.PRODUCTION,
}

ROLE_WORDS: dict[str, str] = {
    "view": "view",
    "viewer": "view",
    "read": "view",
    "readonly": "view",
    "read-only": "view",
    "edit": "edit",
    "editor": "edit",
    "write": "edit",
    "admin": "admin",
    "administrator": "admin",
    "cluster-admin": "cluster-admin",
    "clusteradmin": "cluster-admin",
}

LEVEL_WORDS: dict[str, str] = {
    "debug": "debug",
    "info": "info",
    "warn": "warning",
    "warning": "warning",
    "warnings": "warning",
    "error": "error",
    "errors": "error",
    "critical": "critical",
    "fatal": "critical",
}

METRIC_WORDS: dict[str, str] = {
    "cpu": "cpu_usage",
    "memory": "memory_usage",
    "mem": "memory_usage",
    "ram": "memory_usage",
    "latency": "latency",
    "error rate": "error_rate",
    "request rate": "request_rate",
    "throughput": "request_rate",
    "rps": "request_rate",
}

RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX")

NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}

# unit word -> (compact unit, multiplier)
_DURATION_UNITS: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), ("s", 1)),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), ("m", 1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("h", 1)),
    **dict.fromkeys(("d", "day", "days"), ("d", 1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), ("w", 1)),
    **dict.fromkeys(("month", "months"), ("d", 30)),
}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(\d+)\s*([a-z]+)$")

_QUANTITY_UNITS: dict[str, str] = {
    **dict.fromkeys(("mb", "mib", "mi", "megabyte", "megabytes"), "Mi"),
    **dict.fromkeys(("gb", "gib", "gi", "g", "gig", "gigs", "gigabyte", "gigabytes"), "Gi"),
    **dict.fromkeys(("tb", "tib", "ti", "terabyte", "terabytes"), "Ti"),
}
_QUANTITY = re.compile(r"^(\d+)\s*([a-z]+)$")


def duration_unit(word: str) -> tuple[str, int] | None:
    """The compact unit and multiplier for a unit word (``hours`` -> ``("h", 1)``)."""
    return _DURATION_UNITS.get(word.lower())


def quantity_unit(word: str) -> str | None:
    """The Kubernetes binary suffix for a size unit (``GB`` -> ``Gi``)."""
    return _QUANTITY_UNITS.get(word.lower())


def normalise_environment(value: str) -> str:
    env = ENVIRONMENT_WORDS.get(value.strip().lower())
    return env.value if env else value


def normalise_duration(value: str) -> str:
    """``2 hours`` / ``2hrs`` / ``2h`` -> ``2h``; ``3 months`` -> ``90d``."""
    match = _DURATION.match(value.strip().lower())
    if not match:
        return value
    unit = duration_unit(match.group(2))
    if unit is None:
        return value
    return f"{int(match.group(1)) * unit[1]}{unit[0]}"


def duration_seconds(value: str) -> int | None:
    """Seconds in a duration (``1h`` -> 3600), or None when it is not one."""
    compact = normalise_duration(value)
    match = re.fullmatch(r"(\d+)([smhdw])", compact)
    return int(match.group(1)) * _SECONDS[match.group(2)] if match else None


def normalise_quantity(value: str) -> str:
    """``5GB`` / ``5 gigs`` / ``5Gi`` -> ``5Gi``."""
    match = _QUANTITY.match(value.strip().lower())
    if not match:
        return value
    unit = quantity_unit(match.group(2))
    return f"{int(match.group(1))}{unit}" if unit else value


def normalise_integer(value: Any) -> Any:
    """``"5"`` / ``"five"`` / ``5.0`` -> 5; anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return int(text)
        if text in NUMBER_WORDS:
            return NUMBER_WORDS[text]
    return value


def normalise_list(value: Any) -> Any:
    """``"a, b and c"`` -> ``["a", "b", "c"]``; lists are cleaned the same way."""
    items: list[Any]
    if isinstance(value, str):
        items = [p for p in re.split(r"\s*(?:,|\band\b|\s)\s*", value.strip()) if p]
    elif isinstance(value, list):
        items = value
    else:
        return value
    out: list[Any] = []
    for item in items:
        cleaned = item.strip().lower() if isinstance(item, str) else item
        if cleaned not in out:
            out.append(cleaned)
    return out


def normalise(name: str, value: Any, *, schema: dict[str, Any]) -> Any:
    """Normalise one entity for the parameter ``name`` whose JSON schema is ``schema``."""
    kind = schema.get("type")
    if kind == "integer":
        value = normalise_integer(value)
        if name == "ttl" and isinstance(value, str):
            value = duration_seconds(value) or value
        return value
    if kind == "array":
        return normalise_list(value)
    if kind == "boolean" or not isinstance(value, str):
        return value
    text = value.strip()
    by_name: dict[str, Callable[[str], str]] = {
        "environment": normalise_environment,
        "since": normalise_duration,
        "quota": normalise_quantity,
        "role": lambda v: ROLE_WORDS.get(v.lower().replace(" ", "-"), v),
        "level": lambda v: LEVEL_WORDS.get(v.lower(), v),
        "record_type": lambda v: v.upper(),
        "metric": lambda v: METRIC_WORDS.get(v.lower(), v),
    }
    if name in by_name:
        return by_name[name](text)
    if name in ("value", "instance_type"):
        return text
    return text.lower()
