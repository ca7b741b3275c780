"""The action catalog (``policies/actions.yaml``): the allow-list of what OpsGate can run.

Parsers may only name an entry of this catalog; the entry fixes the executor and validates the
parameters with its JSON schema. The catalog is also the only place an action is *described*:
its ``phrases`` say which verbs and resource nouns name it, the top-level ``nouns`` give the
words of each noun, and its ``examples`` are requests as people write them (what the semantic
matcher compares a request with), so the parsers build their tables from the catalog they are
given and a platform team adds an action, or a way of asking for one, without touching Python.
Loading checks everything a typo could break (schema validity, defaults against the schema,
executor files present, phrases naming known verb classes, nouns and parameters) so a malformed
catalog fails at start-up with the file and the entry named, never later while a request is in
flight.
"""

from __future__ import annotations

import enum
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

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


class Verb(enum.StrEnum):
    """The verb classes a phrase block may name; :mod:`opsgate.parsing.vocabulary` maps words to them."""

    CREATE = "create"
    DELETE = "delete"
    SCALE = "scale"
    RESTART = "restart"
    ROTATE = "rotate"
    ISSUE = "issue"
    REVOKE = "revoke"
    ENABLE = "enable"
    GRANT = "grant"
    QUERY = "query"
    SUMMARIZE = "summarize"
    SCAN = "scan"
    GENERATE = "generate"
    AUDIT = "audit"
    # An operation the catalog has no entry for ("roll back", "drain"): the parser knows it so it
    # is not read as a nearby verb. No phrase block may name it.
    UNSUPPORTED = "unsupported"


class Strength(enum.StrEnum):
    STRONG = "strong"  # the noun names the resource ("restart deployment web")
    WEAK = "weak"  # the noun only hints at it ("scan the shop namespace"), and only with the entry's own verb


class ValueKind(enum.StrEnum):
    """Kinds of value the rule parser finds in a request's text, by their shape or their cue."""

    EMAIL = "email"
    DOMAIN = "domain"  # a DNS name: "shop.acme.org"
    ADDRESS = "address"  # an IP address
    IMAGE = "image"  # a container image reference: "ghcr.io/acme/api:2.0"
    REGION = "region"
    INSTANCE_TYPE = "instance_type"
    METRIC = "metric"  # a Prometheus metric name: "http_requests_total"
    ENVIRONMENT = "environment"
    DURATION = "duration"  # "last 2 hours" -> 2h
    QUANTITY = "quantity"  # "5 GB" -> 5Gi
    NUMBER = "number"  # "to 3", "3 replicas"
    NAME = "name"  # the name the request gives its object: "named x", "'x'", "restart x"


_MAX_PHRASE_WORDS = 4  # the rule parser matches phrases of up to four words


def _phrase(value: str) -> str:
    words = value.split()
    if not words:
        raise ValueError("a phrase cannot be empty")
    if len(words) > _MAX_PHRASE_WORDS:
        raise ValueError(f"{value!r} has more than {_MAX_PHRASE_WORDS} words")
    return " ".join(words).lower()


Phrase = Annotated[str, pydantic.AfterValidator(_phrase)]

_MAX_EXAMPLES = 24
_MAX_EXAMPLE_CHARS = 300


