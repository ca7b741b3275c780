"""Literal secrets never enter the index: values of secret-looking keys and PEM blocks are masked.

Chunk text ends up in prompts, answers and status, so masking happens once, before anything is
stored. References are kept (a Jinja expression, a Vault path, an ``!vault`` blob's tag line), since
they are what a reader needs and reveal nothing.
"""

from __future__ import annotations

import re

MASK = "<redacted>"

_SECRET_ASSIGNMENT = re.compile(
    r"""(?P<key>\b[\w.-]*(?:password|passwd|passphrase|api[_-]?key|token|secret[_-]?key|access[_-]?key|
    private[_-]?key|client[_-]?secret)[\w.-]*["']?\s*[:=]\s*)(?P<value>["']?[^\s"'#{}<>|]{4,}["']?)""",
    re.IGNORECASE | re.VERBOSE,
)
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
_REFERENCE = re.compile(r"^[\"']?(secret/|kv/|vault:|var\.|local\.|module\.|data\.|lookup\(|!vault)", re.IGNORECASE)


def redact(text: str) -> str:
    text = _PEM.sub(MASK, text)
    return _SECRET_ASSIGNMENT.sub(_mask_value, text)


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if _REFERENCE.match(value) or value.strip("\"'").lower() in {"true", "false", "null", "none", "required"}:
        return match.group(0)
    return match.group("key") + MASK
