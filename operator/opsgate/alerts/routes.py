"""Alert routes (``policies/alert-routes.yaml``): which firing alerts become which catalog requests.

A route matches alerts on label equality and fills the catalog entry's parameters from the
alert's *labels* - never from annotations, summaries or descriptions, which are free text an
exporter or a person wrote. Label values are strings; a parameter the entry's schema types as
integer, number or boolean is converted, and the whole parameter object is validated by the
entry's JSON schema before any request is made, so a malformed alert is refused with the reason
instead of becoming a request that can only fail. Loading checks every route against the catalog
(action known, parameters named by its schema), so a typo fails at start-up. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from opsgate import catalog
from opsgate.alerts.webhook import Alert

ROUTES_FILE = "alert-routes.yaml"
LABEL_ROUTE = "opsgate.dev/alert-route"
LABEL_FINGERPRINT = "opsgate.dev/alert-fingerprint"
ANNOTATION_ALERT = "opsgate.dev/alert"

MESSAGE_NO_ROUTE = "no route matches the alert's labels"
MESSAGE_MISSING_LABEL = "route {route}: the alert has no label {label!r} for parameter {parameter!r}"
MESSAGE_NOT_A = "route {route}: label {label}={value!r} is not a valid {kind} for parameter {parameter!r}"
MESSAGE_INVALID = "route {route}: the parameters from the alert's labels are invalid: {error}"
MESSAGE_NO_NAMESPACE = "route {route}: no namespace for the request (no `namespace` parameter and no route namespace)"

_K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class RoutesError(ValueError):
    """The routes file is malformed; the message names the file and the route."""


class RateLimit(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    requests: int = pydantic.Field(ge=1, le=10_000)
    per_seconds: int = pydantic.Field(alias="perSeconds", ge=1, le=7 * 24 * 3600)


class Route(pydantic.BaseModel):
    """One route: the alerts it matches, the action it asks for, how it may earn autonomy."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = pydantic.Field(pattern=_K8S_NAME, max_length=40)
    description: str = ""
    match: dict[str, str] = pydantic.Field(min_length=1)  # label -> value, all must be equal
    action: str
    parameters: dict[str, str] = pydantic.Field(default_factory=dict)  # catalog parameter -> alert label
    # where the request goes when no `namespace` parameter says
    namespace: str | None = pydantic.Field(default=None, pattern=_K8S_NAME)
    # After this many consecutive human-approved runs that succeeded, the route may run without
    # approval (if the autonomy policy allows it); absent: every run is approved by a person.
    promote_after: int | None = pydantic.Field(default=None, alias="promoteAfter", ge=1, le=1000)
    rate_limit: RateLimit = pydantic.Field(
        default_factory=lambda: RateLimit(requests=10, per_seconds=3600), alias="rateLimit"
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match.items())


class RouteSet(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # The username the receiver runs as: only its requests count as a route's history (anyone
    # else labelling a request with a route name neither earns nor spends the route's autonomy).
    requester: str = pydantic.Field(min_length=1)
    routes: tuple[Route, ...] = ()
    source: str = "<memory>"

    def get(self, name: str | None) -> Route | None:
        return next((route for route in self.routes if route.name == name), None)


@dataclasses.dataclass(frozen=True)
class Routed:
    """An alert a route maps to a request."""

    route: Route
    entry: catalog.ActionEntry
    parameters: dict[str, Any]  # validated by the entry's schema (defaults not applied)
    namespace: str  # where the OpsRequest is created


@dataclasses.dataclass(frozen=True)
class Unrouted:
    """An alert no request is made for, and why."""

    reason: str


def route_alert(alert: Alert, *, routes: RouteSet, actions: catalog.Catalog) -> Routed | Unrouted:
    """The first route matching ``alert``'s labels, with its parameters; or why there is none."""
    route = next((r for r in routes.routes if r.matches(alert.labels)), None)
    if route is None:
        return Unrouted(MESSAGE_NO_ROUTE)
    entry = actions.entries[route.action]  # checked at load
    properties = entry.parameters.get("properties", {})
    parameters: dict[str, Any] = {}
    for parameter, label in route.parameters.items():
        if label not in alert.labels:
            return Unrouted(MESSAGE_MISSING_LABEL.format(route=route.name, label=label, parameter=parameter))
        value = _typed(alert.labels[label], properties.get(parameter, {}))
        if value is None:
            kind = properties.get(parameter, {}).get("type", "value")
            return Unrouted(
                MESSAGE_NOT_A.format(
                    route=route.name, label=label, value=alert.labels[label], kind=kind, parameter=parameter
                )
            )
        parameters[parameter] = value
    errors = sorted(entry.validator.iter_errors({**entry.defaults, **parameters}), key=lambda e: list(e.path))
    if errors:
        where = ".".join(str(p) for p in errors[0].path)
        return Unrouted(MESSAGE_INVALID.format(route=route.name, error=f"{where}: {errors[0].message}".lstrip(": ")))
    namespace = parameters.get("namespace") or route.namespace
    if not namespace:
        return Unrouted(MESSAGE_NO_NAMESPACE.format(route=route.name))
    return Routed(route=route, entry=entry, parameters=parameters, namespace=str(namespace))


def _typed(value: str, schema: Mapping[str, Any]) -> Any:
    """A label's string as the schema's type; None if it is not one (the schema judges the rest)."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value, 10)
        if kind == "number":
            return float(value)
    except ValueError:
        return None
    if kind == "boolean":
        return {"true": True, "false": False}.get(value.lower())
    return value


def parse_routes(document: Any, *, source: str, actions: catalog.Catalog) -> RouteSet:
    """Routes from a loaded YAML document, each checked against the catalog."""
    if not isinstance(document, Mapping) or document.get("version") != 1:
        raise RoutesError(f"{source}: expected a mapping with `version: 1`")
    body = {key: value for key, value in document.items() if key != "version"}
    try:
        routes = RouteSet.model_validate({**body, "source": source})
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise RoutesError(f"{source}: {where}: {error['msg']}") from exc
    seen: set[str] = set()
    for route in routes.routes:
        where = f"{source}: route {route.name!r}"
        if route.name in seen:
            raise RoutesError(f"{where}: the name is used twice")
        seen.add(route.name)
        entry = actions.get(route.action)
        if entry is None:
            raise RoutesError(f"{where}: action {route.action!r} is not in the catalog")
        unknown = sorted(set(route.parameters) - set(entry.parameter_names))
        if unknown:
            raise RoutesError(f"{where}: {route.action} has no parameter {unknown[0]!r}")
    return routes


def load_routes(path: Path, *, actions: catalog.Catalog) -> RouteSet:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutesError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise RoutesError(f"{path}: not valid YAML: {exc}") from exc
    return parse_routes(document, source=str(path), actions=actions)
