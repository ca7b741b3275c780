"""The plan: what exactly would run for a request, and the digest an approval is bound to.

A plan is built from an intent, its catalog entry and the request context. It fixes the
validated parameters (catalog defaults applied), the executor (playbook or module, the image
and a content hash of the files), the environment and the cost-allocation tags. The
environment is never laxer than the namespace's label says (see :func:`resolve_environment`). Its
``digest`` covers everything that decides what runs, so an approval given for one plan never
authorises another: a changed parameter, catalog entry, playbook byte or image gives a new
digest. That includes what a failed validation may run: the rollback's inverse entry and its
playbook, when the rollback names another entry (see :func:`inverse_entry`).

Pure apart from reading the executor's files under an explicitly given ``home``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
from pydantic import alias_generators

from opsgate import catalog, entities
from opsgate.intent import Intent, Parser
from opsgate.parsing.text import ROLLBACK_PLAN
from opsgate.resources import Environment

LABEL_ENVIRONMENT = "opsgate.dev/environment"
LABEL_PROJECT = "opsgate.dev/project"
LABEL_COST_CENTER = "opsgate.dev/cost-center"
ANNOTATION_ROLLBACK_PLAN = "opsgate.dev/rollback-plan"
ENVIRONMENT_PARAMETER = "environment"
NAMESPACE_PARAMETER = "namespace"


DIGEST_PREFIX = "sha256:"

# Where a request states its environment, in the words of the messages below.
STATED_IN_TEXT = "the request"
STATED_IN_SPEC = "spec.environment"
MESSAGE_ENVIRONMENT_VS_NAMESPACE = (
    "{stated} says {value} but namespace {namespace} is labelled {label}: planned as {planned}"
)
MESSAGE_ENVIRONMENT_VS_SPEC = "the request says {value} but spec.environment is {spec}: planned as {planned}"


class PlanError(RuntimeError):
    """The plan cannot be built for a reason the requester cannot fix (a missing executor file)."""


class _Model(pydantic.BaseModel):
    """Frozen, camelCase on the wire (``status.plan``), snake_case in Python."""

    model_config = pydantic.ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        alias_generator=alias_generators.to_camel,
    )


class Requester(_Model):
    """Who asked, as the API server authenticated them (``request.userInfo``)."""

    username: str
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = pydantic.Field(default_factory=dict)


class RequestContext(_Model):
    """Everything about an OpsRequest besides its intent that a plan or a policy may look at."""

    text: str  # already redacted
    requester: Requester
    namespace: str
    environment: str | None = None  # spec.environment
    labels: dict[str, str] = pydantic.Field(default_factory=dict)
    namespace_labels: dict[str, str] = pydantic.Field(default_factory=dict)
    annotations: dict[str, str] = pydantic.Field(default_factory=dict)
    dry_run: bool = False
    name: str | None = None

    @property
    def rollback_plan(self) -> str:
        """The requester's rollback plan, or "" when none was given.

        Stated in the annotation ``opsgate.dev/rollback-plan`` or in the text after
        ``rollback:`` / ``rollback plan:``.
        """
        annotated = self.annotations.get(ANNOTATION_ROLLBACK_PLAN, "").strip()
        if annotated:
            return annotated
        match = ROLLBACK_PLAN.search(self.text)
        return match.group("plan").strip() if match else ""

    def label(self, key: str) -> str | None:
        """A label of the OpsRequest, else of its namespace (the request's own label wins)."""
        return self.labels.get(key) or self.namespace_labels.get(key) or None


class ExecutorRef(_Model):
    kind: catalog.ExecutorKind
    playbook: str | None = None
    module: str | None = None
    image: str
    content_hash: str  # sha256 of the playbook file / module directory; "" when nothing runs


class Tags(_Model):
    """Cost-allocation tags; a tag nobody could fill is None (policy ``required-tags`` denies).

    The keys are tag names as they land on cloud resources, so they stay snake_case on the wire.
    """

    model_config = pydantic.ConfigDict(alias_generator=None)

    owner: str | None = None
    project: str | None = None
    environment: str | None = None
    cost_center: str | None = None


class Plan(_Model):
    action: str  # the catalog key
    parameters: dict[str, Any]
    executor: ExecutorRef
    environment: str | None = None  # absent from status.plan when None: a merge patch drops nulls
    requester: str
    tags: Tags
    risk: catalog.Risk
    requires_approval: bool
    privileged: bool
    rate_class: catalog.RateClass
    informational: bool
    digest: str

    def to_status(self) -> dict[str, Any]:
        """``status.plan``, also what ``opsgate plan --json`` prints and ``opsgate execute`` reads."""
        status = self.model_dump(mode="json", by_alias=True)
        status["executor"] = self.executor.model_dump(mode="json", by_alias=True, exclude_none=True)
        return status


@dataclasses.dataclass(frozen=True)
class ResolvedEnvironment:
    """The environment a request is planned in, and why it is not the one the request stated."""

    value: str | None
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class NeedsInfo:
    """The request cannot be planned as stated; ``message`` tells the requester what to fix."""

    problems: tuple[str, ...]
    fields: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return "; ".join(self.problems)


def build_plan(
    intent: Intent,
    entry: catalog.ActionEntry,
    *,
    context: RequestContext,
    home: Path,
    executor_image: str,
    inverse: catalog.ActionEntry | None = None,
) -> Plan | NeedsInfo:
    """The plan for ``intent`` under ``entry``, or what is missing or invalid in it.

    ``inverse`` is :func:`inverse_entry` of ``entry``: the other entry its rollback runs, which the
    digest covers too (left out, the executor refuses the plan of such an entry).
    """
    environment = resolve_environment(intent, context).value
    parameters, unknown = _parameters(intent, entry, environment=environment, namespace=context.namespace)
    problems = [_unknown_parameter(name, entry) for name in unknown]
    fields = list(unknown)
    for error in sorted(entry.validator.iter_errors(parameters), key=lambda e: list(e.absolute_path)):
        field, problem = describe_error(error)
        problems.append(problem)
        fields.append(field)
    if problems:
        return NeedsInfo(problems=tuple(dict.fromkeys(problems)), fields=tuple(dict.fromkeys(fields)))
    content = entry_content_hash(home, entry, inverse=inverse)
    executor = ExecutorRef(
        kind=entry.executor.kind,
        playbook=entry.executor.playbook,
        module=entry.executor.module,
        image=executor_image,
        content_hash=content,
    )
    return Plan(
        action=entry.key,
        parameters=parameters,
        executor=executor,
        environment=environment,
        requester=context.requester.username,
        tags=Tags(
            owner=context.requester.username or None,
            project=context.label(LABEL_PROJECT),
            environment=environment,
            cost_center=context.label(LABEL_COST_CENTER),
        ),
        risk=entry.risk,
        requires_approval=entry.requires_approval,
        privileged=entry.privileged,
        rate_class=entry.rate_class,
        informational=entry.informational,
        digest=compute_digest(
            action=entry.key,
            parameters=parameters,
            entry=entry,
            content_hash=content,
            executor_image=executor_image,
            inverse=inverse,
        ),
    )


def resolve_environment(intent: Intent, context: RequestContext) -> ResolvedEnvironment:
    """The strictest of the environments stated and labelled, with a warning for each one overruled.

    The namespace label ``opsgate.dev/environment`` is set by whoever owns the namespace, so a
    request cannot plan below it: "scale checkout in dev" in a namespace labelled production is
    planned as production. A request may raise it (production in a namespace labelled dev). The
    entity ``environment`` and ``spec.environment`` are both the request's word; when they
    disagree the stricter applies too. Order: dev < staging < production. Values are normalised
    first (``prod`` is production); a value OpsGate does not know counts as strict as production
    and loses only to a known one, so an unknown label never makes a request laxer.
    """
    entity = intent.entities.get(ENVIRONMENT_PARAMETER)
    stated = [
        (where, entities.normalise_environment(value))
        for where, value in ((STATED_IN_TEXT, entity), (STATED_IN_SPEC, context.environment))
        if isinstance(value, str) and value.strip()
    ]
    label = context.namespace_labels.get(LABEL_ENVIRONMENT, "").strip()
    label = entities.normalise_environment(label) if label else ""
    candidates = [value for _, value in stated] + ([label] if label else [])
    if not candidates:
        return ResolvedEnvironment(value=None)
    planned = max(candidates, key=_strictness)
    warnings: list[str] = []
    if label:
        warnings += [
            MESSAGE_ENVIRONMENT_VS_NAMESPACE.format(
                stated=where, value=value, namespace=context.namespace, label=label, planned=planned
            )
            for where, value in stated
            if value != label
        ]
    elif len(stated) == 2 and stated[0][1] != stated[1][1]:
        warnings.append(MESSAGE_ENVIRONMENT_VS_SPEC.format(value=stated[0][1], spec=stated[1][1], planned=planned))
    return ResolvedEnvironment(value=planned, warnings=tuple(warnings))


def _strictness(environment: str) -> tuple[int, bool]:
    """dev < staging < production; an unknown value ranks with production, just below it."""
    order = list(Environment)
    try:
        return order.index(Environment(environment)), True
    except ValueError:
        return len(order) - 1, False


def compute_digest(
    *,
    action: str,
    parameters: Mapping[str, Any],
    entry: catalog.ActionEntry,
    content_hash: str,
    executor_image: str,
    inverse: catalog.ActionEntry | None = None,
) -> str:
    """``sha256:<hex>`` of the canonical JSON of everything that decides what runs.

    The algorithm prefix makes the digest self-describing (like an OCI digest); Approvals carry
    exactly this string and approvers name it in their decisions. ``inverse`` (the other entry a
    rollback runs, :func:`inverse_entry`) is covered as its own entry is: its schema checks the
    captured parameters and its playbook undoes the change. Without one the document, and so
    the digest, is what it always was.
    """
    document = {
        "action": action,
        "parameters": dict(parameters),
        # the example requests teach the parser; they decide nothing that runs
        "entry": entry.model_dump(mode="json", by_alias=True, exclude={"examples"}),
        "contentHash": content_hash,
        "executorImage": executor_image,
    }
    if inverse is not None:
        document["rollbackEntry"] = inverse.model_dump(mode="json", by_alias=True, exclude={"examples"})
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return DIGEST_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def recompute_digest(
    plan: Plan, entry: catalog.ActionEntry, *, home: Path, inverse: catalog.ActionEntry | None = None
) -> str:
    """The digest ``plan`` should carry given today's catalog entry and files (to verify a plan)."""
    content = entry_content_hash(home, entry, inverse=inverse)
    return compute_digest(
        action=plan.action,
        parameters=plan.parameters,
        entry=entry,
        content_hash=content,
        executor_image=plan.executor.image,
        inverse=inverse,
    )


def inverse_entry(entry: catalog.ActionEntry, actions: catalog.Catalog) -> catalog.ActionEntry | None:
    """The *other* catalog entry a failed validation of ``entry`` runs to undo it; None if none.

    An entry that is its own inverse (scale: back to the captured count) is covered by its own
    part of the digest. A missing inverse is the catalog's error (checked at load), not ours.
    """
    key = entry.rollback_action
    if key is None or key == entry.key:
        return None
    return actions.get(key)


def step_files(entry: catalog.ActionEntry, *, inverse: catalog.ActionEntry | None = None) -> tuple[str, ...]:
    """The files a run of ``entry`` may execute besides its executor: its steps, the inverse's playbook."""
    undo = (inverse.executor.path,) if inverse is not None and inverse.executor.path else ()
    return (*entry.step_playbooks, *undo)


def entry_content_hash(home: Path, entry: catalog.ActionEntry, *, inverse: catalog.ActionEntry | None = None) -> str:
    """The content hash of everything a run of ``entry`` executes from the home.

    The executor's playbook or module; with a validation or a rollback capture declared, also
    those playbooks, and with a rollback naming another entry, that entry's playbook
    (``inverse``, :func:`inverse_entry`). An entry without any keeps the plain hash of its
    executor, so its digests do not move.
    """
    if not entry.executor.path:
        return ""
    main = content_hash(home, entry.executor.path)
    steps = step_files(entry, inverse=inverse)
    if not steps:
        return main
    digest = hashlib.sha256(main.encode("ascii"))
    for step in steps:
        digest.update(b"\0" + step.encode("utf-8") + b"\0" + content_hash(home, step).encode("ascii"))
    return digest.hexdigest()


def content_hash(home: Path, relative: str) -> str:
    """sha256 (hex) over the sorted relative paths and bytes of a file or a directory's files."""
    root = home.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        raise PlanError(f"executor path {relative!r} leaves the OpsGate home {root}")
    if target.is_file():
        files = [(target.name, target)]
    elif target.is_dir():
        files = sorted((p.relative_to(target).as_posix(), p) for p in target.rglob("*") if p.is_file())
    else:
        raise PlanError(f"executor {relative!r} does not exist under {root}")
    digest = hashlib.sha256()
    for name, path in files:
        data = path.read_bytes()
        for part in (name.encode("utf-8"), str(len(data)).encode("ascii"), data):
            digest.update(part)
            digest.update(b"\0")
    return digest.hexdigest()


def describe_error(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(field, message) for a parameter validation error, in words a requester understands."""
    field = ".".join(str(p) for p in error.absolute_path)
    got = f"(got {error.instance!r})"
    validator, expected = error.validator, error.validator_value
    if validator == "required":
        missing = _quoted_name(error.message)
        return missing, f"missing required parameter `{missing}`"
    if validator == "anyOf" and not field:
        names = [name for option in expected for name in option.get("required", ())]
        return names[0] if names else "", "one of " + ", ".join(f"`{n}`" for n in names) + " is required"
    match validator:
        case "maximum":
            problem = f"`{field}` must be ≤ {expected} {got}"
        case "minimum":
            problem = f"`{field}` must be ≥ {expected} {got}"
        case "maxLength":
            problem = f"`{field}` must be at most {expected} characters long"
        case "minLength":
            problem = f"`{field}` must be at least {expected} characters long"
        case "maxItems":
            problem = f"`{field}` takes at most {expected} items"
        case "uniqueItems":
            problem = f"`{field}` must not repeat items"
        case "enum":
            problem = f"`{field}` must be one of {', '.join(map(str, expected))} {got}"
        case "pattern":
            problem = f"`{field}` is not valid {got}"
        case "type":
            problem = f"`{field}` must be of type {expected} {got}"
        case _:
            problem = f"`{field}` is invalid: {error.message}"
    return field, problem


def _parameters(
    intent: Intent, entry: catalog.ActionEntry, *, environment: str | None, namespace: str
) -> tuple[dict[str, Any], list[str]]:
    """Defaults, overlaid with the entities the entry takes, and the names it does not take.

    A parser may find entities that an entry does not take (a region in an e-mail request);
    those are dropped. A structured ``spec.intent`` is a contract, so there they are errors.
    Where the catalog defaults the ``namespace`` parameter, the request's own namespace is that
    default: "scale checkout" asked in namespace shop acts in shop, not in the catalog's guess.
    """
    known = set(entry.parameter_names)
    parameters = dict(entry.defaults)
    if NAMESPACE_PARAMETER in parameters and namespace:
        parameters[NAMESPACE_PARAMETER] = namespace
    unknown: list[str] = []
    for name, value in intent.entities.items():
        if name in known:
            parameters[name] = value
        elif intent.parser is Parser.SPEC:
            unknown.append(name)
    if environment is not None and ENVIRONMENT_PARAMETER in known:
        parameters[ENVIRONMENT_PARAMETER] = environment
    return parameters, unknown


def _unknown_parameter(name: str, entry: catalog.ActionEntry) -> str:
    takes = ", ".join(f"`{n}`" for n in entry.parameter_names)
    return f"unknown parameter `{name}` ({entry.key} takes {takes})"


def _quoted_name(message: str) -> str:
    # jsonschema says "'email' is a required property"
    return message.split("'")[1] if message.count("'") >= 2 else message
