"""``opsgate mcp --http``'s identity: a bearer token is who the API server says, and every call is made as them.

No cluster: the TokenReview is replaced where it leaves the process (``kube.request``), and the
SDK's per-message context by the little of it the identity middleware reads. The real thing,
with the SDK's streamable-HTTP client against a real API server, is tests/e2e/test_mcp_http.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.shared.exceptions import MCPError

from opsgate import kube
from opsgate.cli import mcp
from opsgate.frontdoor import bearer

AGENT = "system:serviceaccount:shop:agent"
GROUPS = ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"]


def reviewing(monkeypatch: pytest.MonkeyPatch, status: dict[str, Any]) -> list[dict[str, Any]]:
    """The API server answers every TokenReview with ``status``; the reviews sent, and as whom."""
    sent: list[dict[str, Any]] = []

    def request(method: str, url: str, *, body: Any = None, **_: Any) -> Any:
        assert (method, url) == ("POST", "/apis/authentication.k8s.io/v1/tokenreviews")
        sent.append({"body": body, "acting_as": kube._headers({}).get("Impersonate-User")})
        return {**body, "status": status}

    monkeypatch.setattr(kube, "request", request)
    return sent


def test_a_token_is_whoever_the_api_server_says_holds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = reviewing(monkeypatch, {"authenticated": True, "user": {"username": AGENT, "groups": GROUPS}})
    assert bearer.authenticate(" the-token\n") == bearer.Caller(AGENT, tuple(GROUPS))
    assert sent[0]["body"]["spec"] == {"token": "the-token"}


@pytest.mark.parametrize(
    "status",
    [
        {"authenticated": False, "error": "invalid bearer token"},
        {"authenticated": True, "user": {}},
        {},
    ],
    ids=["not-authenticated", "no-username", "no-answer"],
)
def test_a_token_the_api_server_does_not_vouch_for_is_nobody(
    monkeypatch: pytest.MonkeyPatch, status: dict[str, Any]
) -> None:
    reviewing(monkeypatch, status)
    assert bearer.authenticate("forged") is None


def test_an_empty_or_oversized_token_is_not_even_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = reviewing(monkeypatch, {"authenticated": True, "user": {"username": AGENT}})
    assert bearer.authenticate("  ") is None
    assert bearer.authenticate("x" * (bearer.MAX_TOKEN_BYTES + 1)) is None
    assert sent == []


def test_an_audience_is_asked_for_and_must_be_granted(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = reviewing(monkeypatch, {"authenticated": True, "user": {"username": AGENT}, "audiences": ["other"]})
    assert bearer.authenticate("t", audiences=["opsgate-mcp"]) is None
    assert sent[0]["body"]["spec"]["audiences"] == ["opsgate-mcp"]
    reviewing(monkeypatch, {"authenticated": True, "user": {"username": AGENT}, "audiences": ["opsgate-mcp"]})
    assert bearer.authenticate("t", audiences=["opsgate-mcp"]) == bearer.Caller(AGENT)


def test_the_review_is_made_as_the_server_even_while_acting_for_a_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = reviewing(monkeypatch, {"authenticated": True, "user": {"username": AGENT}})
    with kube.acting_as("someone-else", ["g"]):
        bearer.authenticate("t")
    assert sent[0]["acting_as"] is None


async def test_the_verifier_hands_the_sdk_the_reviewed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    reviewing(monkeypatch, {"authenticated": True, "user": {"username": AGENT, "groups": GROUPS}})
    token = await mcp.KubernetesTokens().verify_token("the-token")
    assert token is not None
    assert (token.client_id, token.subject, token.claims) == (AGENT, AGENT, {"groups": GROUPS})


async def test_an_api_server_that_cannot_review_lets_nobody_in(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise kube.ApiError(403, "Forbidden", "cannot create tokenreviews")

    monkeypatch.setattr(kube, "request", broken)
    assert await mcp.KubernetesTokens().verify_token("the-token") is None


def message_from(user: Any) -> Any:
    """The part of the SDK's per-message context the middleware reads: the HTTP request's scope."""
    return SimpleNamespace(request=SimpleNamespace(scope={"user": user}))


async def test_every_message_is_handled_as_its_caller() -> None:
    token = AccessToken(token="t", client_id=AGENT, subject=AGENT, scopes=[], claims={"groups": GROUPS})

    async def handler(_ctx: Any) -> Any:
        headers = await kube.acall(kube._headers, {})  # a Kubernetes call from a tool's worker thread
        return {"user": headers["Impersonate-User"], "groups": headers.get_all("Impersonate-Group")}

    seen = await mcp.as_caller(message_from(AuthenticatedUser(token)), handler)
    assert seen == {"user": AGENT, "groups": GROUPS}
    assert "Impersonate-User" not in kube._headers({})  # and nothing after it


@pytest.mark.parametrize("user", [None, SimpleNamespace(access_token="not-authenticated")], ids=["none", "other"])
async def test_a_message_without_an_authenticated_caller_runs_nothing(user: Any) -> None:
    ran: list[Any] = []

    async def handler(ctx: Any) -> Any:
        ran.append(ctx)
        return {}

    with pytest.raises(MCPError, match="no authenticated caller"):
        await mcp.as_caller(message_from(user), handler)
    with pytest.raises(MCPError):
        await mcp.as_caller(SimpleNamespace(request=None), handler)  # stdio-like: no HTTP request at all
    assert ran == []
