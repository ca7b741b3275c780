"""The action catalog (``policies/actions.yaml``): the allow-list of what OpsGate can run.

Parsers may only name an entry of this catalog; the entry fixes the executor and validates the
parameters with its JSON schema. Loading checks everything a typo could break (schema validity,
defaults against the schema, executor files present) so a malformed catalog fails at start-up
with the file and the entry named, never later while a request is in flight.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import yaml

from opsgate import paths


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the file and the entry."""


class ExecutorKind(enum.StrEnum):
    ANSIBLE = "ansible"
    TERRAFORM = "terraform"
    NONE = "none"  # informational: answered in status, nothing runs


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RateClass(enum.StrEnum):
    PROVISION = "provision"
    DELETE = "delete"
    ROTATE = "rotate"
    READ = "read"


class Executor(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    kind: ExecutorKind
    playbook: str | None = None
    module: str | None = None

    @pydantic.model_validator(mode="after")
    def _target_matches_kind(self) -> Executor:
        if self.kind is ExecutorKind.ANSIBLE and not self.playbook:
            raise ValueError("an ansible executor needs `playbook`")
        if self.kind is ExecutorKind.TERRAFORM and not self.module:
            raise ValueError("a terraform executor needs `module`")
        if self.kind is ExecutorKind.NONE and (self.playbook or self.module):
            raise ValueError("executor kind `none` takes no playbook or module")
        return self

    @property
    def path(self) -> str | None:
        """The playbook or module path, relative to the OpsGate home."""
        return self.playbook or self.module


class ActionEntry(pydantic.BaseModel):
    """One catalog entry. ``key`` is ``category.action.resource_type``."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    key: str
    description: str
    parameters: dict[str, Any]
    defaults: dict[str, Any] = pydantic.Field(default_factory=dict)
    executor: Executor
    requires_approval: bool = pydantic.Field(alias="requiresApproval")
    risk: Risk
    privileged: bool = False
    rate_class: RateClass = pydantic.Field(alias="rateClass")
    informational: bool = False

    @property
    def category(self) -> str:
        return self.key.split(".")[0]

    @property
    def action(self) -> str:
        return self.key.split(".")[1]

    @property
    def resource_type(self) -> str:
        return self.key.split(".")[2]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("properties", {}))

    @functools.cached_property
    def validator(self) -> jsonschema.protocols.Validator:
        return jsonschema.Draft202012Validator(self.parameters)


class Catalog(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)

    entries: dict[str, ActionEntry]
    source: str = "<memory>"

    def get(self, key: str | None) -> ActionEntry | None:
        return self.entries.get(key) if key else None

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.entries)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({e.category for e in self.entries.values()}))

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(sorted({e.action for e in self.entries.values()}))

    @property
    def resource_types(self) -> tuple[str, ...]:
        return tuple(sorted({e.resource_type for e in self.entries.values()}))

    @property
    def entity_names(self) -> tuple[str, ...]:
        names: set[str] = set()
        for entry in self.entries.values():
            names.update(entry.parameter_names)
        return tuple(sorted(names))


def parse_catalog(document: Mapping[str, Any], *, source: str, home: Path | None = None) -> Catalog:
    """Build a catalog from a loaded YAML document; ``home`` (if given) must hold the executors."""
    if not isinstance(document, Mapping) or not isinstance(document.get("actions"), Mapping):
        raise CatalogError(f"{source}: expected a mapping with an `actions` mapping")
    if document.get("version") != 1:
        raise CatalogError(f"{source}: unsupported catalog version {document.get('version')!r} (expected 1)")
    entries: dict[str, ActionEntry] = {}
    for key, raw in document["actions"].items():
        where = f"{source}: action {key!r}"
        if not isinstance(key, str) or key.count(".") != 2 or not all(key.split(".")):
            raise CatalogError(f"{where}: key must be category.action.resource_type")
        if not isinstance(raw, Mapping):
            raise CatalogError(f"{where}: expected a mapping")
        try:
            entry = ActionEntry.model_validate({"key": key, **raw})
        except pydantic.ValidationError as exc:
            raise CatalogError(f"{where}: {_first_error(exc)}") from exc
        _check_entry(entry, where=where, home=home)
        entries[key] = entry
    if not entries:
        raise CatalogError(f"{source}: the catalog has no actions")
    return Catalog(entries=entries, source=source)


def load_catalog(path: Path | None = None, *, check_executors: bool = True) -> Catalog:
    """Load and check ``policies/actions.yaml`` (or ``path``)."""
    path = path or paths.catalog_file()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    home = path.resolve().parent.parent if check_executors else None
    return parse_catalog(document, source=str(path), home=home)


@functools.cache
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once per process."""
    return load_catalog()


def _check_entry(entry: ActionEntry, *, where: str, home: Path | None) -> None:
    schema = entry.parameters
    if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
        raise CatalogError(f"{where}: parameters must be an object schema with additionalProperties: false")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise CatalogError(f"{where}: invalid parameter schema: {exc.message}") from exc
    unknown = set(entry.defaults) - set(entry.parameter_names)
    if unknown:
        raise CatalogError(f"{where}: defaults for unknown parameters {sorted(unknown)}")
    for name, value in entry.defaults.items():
        errors = list(jsonschema.Draft202012Validator(schema["properties"][name]).iter_errors(value))
        if errors:
            raise CatalogError(f"{where}: default {name}={value!r} is invalid: {errors[0].message}")
    if entry.informational and entry.executor.kind is not ExecutorKind.NONE:
        raise CatalogError(f"{where}: an informational action runs nothing (executor kind `none`)")
    target = entry.executor.path
    if home is not None and target is not None:
        resolved = (home / target).resolve()
        if not resolved.is_relative_to(home.resolve()):
            raise CatalogError(f"{where}: executor path {target!r} leaves the OpsGate home")
        if not resolved.exists():
            raise CatalogError(f"{where}: executor {target!r} does not exist under {home}")


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "entry"
    return f"{field}: {err['msg']}"
