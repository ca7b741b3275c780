"""Who is asking: the user an auth proxy in front of the UI vouches for, and CSRF tokens. Pure.

The UI never authenticates anyone itself. An auth proxy (oauth2-proxy, an ingress with OIDC, …)
signs the user in and forwards the name and groups in headers; the UI trusts those headers only
because nothing but the proxy can reach it (a NetworkPolicy or loopback). It then acts as that
user through Kubernetes impersonation, so the API server - not the UI - decides what the user may
do. The groups named here are only what the UI asks to impersonate; the API server's answer to a
SelfSubjectReview is what gets recorded.

Writes also carry a CSRF token: an HMAC of the user's name under a secret of this server process,
so a page on another origin that the user's browser visits cannot make the browser write for them
(the proxy would add the headers to a forged cross-site POST just the same).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping

DEFAULT_USER_HEADER = "X-Forwarded-User"
DEFAULT_GROUPS_HEADER = "X-Forwarded-Groups"
CSRF_HEADER = "X-CSRF-Token"
MAX_NAME = 253
# Kubernetes reserves system: identities; a proxy never signs anyone in as one of them.
RESERVED_PREFIX = "system:"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IdentityError(ValueError):
    """The proxy's headers do not name a usable identity (the message says why)."""


@dataclasses.dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...]


def from_headers(
    headers: Mapping[str, str], *, user_header: str = DEFAULT_USER_HEADER, groups_header: str = DEFAULT_GROUPS_HEADER
) -> Identity | None:
    """The identity in the proxy's headers; None when there is none (the caller answers 401).

    Groups are comma-separated, as oauth2-proxy sends them. Raises :class:`IdentityError` for a
    name the UI must not impersonate (a ``system:`` identity, control characters, too long).
    """
    user = (headers.get(user_header) or "").strip()
    if not user:
        return None
    groups = tuple(dict.fromkeys(g.strip() for g in (headers.get(groups_header) or "").split(",") if g.strip()))
    for name in (user, *groups):
        _check(name)
    return Identity(user, groups)


def _check(name: str) -> None:
    if len(name) > MAX_NAME or _CONTROL.search(name):
        raise IdentityError(f"the auth proxy sent an unusable name {name[:40]!r}")
    if name.startswith(RESERVED_PREFIX):
        raise IdentityError(f"{name!r} is a Kubernetes system identity; the UI does not act as one")


def csrf_token(secret: bytes, user: str) -> str:
    """The token the page sends back on writes: bound to the user and to this server's secret."""
    return hmac.new(secret, user.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, user: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret, user), token or "")
