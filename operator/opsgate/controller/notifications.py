"""Who hears about an Approval, and what they read: the approver notifications, as data. Pure.

When an Approval is created, decided (Approved, Rejected) or expires, its approver groups and its
requester are told through the channels a platform team configured (:class:`Routes`, read from
the file named by ``OPSGATE_NOTIFY_CONFIG``): e-mail addresses and Slack-compatible incoming
webhooks per group, per user, and a default e-mail domain for requesters. Each message carries
the lines ``opsgate approve`` shows (:func:`opsgate.controller.approvals.describe`), a link to the
chat front-end and the ``kubectl opsgate approve`` command to run. Everything a requester or an
approver typed passes through :func:`opsgate.redact.redact_value` first: a message is read by
people and systems that have no business seeing a secret.

Sending (with retries) is :mod:`opsgate.adapters.notifier`; this module only decides.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opsgate import redact, resources
from opsgate.controller import approvals
from opsgate.resources import ApprovalState


class Event(enum.StrEnum):
    CREATED = "created"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


_EVENT_OF_STATE = {
    ApprovalState.APPROVED.value: Event.APPROVED,
    ApprovalState.REJECTED.value: Event.REJECTED,
    ApprovalState.EXPIRED.value: Event.EXPIRED,
}
DEFAULT_LINK = "{ui}/?approval={namespace}/{name}"


class ConfigError(ValueError):
    """The notification configuration is malformed; the message says where."""


@dataclasses.dataclass(frozen=True)
class Channels:
    """Where one group or user is reached."""

    email: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    sender: str = "opsgate@localhost"
    starttls: bool = False
    username: str | None = None
    password_file: str | None = None  # a mounted Secret; read when sending, never kept in a message
    timeout: float = 10.0


@dataclasses.dataclass(frozen=True)
class Routes:
    """The notification configuration: who is reached where, and the links messages carry."""

    ui_url: str | None = None
    link: str = DEFAULT_LINK
    smtp: Smtp | None = None
    groups: Mapping[str, Channels] = dataclasses.field(default_factory=dict)
    users: Mapping[str, Channels] = dataclasses.field(default_factory=dict)
    requester_domain: str | None = None  # the requester's address is <username>@<domain> unless listed

    def channels_of_user(self, user: str) -> Channels:
        listed = self.users.get(user)
        if listed is not None:
            return listed
        if self.requester_domain and "@" not in user and ":" not in user:  # not a ServiceAccount
            return Channels(email=(f"{user}@{self.requester_domain}",))
        if "@" in user:  # identity providers often name users by their e-mail address
            return Channels(email=(user,))
        return Channels()


@dataclasses.dataclass(frozen=True)
class Message:
    """One notification: the same text for every channel, sent to ``email`` and ``webhooks``."""

    event: Event
    approval: str  # namespace/name, for logs
    subject: str
    text: str
    email: tuple[str, ...]
    webhooks: tuple[str, ...]


def load_routes(raw: Mapping[str, Any]) -> Routes:
    """:class:`Routes` from the configuration file's parsed YAML; :class:`ConfigError` says what is wrong."""
    if not isinstance(raw, Mapping):
        raise ConfigError("the notification configuration must be a mapping")
    smtp_raw = raw.get("smtp")
    smtp = None
    if smtp_raw is not None:
        if not isinstance(smtp_raw, Mapping) or not smtp_raw.get("host"):
            raise ConfigError("smtp needs at least a host")
        smtp = Smtp(
            host=str(smtp_raw["host"]),
            port=int(smtp_raw.get("port", 25)),
            sender=str(smtp_raw.get("from", Smtp.sender)),
            starttls=bool(smtp_raw.get("starttls", False)),
            username=smtp_raw.get("username"),
            password_file=smtp_raw.get("passwordFile"),
            timeout=float(smtp_raw.get("timeoutSeconds", Smtp.timeout)),
        )
    return Routes(
        ui_url=str(raw["uiUrl"]).rstrip("/") if raw.get("uiUrl") else None,
        link=str(raw.get("link", DEFAULT_LINK)),
        smtp=smtp,
        groups=_channels_map(raw.get("groups"), "groups"),
        users=_channels_map(raw.get("users"), "users"),
        requester_domain=raw.get("requesterDomain"),
    )


def _channels_map(raw: Any, where: str) -> dict[str, Channels]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must map names to {{email: [...], webhooks: [...]}}")
    found: dict[str, Channels] = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}.{name} must be {{email: [...], webhooks: [...]}}")
        found[str(name)] = Channels(
            email=_strings(entry.get("email"), f"{where}.{name}.email"),
            webhooks=_strings(entry.get("webhooks"), f"{where}.{name}.webhooks"),
        )
    return found


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(raw)


def event_of(approval: Mapping[str, Any], *, created: bool) -> Event | None:
    """What happened to ``approval``: created now (pending), or its state became final."""
    state = (approval.get("status") or {}).get("state") or ApprovalState.PENDING.value
    if state == ApprovalState.PENDING.value:
        return Event.CREATED if created else None
    return _EVENT_OF_STATE.get(state)


