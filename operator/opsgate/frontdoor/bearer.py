"""Who is calling over HTTP: the holder of a bearer token, as the API server says (a TokenReview).

A server that acts for many callers (``opsgate mcp --http``) never decides who a caller is. The
caller presents its own Kubernetes token (a ServiceAccount token, or a user's); the API server
reviews it and names the user and groups, and every call made for the caller is then made *as*
that identity through impersonation (:func:`opsgate.kube.acting_as`), so RBAC and the admission
policies see the caller, never the server. A token the API server does not authenticate - forged,
expired, revoked, for another audience - names nobody, and nothing is done.

The server's own credentials need only ``create`` on ``tokenreviews`` and ``impersonate`` on
users, groups and serviceaccounts (deploy/mcp-rbac.yaml). Impersonation carries the user and
groups, not the token's ``extra`` (a pod's name, a credential id): policies that read
``userInfo.extra`` see none for these callers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from opsgate import kube

MAX_TOKEN_BYTES = 16 * 1024  # a JWT is a few KiB; anything larger is not worth sending on


@dataclasses.dataclass(frozen=True)
class Caller:
    """The identity a token's holder has, as the API server reviewed it."""

    username: str
    groups: tuple[str, ...] = ()


def authenticate(token: str, *, audiences: Sequence[str] = ()) -> Caller | None:
    """The caller ``token`` belongs to, or None when the API server does not authenticate it.

    Blocking (one TokenReview). An API server that cannot answer raises :class:`kube.ApiError`
    (the caller is not let in).
    """
    token = token.strip()
    if not token or len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        return None
    user = kube.token_review(token, audiences=audiences)
    if user is None:
        return None
    return Caller(str(user["username"]), tuple(str(g) for g in user.get("groups") or ()))
