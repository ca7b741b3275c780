"""The UI server's gates, in process: what it answers before any call reaches Kubernetes.

Identity (401 without the proxy's header), CSRF on writes, JSON only, bad input, the page's
security headers, /health, the OpenAPI description, and analytics without an audit store.
What happens as the user on a real API server is in tests/e2e/test_ui_api.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from opsgate import paths
from opsgate.catalog import Catalog, load_catalog
from opsgate.ui import identity, server

SECRET = b"k" * 32
ALICE = {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "dev"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(paths.catalog_file(), check_executors=False)


@pytest.fixture
async def client(catalog: Catalog) -> AsyncIterator[TestClient[Any, Any]]:
    config = server.Config(catalog=catalog, secret=SECRET)
    async with TestClient(TestServer(server.create_app(config))) as test_client:
        yield test_client


def csrf(user: str = "alice") -> dict[str, str]:
    return {identity.CSRF_HEADER: identity.csrf_token(SECRET, user)}


async def test_the_page_loads_only_its_own_scripts(client: TestClient[Any, Any]) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    html = await response.text()
    assert '<script src="/static/app.js"' in html
    script = await (await client.get("/static/app.js")).text()
    assert "innerHTML" not in script  # every text is set with textContent


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/requests"),
        ("POST", "/api/v1/chat"),
        ("POST", "/api/v1/feedback"),
        ("POST", "/api/approvals/team-a/a1"),
        ("GET", "/api/session"),
        ("GET", "/api/requests?namespace=team-a"),
        ("GET", "/api/approvals"),
        ("GET", "/api/requests/team-a/r1/events"),
        ("GET", "/api/v1/analytics/accuracy"),
    ],
)
async def test_without_the_proxy_user_header_every_api_route_answers_401(
    client: TestClient[Any, Any], method: str, path: str
) -> None:
    response = await client.request(method, path, json={"request": "restart checkout", "namespace": "team-a"})
    assert response.status == 401
    assert (await response.json())["error"] == "not signed in: the auth proxy sent no X-Forwarded-User header"


async def test_a_write_without_the_users_csrf_token_is_refused(client: TestClient[Any, Any]) -> None:
    body = {"request": "restart checkout", "namespace": "team-a"}
    missing = await client.post("/api/requests", json=body, headers=ALICE)
    bobs = await client.post("/api/requests", json=body, headers={**ALICE, **csrf("bob")})
    assert (missing.status, bobs.status) == (403, 403)
    assert "X-CSRF-Token" in (await missing.json())["error"]


async def test_a_form_post_is_refused_a_cross_site_form_cannot_send_json(client: TestClient[Any, Any]) -> None:
    response = await client.post("/api/requests", data="request=x&namespace=y", headers={**ALICE, **csrf()})
    assert response.status == 415


async def test_a_system_identity_from_the_proxy_is_refused(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/session", headers={"X-Forwarded-User": "system:admin"})
    assert response.status == 401
    assert "system identity" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"request": "", "namespace": "team-a"}, "request must be a non-empty text"),
        ({"request": "x" * 5000, "namespace": "team-a"}, "request is longer than 4096 characters"),
        ({"request": "restart checkout", "namespace": "../kube-system"}, "namespace must be"),
        ([1, 2], "the body must be a JSON object"),
    ],
    ids=["empty", "too-long", "bad-namespace", "not-an-object"],
)
async def test_bad_input_gets_a_clear_400(client: TestClient[Any, Any], body: Any, message: str) -> None:
    response = await client.post("/api/requests", json=body, headers={**ALICE, **csrf()})
    assert response.status == 400
    assert message in (await response.json())["error"]


async def test_feedback_is_checked_as_the_audit_store_reads_it_before_it_is_written(
    client: TestClient[Any, Any],
) -> None:
    bad = {"namespace": "team-a", "name": "r1", "score": 9, "correctedIntent": "no.such.action"}
    response = await client.post("/api/v1/feedback", json=bad, headers={**ALICE, **csrf()})
    assert response.status == 400
    error = (await response.json())["error"]
    assert "feedback-score must be an integer from 1 to 5" in error
    assert "'no.such.action', which is not in the catalog" in error


async def test_analytics_without_an_audit_store_is_503_with_the_reason(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/analytics/accuracy", headers=ALICE)
    assert response.status == 503
    assert (await response.json())["error"] == server.MESSAGE_NO_AUDIT_STORE


@pytest.mark.parametrize("days", ["soon", "-1", "0", "1e9", "nan"])
async def test_analytics_over_a_nonsense_period_is_a_400(catalog: Catalog, days: str) -> None:
    config = server.Config(catalog=catalog, secret=SECRET, database_url="postgresql://nowhere.invalid/db")
    async with TestClient(TestServer(server.create_app(config))) as test_client:
        response = await test_client.get(f"/api/v1/analytics/errors?days={days}", headers=ALICE)
        assert response.status == 400
        assert "days must be a number above 0" in (await response.json())["error"]


async def test_health_and_the_api_description_are_public(client: TestClient[Any, Any]) -> None:
    assert await (await client.get("/health")).json() == {"status": "ok", "auditStore": False}
    document = await (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/chat" in document["paths"]


def test_feedback_fields_become_the_annotations_the_audit_store_reads() -> None:
    body = {"score": 4, "intentCorrect": False, "correctedIntent": "provision.scale.deployment", "text": "close"}
    assert server.feedback_annotations(body) == {
        "opsgate.dev/feedback-score": "4",
        "opsgate.dev/intent-correct": "false",
        "opsgate.dev/corrected-intent": '{"action": "provision.scale.deployment"}',
        "opsgate.dev/feedback": "close",
    }