def messages(approval: Mapping[str, Any], event: Event, *, routes: Routes) -> list[Message]:
    """The notifications ``event`` on ``approval`` sends: one to the approvers, one to the requester."""
    safe = _redacted(approval)
    meta, spec = safe["metadata"], safe["spec"]
    requester = str(spec.get("requester", ""))
    approvers = _merge(routes.groups.get(group, Channels()) for group in spec.get("approverGroups") or ())
    mine = routes.channels_of_user(requester)
    where = f"{meta['namespace']}/{meta['name']}"
    out = []
    if approvers.email or approvers.webhooks:
        subject, text = _for_approvers(safe, event, routes=routes)
        out.append(Message(event, where, subject, text, approvers.email, approvers.webhooks))
    # the requester hears once, even if they are also in an approver group's list
    own = Channels(
        email=tuple(a for a in mine.email if a not in approvers.email),
        webhooks=tuple(w for w in mine.webhooks if w not in approvers.webhooks),
    )
    if own.email or own.webhooks:
        subject, text = _for_requester(safe, event, routes=routes)
        out.append(Message(event, where, subject, text, own.email, own.webhooks))
    return out


def link(approval: Mapping[str, Any], *, routes: Routes) -> str | None:
    """The chat front-end's address for this Approval, if a UI is configured."""
    if not routes.ui_url:
        return None
    meta = approval["metadata"]
    return routes.link.format(ui=routes.ui_url, namespace=meta["namespace"], name=meta["name"])


def commands(approval: Mapping[str, Any]) -> list[str]:
    meta = approval["metadata"]
    where = f"{meta['name']} -n {meta['namespace']}"
    return [f"kubectl opsgate approve {where}", f'kubectl opsgate reject {where} -m "why"']


_HEADLINES = {
    Event.CREATED: "Approval needed",
    Event.APPROVED: "Approved",
    Event.REJECTED: "Rejected",
    Event.EXPIRED: "Expired without a decision",
}


def _subject(approval: Mapping[str, Any], event: Event) -> str:
    summary = resources.ApprovalSummary.model_validate(approval["spec"].get("summary") or {})
    meta = approval["metadata"]
    what = summary.action or meta["name"]
    env = f" in {summary.environment}" if summary.environment else ""
    request = approval["spec"]["opsRequestRef"]["name"]
    return f"[OpsGate] {_HEADLINES[event]}: {what}{env} ({meta['namespace']}/{request})"


def _for_approvers(approval: Mapping[str, Any], event: Event, *, routes: Routes) -> tuple[str, str]:
    lines = [_intro_for_approvers(approval, event), "", *approvals.describe(approval), ""]
    lines += _decisions(approval)
    url = link(approval, routes=routes)
    if event is Event.CREATED:
        if url:
            lines.append(f"Review it in OpsGate: {url}")
        lines += ["Or decide from a terminal:", *(f"  {c}" for c in commands(approval))]
    elif url:
        lines.append(f"Details: {url}")
    return _subject(approval, event), "\n".join(lines).rstrip() + "\n"


def _for_requester(approval: Mapping[str, Any], event: Event, *, routes: Routes) -> tuple[str, str]:
    spec = approval["spec"]
    groups = ", ".join(spec.get("approverGroups") or ())
    request = spec["opsRequestRef"]["name"]
    intro = {
        Event.CREATED: f"Your request {request} needs {spec.get('requiredApprovals', 1)} approval(s) from {groups}.",
        Event.APPROVED: f"Your request {request} was approved; it runs now.",
        Event.REJECTED: f"Your request {request} was rejected; nothing runs.",
        Event.EXPIRED: f"Your request {request} expired before {groups} decided; nothing runs. Ask again if needed.",
    }[event]
    lines = [intro, "", *approvals.describe(approval), "", *_decisions(approval)]
    url = link(approval, routes=routes)
    if url:
        lines.append(f"Follow it in OpsGate: {url}")
    lines.append(f"Or: kubectl get opsrequest {request} -n {approval['metadata']['namespace']}")
    return _subject(approval, event), "\n".join(lines).rstrip() + "\n"


def _intro_for_approvers(approval: Mapping[str, Any], event: Event) -> str:
    spec = approval["spec"]
    name = approval["metadata"]["name"]
    if event is Event.CREATED:
        return (
            f"{spec.get('requester')} asks for a change that needs {spec.get('requiredApprovals', 1)} approval(s) "
            f"from {', '.join(spec.get('approverGroups') or ())} before it runs (Approval {name})."
        )
    if event is Event.EXPIRED:
        return f"Approval {name} expired without enough approvals; the request will not run."
    return f"Approval {name} was {event.value}."


def _decisions(approval: Mapping[str, Any]) -> list[str]:
    decisions: Sequence[Mapping[str, Any]] = approval["spec"].get("decisions") or ()
    lines = [
        f"  {d.get('decision')} by {d.get('approver')}" + (f": {d['message']}" if d.get("message") else "")
        for d in decisions
    ]
    return ["Decisions so far:", *lines, ""] if lines else []


def _merge(channels: Iterable[Channels]) -> Channels:
    email: list[str] = []
    webhooks: list[str] = []
    for entry in channels:
        email += [a for a in entry.email if a not in email]
        webhooks += [w for w in entry.webhooks if w not in webhooks]
    return Channels(email=tuple(email), webhooks=tuple(webhooks))


def _redacted(approval: Mapping[str, Any]) -> dict[str, Any]:
    """The Approval with every text a person wrote (request, parameters, decision messages) redacted."""
    spec = dict(approval.get("spec") or {})
    spec["summary"] = redact.redact_value(spec.get("summary") or {})
    spec["decisions"] = redact.redact_value(list(spec.get("decisions") or ()))
    return {**approval, "spec": spec}
