"""Find plaintext secrets in request text and parameters, and redact them.

A requester who pastes a password into an OpsRequest has leaked it to everyone who can read the
object; OpsGate must not leak it further. The pipeline runs :func:`find_secrets` on the raw
text before anything else sees it, denies the request (policy ``no-plaintext-secrets``) and
passes only :func:`redact`-ed text downstream, so the secret reaches no status, log, prompt or
output. Pure functions over strings; no I/O.

The RAG indexer masks the files it indexes (docs, playbooks, modules, policies) with the same
patterns and the same mask before a chunk is stored, since chunks end up in prompts, answers and
status. Files are read as :attr:`Source.FILE`, which differs in two ways only: prose about
passwords ("no password is generated") names none, and a credential-named identifier
(``Token: `mail_api_token```) is a variable, not a value. In both, references are kept — a Jinja
or HCL expression, a Vault path, an ``!vault`` tag, ``true``/``false`` — since they are what a
reader needs and reveal nothing.

Detection is pattern based and errs on the side of redacting: a false positive costs the
requester a rephrase, a false negative leaks a credential. A :class:`Finding` records the kind
and position of a secret, never its value, so findings can be logged safely.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterator
from typing import Any

REDACTED = "[REDACTED]"


class Source(enum.StrEnum):
    """What the text is; the patterns and the mask are the same, what counts as naming a secret is not."""

    REQUEST = "request"  # typed by a requester: "my password is hunter2" names one
    FILE = "file"  # the repository's docs, playbooks, modules: prose and variable names are not secrets


class SecretKind(enum.StrEnum):
    """What a finding is (the names of secret kinds, not secrets: hence the S105 waivers)."""

    PASSWORD = "password"  # noqa: S105
    TOKEN = "token"  # noqa: S105
    API_KEY = "api-key"
    AWS_ACCESS_KEY = "aws-access-key"
    BEARER_TOKEN = "bearer-token"  # noqa: S105
    PRIVATE_KEY = "private-key"
    CONNECTION_STRING = "connection-string"
    JWT = "jwt"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One secret: its kind and where it sits (``start``/``end`` index the text; ``path`` a value)."""

    kind: SecretKind
    start: int
    end: int
    path: str = ""  # "" for request text; "entities.password" style for nested values


# Words naming a credential, and the kind of secret they introduce.
_KEYWORD_KINDS: dict[str, SecretKind] = {
    "password": SecretKind.PASSWORD,
    "passwd": SecretKind.PASSWORD,
    "pwd": SecretKind.PASSWORD,
    "passphrase": SecretKind.PASSWORD,
    "secret": SecretKind.TOKEN,
    "client_secret": SecretKind.TOKEN,
    "token": SecretKind.TOKEN,
    "access_token": SecretKind.TOKEN,
    "api_key": SecretKind.API_KEY,
    "apikey": SecretKind.API_KEY,
    "aws_secret_access_key": SecretKind.API_KEY,
    "secret_key": SecretKind.API_KEY,
    "private_key": SecretKind.PRIVATE_KEY,
}
_KEYWORD = (
    r"(?:password|passwd|pwd|passphrase|client[_-]?secret|secret|access[_-]?token|token"
    r"|api[_-]?key|apikey|aws[_-]?secret[_-]?access[_-]?key|secret[_-]?key|private[_-]?key)"
)
_PASSWORD_WORD = r"(?:password|passwd|pwd|passphrase)"  # noqa: S105 - a pattern
_VALUE = r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`|<[^<>\n]*>|[^\s,;\"'`]+)"

# `password=hunter2`, `token: abc`, `"api_key": "abc"`, `db_password: x`, `X-Vault-Token: x` (JSON,
# YAML, HCL, env and header style assignments). A key may extend the keyword after a separator
# (`token_path`) but not in camelCase (`secretName` names a Kubernetes Secret); `==` compares.
# Only horizontal space around the `:`/`=`, so a YAML key ending a line (`rotate.secret:`) does
# not swallow the next line's key.
_ASSIGNMENT = re.compile(
    rf"(?P<key>\b[\w.-]*?{_KEYWORD}(?:[_.-][\w.-]*)?)[\"']?[ \t]*[:=](?!=)[ \t]*{_VALUE}", re.IGNORECASE
)
# Values that refer to a secret without being one: a Vault path, an HCL/Jinja expression, a lookup.
_REFERENCE = re.compile(
    r"^(?:secret/|kv/|vault:|var\.|local\.|module\.|data\.|lookup\(|!vault|\{\{|\{%|\$\{)", re.IGNORECASE
)
# Values that are syntax or settings, not secrets: booleans and nulls, a YAML block indicator or
# comment, a `<placeholder>`.
_NOT_A_VALUE = re.compile(r"^(?:true|false|yes|no|null|none|required|~|[|>][-+]?|#.*|<[^>]*>)$", re.IGNORECASE)
# In files, an identifier that itself names a credential (`mail_api_token`) is a variable.
_CREDENTIAL_VARIABLE = re.compile(rf"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_{_KEYWORD}(?:_[a-z0-9]+)*$|^{_KEYWORD}$")
# `with password hunter2`, `password is hunter2`, `password of hunter2`: prose naming a password.
_PROSE_PASSWORD = re.compile(
    rf"(?P<key>\b{_PASSWORD_WORD})\s+(?:(?:is|of|set\s+to|to)\s+)?(?P<value>[^\s,;]+)", re.IGNORECASE
)
# Prose words that follow "password" without being one ("reset the password for bob").
_PROSE_STOPWORDS = frozenset(
    {
        "a", "an", "and", "as", "at", "be", "by", "change", "changes", "expiry", "for", "from", "has",
        "in", "is", "manager", "must", "of", "on", "or", "policy", "reset", "rotation", "should", "that",
        "the", "this", "to", "vault", "was", "will", "with", REDACTED.lower(),
    }
)  # fmt: skip
_PATTERNS: tuple[tuple[SecretKind, re.Pattern[str]], ...] = (
    (
        SecretKind.PRIVATE_KEY,
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
    ),
    (SecretKind.AWS_ACCESS_KEY, re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    (SecretKind.JWT, re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    (
        SecretKind.TOKEN,
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})"),
    ),
)
_BEARER = re.compile(r"\bBearer\s+(?P<value>[A-Za-z0-9\-._~+/]{8,}=*)", re.IGNORECASE)
# scheme://user:password@host — only the password part is secret.
_CONNECTION = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<value>[^\s@/]+)@", re.IGNORECASE)
_CREDENTIAL_KEY = re.compile(_KEYWORD, re.IGNORECASE)
# A cheap first look: text without any of these cannot match a pattern above.
_MAYBE_SECRET = re.compile(
    rf"{_KEYWORD}|bearer|://|AKIA|ASIA|AGPA|AIDA|AROA|eyJ|gh[pousr]_|xox[abprs]-|glpat-|PRIVATE KEY",
    re.IGNORECASE,
)