def _example(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ValueError("an example request cannot be empty")
    if len(text) > _MAX_EXAMPLE_CHARS:
        raise ValueError(f"an example request has at most {_MAX_EXAMPLE_CHARS} characters: {text[:40]!r}…")
    return text


Example = Annotated[str, pydantic.AfterValidator(_example)]


class Noun(pydantic.BaseModel):
    """A resource noun of the top-level ``nouns`` section, shared by the entries that name it."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    words: tuple[Phrase, ...] = pydantic.Field(min_length=1)
    # values that stand for the noun where the text has no word for it: a metric name is a metric
    # ("graph http_requests_total"); an image after a verb is an image ("scan ghcr.io/acme/api:2.0");
    # a DNS name after a verb is a site ("take down promo.acme.org"); a DNS name given an IP address
    # is a record ("point shop.acme.org at 203.0.113.7")
    values: tuple[Literal[ValueKind.METRIC, ValueKind.IMAGE, ValueKind.DOMAIN, ValueKind.ADDRESS], ...] = ()


class Phrases(pydantic.BaseModel):
    """How a request names an entry in words: what the rule parser reads (the LLM reads the description)."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    verbs: tuple[Verb, ...] = pydantic.Field(min_length=1)
    nouns: dict[str, Strength] = pydantic.Field(min_length=1)
    alone: bool = False
    idioms: tuple[Phrase, ...] = ()
    implies: tuple[Phrase, ...] = ()
    values: dict[str, ValueKind] = pydantic.Field(default_factory=dict)

    @pydantic.field_validator("verbs")
    @classmethod
    def _no_unsupported(cls, verbs: tuple[Verb, ...]) -> tuple[Verb, ...]:
        if Verb.UNSUPPORTED in verbs:
            raise ValueError("`unsupported` marks operations the catalog lacks; an entry cannot name it")
        return verbs

    @property
    def strong_nouns(self) -> tuple[str, ...]:
        return tuple(noun for noun, strength in self.nouns.items() if strength is Strength.STRONG)


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


_KV_PATH = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"


class Secret(pydantic.BaseModel):
    """A secret an entry's executor reads: where it lives in Vault (KV v2) and which key.

    Declared per entry under ``secrets`` as ``{<var name>: {path, key, optional}}``; the var name
    is what the playbook reads (an extra var marked no_log). The declaration is part of the entry,
    so the plan digest covers which secrets a run may read.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    path: str = pydantic.Field(pattern=_KV_PATH)  # under the KV v2 mount, e.g. opsgate/mail
    key: str = pydantic.Field(min_length=1)
    optional: bool = False  # the run goes on without it (the playbook checks `is defined`)


_PLAYBOOK_PATH = r"^playbooks/[A-Za-z0-9_./-]+\.ya?ml$"


class Validation(pydantic.BaseModel):
    """How to tell the change held: a playbook that fails if it did not, within ``timeoutSeconds``.

    It runs right after the entry's playbook succeeded, with the same parameters plus
    ``opsgate_validation_timeout`` (e.g. ``60s``); a failure rolls the change back (``rollback``).
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    playbook: str = pydantic.Field(pattern=_PLAYBOOK_PATH)
    timeout_seconds: int = pydantic.Field(default=60, alias="timeoutSeconds", ge=1, le=3600)


class Rollback(pydantic.BaseModel):
    """How to undo the change: the inverse action, its parameters captured before the change.

    ``capture`` is a read-only playbook run before the entry's own; it publishes the inverse's
    parameters with ``set_stats: {data: {rollback_parameters: {...}}}``, which the inverse entry's
    schema validates. ``action`` (default: this entry) is the catalog entry that applies them.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    capture: str = pydantic.Field(pattern=_PLAYBOOK_PATH)
    action: str | None = None


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
    # without phrases only the LLM or a structured spec.intent can name the entry
    phrases: Phrases | None = None
    # var name (as the playbook reads it) -> where the executor fetches it from Vault
    secrets: dict[str, Secret] = pydantic.Field(default_factory=dict)
    # requests as people write them for this entry: what the semantic matcher compares a request
    # with (opsgate.parsing.semantic). Teaching data, not part of what runs (the plan digest omits it).
    examples: tuple[Example, ...] = pydantic.Field(default=(), max_length=_MAX_EXAMPLES)
    # after the change: did it hold? (ansible executors; see Validation) and how to undo it
    validation: Validation | None = None
    rollback: Rollback | None = None

    @property
    def rollback_action(self) -> str | None:
        """The catalog key that undoes this entry's change, if it declares one."""
        if self.rollback is None:
            return None
        return self.rollback.action or self.key

    @property
    def step_playbooks(self) -> tuple[str, ...]:
        """The playbooks besides the executor's that a run of this entry may execute."""
        return tuple(
            p for p in (self.rollback and self.rollback.capture, self.validation and self.validation.playbook) if p
        )

    @pydantic.field_validator("examples")
    @classmethod
    def _distinct_examples(cls, examples: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for example in examples:
            if example.casefold() in seen:
                raise ValueError(f"{example!r} is listed twice")
            seen.add(example.casefold())
        return examples

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
    nouns: dict[str, Noun] = pydantic.Field(default_factory=dict)
    source: str = "<memory>"
    # Learned from corrections (opsgate.audit.learning), never from the YAML: phrase -> entry key
    # the rule parser reads as that entry's verb and first noun, and examples the LLM is shown.
    # Kept apart from the entries so a plan's digest (which covers its entry) does not move.
    learned: dict[str, str] = pydantic.Field(default_factory=dict)
    examples: tuple[tuple[str, str], ...] = ()  # (request text, intent JSON) corrected by people

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
    nouns = _parse_nouns(document.get("nouns", {}), source=source)
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
        if entry.phrases is not None:
            _check_phrases(entry, entry.phrases, nouns=nouns, where=where)
        entries[key] = entry
    if not entries:
        raise CatalogError(f"{source}: the catalog has no actions")
    _check_alone(entries, source=source)
    _check_rollbacks(entries, source=source)
    return Catalog(entries=entries, nouns=nouns, source=source)


def load_catalog(path: Path | None = None, *, check_executors: bool = True) -> Catalog:
    """Load and check ``policies/actions.yaml`` (or ``path``)."""
    path = path or paths.catalog_file()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    # policies/ beside playbooks/ and terraform/, links not followed: a mounted ConfigMap's files are
    # links into a timestamped folder of its own (`..data/actions.yaml`)
    home = Path(os.path.abspath(path)).parent.parent if check_executors else None
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
    if entry.secrets and entry.executor.kind is ExecutorKind.NONE:
        raise CatalogError(f"{where}: secrets: an action that runs nothing reads no secret")
    clashing = sorted(set(entry.secrets) & set(entry.parameter_names))
    if clashing:
        raise CatalogError(f"{where}: secrets: {clashing[0]!r} is also a parameter (a secret needs its own var name)")
    invalid = sorted(name for name in entry.secrets if not name.isidentifier())
    if invalid:
        raise CatalogError(f"{where}: secrets: {invalid[0]!r} is not a valid variable name")
    if (entry.validation or entry.rollback) and entry.executor.kind is not ExecutorKind.ANSIBLE:
        raise CatalogError(f"{where}: validation and rollback need an ansible executor")
    targets = [t for t in (entry.executor.path, *entry.step_playbooks) if t]
    for target in targets if home is not None else ():
        assert home is not None
        resolved = (home / target).resolve()
        if not resolved.is_relative_to(home.resolve()):
            raise CatalogError(f"{where}: executor path {target!r} leaves the OpsGate home")
        if not resolved.exists():
            raise CatalogError(f"{where}: executor {target!r} does not exist under {home}")


def _check_rollbacks(entries: Mapping[str, ActionEntry], *, source: str) -> None:
    """A rollback names an entry that runs a playbook (the inverse runs like any plan would)."""
    for key, entry in entries.items():
        inverse = entries.get(entry.rollback_action or "") if entry.rollback else None
        if entry.rollback is not None and (inverse is None or inverse.executor.kind is not ExecutorKind.ANSIBLE):
            raise CatalogError(
                f"{source}: action {key!r}: rollback action {entry.rollback_action!r} "
                "is not an ansible entry of the catalog"
            )


def _parse_nouns(raw: object, *, source: str) -> dict[str, Noun]:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{source}: `nouns` must map each noun to its words")
    nouns: dict[str, Noun] = {}
    for name, body in raw.items():
        where = f"{source}: noun {name!r}"
        if not isinstance(name, str) or not name.isidentifier():
            raise CatalogError(f"{where}: a noun's name is a word in snake_case")
        try:
            nouns[name] = Noun.model_validate(body)
        except pydantic.ValidationError as exc:
            raise CatalogError(f"{where}: {_first_error(exc)}") from exc
    return nouns


def _check_phrases(entry: ActionEntry, phrases: Phrases, *, nouns: Mapping[str, Noun], where: str) -> None:
    # imported here: the parser's vocabulary imports this module for the verb classes
    from opsgate.parsing import vocabulary

    unknown = [noun for noun in phrases.nouns if noun not in nouns]
    if unknown:
        raise CatalogError(f"{where}: phrases.nouns: unknown noun {unknown[0]!r} (define it under top-level `nouns`)")
    if not phrases.strong_nouns:
        raise CatalogError(f"{where}: phrases.nouns: at least one noun must be strong (name the resource)")
    for word in phrases.implies:
        classes = vocabulary.VERBS.get(word, frozenset())
        if not classes & set(phrases.verbs):
            verbs = ", ".join(phrases.verbs)
            raise CatalogError(f"{where}: phrases.implies: {word!r} is no verb word of the entry's verbs ({verbs})")
    unknown = [name for name in phrases.values if name not in entry.parameter_names]
    if unknown:
        raise CatalogError(f"{where}: phrases.values: {unknown[0]!r} is not a parameter of the entry")


def _check_alone(entries: Mapping[str, ActionEntry], *, source: str) -> None:
    """A noun alone may name one entry only: "payments logs" cannot mean two things."""
    named: dict[str, str] = {}
    for key, entry in entries.items():
        if entry.phrases is None or not entry.phrases.alone:
            continue
        for noun in entry.phrases.strong_nouns:
            if noun in named:
                raise CatalogError(
                    f"{source}: action {key!r}: phrases.alone: the noun {noun!r} alone already names {named[noun]!r}"
                )
            named[noun] = key


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "entry"
    return f"{field}: {err['msg']}"
