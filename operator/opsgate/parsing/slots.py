"""Fitting entities to a catalog entry's parameters, and checking them against its schema.

Both parsers end here. The rule parser offers candidates found in the text; the LLM parser
offers whatever the model wrote. Either way each value is normalised (``prod`` ->
``production``, ``"5"`` -> 5), checked against the entry's JSON schema for that parameter, and
dropped with a note when it cannot be made valid: the plan builder must never receive a value
the catalog would refuse, and we never invent a required value. Parameters are filled by their
usual names (``email``, ``name``, ``namespace``…); an entry's ``phrases.values`` in the catalog
says which kind of value fills any other parameter (``hostname: domain``), and wins. Pure functions.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from opsgate import entities
from opsgate.catalog import ActionEntry, ValueKind
from opsgate.parsing.extract import Cue, Found

NOTE_DROPPED = "dropped {name}={value!r}: {reason}"
NOTE_UNKNOWN = "dropped {name}: not a parameter of {key}"


def candidates(entry: ActionEntry, found: Found, *, object_name: str | None) -> dict[str, Any]:
    """The values the text offers for each parameter of ``entry`` (before validation)."""
    resource = entry.resource_type
    namespace_cue = None if resource == "namespace" else found.cue(Cue.NAMESPACE)
    used = tuple(n for n in (namespace_cue,) if n)
    out: dict[str, Any] = {
        "email": _first(found.emails),
        "quota": found.quota,
        "environment": found.environment,
        "region": _first(found.regions),
        "node_count": found.node_count,
        "instance_type": _first(found.instance_types),
        "namespace": namespace_cue,
        "since": found.since,
        "image": _first(found.images),
        "groups": found.groups or None,
        "role": found.role,
        "level": found.level,
        "metric": found.metric,
        "tls": found.tls,
    }
    out["domain"] = _first(found.domains)
    out["name"] = _object_name(resource, found, object_name=object_name, exclude=used)
    out["service"] = found.cue(Cue.SERVICE, exclude=used) or (
        found.cue(Cue.FOR, Cue.POSSESSIVE, Cue.TELEMETRY, Cue.DEPLOYMENT, exclude=used) or object_name
        if resource in ("secret", "logs", "metrics", "incidents")
        else found.cue(Cue.FOR, Cue.POSSESSIVE, exclude=used)
        if resource == "mtls"  # "enable mtls for orders-api"; "enforce strict mtls" names nothing
        else None
    )
    if resource == "secret":
        out["name"] = found.cue(Cue.SECRET, exclude=(*used, out["service"] or ""))
    # "a user named kim", "a user and call it kim": a name given to an account is its username
    named_user = found.cue(Cue.NAMED) if resource == "user" else None
    out["username"] = found.cue(Cue.HANDLE) or found.cue(Cue.USER) or named_user
    if resource == "user":
        out["username"] = out["username"] or found.cue(Cue.POSSESSIVE, Cue.TO) or object_name or found.cue(Cue.FOR)
    elif resource == "access" and "role" in entry.parameter_names:
        # "give alice edit access to payments": the person right after the verb gets the role, and
        # "to payments", "on payments" or "in payments" is where; a grant whose namespace is lost
        # would be cluster-wide
        out["username"] = out["username"] or found.cue(Cue.POSSESSIVE) or object_name or found.cue(Cue.TO, Cue.FOR)
        if namespace_cue is None:
            out["namespace"] = found.cue(Cue.WHERE, Cue.TO, exclude=(out["username"] or "",))
    if resource == "deployment" and namespace_cue is None and "namespace" in entry.parameter_names:
        # "bounce the result pods in instavote": where a deployment is, when no environment says it
        where = found.cue(Cue.IN, exclude=(out["name"] or "",))
        if where is not None and found.environment is None:
            out["namespace"] = where
    if resource == "vulnerabilities":
        out["target"] = found.cue(Cue.DEPLOYMENT, Cue.SERVICE)
        if out["target"] is None and not found.images and namespace_cue is None:
            out["target"] = object_name
    if resource == "dns_record":
        _dns(found, out)
    if resource in ("logs", "metrics") and isinstance(out["service"], str):
        out["service"] = _workload_of(out["service"])
    replicas = found.replicas if found.replicas is not None else found.to_number
    out["replicas"] = replicas
    if entry.phrases is not None:
        for name, kind in entry.phrases.values.items():
            out[name] = _of_kind(kind, found, object_name=object_name)
    return {name: value for name, value in out.items() if value is not None}


def _of_kind(kind: ValueKind, found: Found, *, object_name: str | None) -> Any:
    """The first value of ``kind`` in the text, for a parameter the catalog maps to that kind."""
    by_kind: dict[ValueKind, Any] = {
        ValueKind.EMAIL: _first(found.emails),
        ValueKind.DOMAIN: _first(found.domains),
        ValueKind.ADDRESS: _first(found.addresses),
        ValueKind.IMAGE: _first(found.images),
        ValueKind.REGION: _first(found.regions),
        ValueKind.INSTANCE_TYPE: _first(found.instance_types),
        ValueKind.METRIC: found.metric,
        ValueKind.ENVIRONMENT: found.environment,
        ValueKind.DURATION: found.since,
        ValueKind.QUANTITY: found.quota,
        ValueKind.NUMBER: found.replicas if found.replicas is not None else found.to_number,
        ValueKind.NAME: found.cue(Cue.NAMED, Cue.QUOTED) or object_name,
    }
    return by_kind[kind]


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _object_name(resource: str, found: Found, *, object_name: str | None, exclude: tuple[str, ...]) -> str | None:
    by_resource = {
        # "a shared gke cluster … name it knative-shared": the name given outright, before a word by the noun
        "cluster": (Cue.CALLED, Cue.CLUSTER, Cue.NAMED, Cue.QUOTED),
        "namespace": (Cue.CALLED, Cue.NAMESPACE, Cue.NAMED, Cue.QUOTED),
        "deployment": (Cue.DEPLOYMENT, Cue.SERVICE, Cue.NAMED, Cue.QUOTED),
        "service_account": (Cue.SERVICE_ACCOUNT, Cue.NAMED, Cue.QUOTED),
    }
    cues = by_resource.get(resource)
    if cues is None:
        return None
    name = found.cue(*cues, exclude=exclude)
    if name is None and object_name not in exclude:
        name = object_name
    if name is None and resource == "deployment":
        name = found.cue(Cue.FOR, Cue.POSSESSIVE, exclude=exclude)
    if name is None and resource in ("namespace", "cluster"):
        # "Namespace creation requested for laa-data-stewardship-access-dev": a resource-shaped name (with
        # a dash) after "for" is the new one's; "a namespace for payments" may name the team it serves
        named = found.cue(Cue.FOR, exclude=exclude)
        name = named if named is not None and "-" in named else None
    return name


def _dns(found: Found, out: dict[str, Any]) -> None:
    value: str | None = None
    if found.zone_record is not None:
        out["domain"], value = found.zone_record  # "CNAME x.is-cod.in y.github.io 3600"
    elif found.addresses:
        value = found.addresses[0]
    elif found.phrases:
        value = found.phrases[0]
    elif found.trailing_value is not None:
        value = found.trailing_value
    elif found.record_value is not None:
        value = found.record_value
    elif len(found.domains) > 1 and found.pointed_at is not None:
        # "add a cname pointing to hosting.gitbook.com for docs.acme.org": the record is the other name
        value = found.pointed_at
        out["domain"] = next(domain for domain in found.domains if domain != value)
    elif len(found.domains) > 1:
        value = found.domains[1]
    out["value"] = value
    out["ttl"] = found.ttl
    record_type = found.record_type
    if record_type is None and found.addresses:
        record_type = "AAAA" if ":" in found.addresses[0] else "A"
    out["record_type"] = record_type


_VALIDATORS: dict[tuple[str, str, int], jsonschema.protocols.Validator] = {}


def _validator(key: str, name: str, schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """One compiled validator per parameter schema (keyed by the schema object's identity)."""
    cache_key = (key, name, id(schema))
    validator = _VALIDATORS.get(cache_key)
    if validator is None:
        validator = _VALIDATORS[cache_key] = jsonschema.Draft202012Validator(schema)
    return validator


def fit(entry: ActionEntry, values: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Normalise ``values`` for ``entry`` and keep only those its schema accepts."""
    properties: dict[str, Any] = entry.parameters.get("properties", {})
    kept: dict[str, Any] = {}
    notes: list[str] = []
    for name, raw in values.items():
        schema = properties.get(name)
        if schema is None:
            notes.append(NOTE_UNKNOWN.format(name=name, key=entry.key))
            continue
        value = entities.normalise(name, raw, schema=schema)
        error = jsonschema.exceptions.best_match(_validator(entry.key, name, schema).iter_errors(value))
        if error is not None:
            shown = value if len(repr(value)) <= 60 else f"{str(value)[:57]}..."
            notes.append(NOTE_DROPPED.format(name=name, value=shown, reason=error.message[:120]))
            continue
        kept[name] = value
    return kept, tuple(notes)


# A pod of a Deployment: "<deployment>-<replicaset hash>-<pod suffix>" ("istio-ingressgateway-86b5dbdcb9-vlt5n")
_POD_OF_DEPLOYMENT = re.compile(r"^(?P<workload>[a-z0-9][-a-z0-9]*?)-(?P<hash>[a-z0-9]{8,10})-[a-z0-9]{5}$")


def _workload_of(name: str) -> str:
    """The service a pod belongs to, when ``name`` is a Deployment's pod name: its logs are the service's."""
    match = _POD_OF_DEPLOYMENT.match(name)
    if match is None or not any(ch.isdigit() for ch in match["hash"]):
        return name
    return match["workload"]