def find_secrets(text: str, *, source: Source = Source.REQUEST) -> list[Finding]:
    """Every secret in ``text``, in order of position, overlapping findings merged."""
    if not _MAYBE_SECRET.search(text):
        return []
    findings = list(_raw_findings(text, source=source))
    return _merge(sorted(findings, key=lambda f: (f.start, -f.end)))


def redact(text: str, *, source: Source = Source.REQUEST) -> str:
    """``text`` with every secret replaced by ``[REDACTED]`` (keys like ``password=`` are kept)."""
    findings = find_secrets(text, source=source)
    if not findings:
        return text
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(REDACTED)
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts)


def find_secrets_in_value(value: Any, *, path: str = "") -> list[Finding]:
    """Secrets anywhere in a nested value (dicts, lists, strings), each finding naming its path.

    A string under a credential-named key (``password``, ``token``…) is a secret as a whole.
    """
    return list(_walk_findings(value, path=path))


def redact_value(value: Any) -> Any:
    """A copy of a nested value with every secret redacted (see :func:`find_secrets_in_value`)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: REDACTED if _is_credential_key(key) and _is_secret_value(item) else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


def _raw_findings(text: str, *, source: Source) -> Iterator[Finding]:
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            yield Finding(kind, match.start(), match.end())
    for match in _ASSIGNMENT.finditer(text):
        value = _strip_quotes(match.group("value"))
        if _is_secret_value(value) and not (source is Source.FILE and _CREDENTIAL_VARIABLE.match(value)):
            yield Finding(_keyword_kind(match.group("key")), *match.span("value"))
    for match in _PROSE_PASSWORD.finditer(text) if source is Source.REQUEST else ():
        value = match.group("value")
        if value.lower().strip(".:!?") not in _PROSE_STOPWORDS and not value.startswith(("=", ":")):
            yield Finding(SecretKind.PASSWORD, *match.span("value"))
    for match in _BEARER.finditer(text):
        yield Finding(SecretKind.BEARER_TOKEN, *match.span("value"))
    for match in _CONNECTION.finditer(text):
        yield Finding(SecretKind.CONNECTION_STRING, *match.span("value"))


def _merge(findings: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for finding in findings:
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = dataclasses.replace(last, end=max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


def _walk_findings(value: Any, *, path: str) -> Iterator[Finding]:
    if isinstance(value, str):
        for finding in find_secrets(value):
            yield dataclasses.replace(finding, path=path)
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _is_credential_key(key) and _is_secret_value(item):
                yield Finding(_keyword_kind(str(key)), 0, len(str(item)), path=child)
            else:
                yield from _walk_findings(item, path=child)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk_findings(item, path=f"{path}[{index}]")


def _is_credential_key(key: object) -> bool:
    return isinstance(key, str) and _CREDENTIAL_KEY.fullmatch(key) is not None


def _is_secret_value(item: object) -> bool:
    """A value that could be a credential: filled, not yet redacted, not a setting or a reference."""
    if isinstance(item, str):
        value = _strip_quotes(item).strip()
        return bool(value) and value != REDACTED and not _NOT_A_VALUE.match(value) and not _REFERENCE.match(value)
    return item is not None and not isinstance(item, bool)


def _keyword_kind(key: str) -> SecretKind:
    """The kind a credential-named key introduces (``db_password`` and ``X-Vault-Token`` too)."""
    found = _CREDENTIAL_KEY.findall(key)
    normalised = (found[-1] if found else key).lower().replace("-", "_")
    return _KEYWORD_KINDS.get(normalised, SecretKind.TOKEN)


def _strip_quotes(value: str) -> str:
    return value.strip("\"'`")
