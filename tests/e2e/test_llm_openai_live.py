"""An external, OpenAI-compatible LLM provider on the local cluster, with personal data masked.

The operator runs with OPSGATE_LLM_PROVIDER=openai against the OpenAI-API test server, which
refuses (and records) any request carrying an e-mail address, an IP address or a name the test
forbids. A request naming a person then reaches its decision through the same validated path -
the model fills the catalog's schema, the rules cross-check - and its exchange is in the audit
store as it was sent: masked. The session operator is stopped for these tests and restarted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from tests.e2e.cluster import Kubectl, Operator, Team
from tests.fakes.openai_server import Behaviour, FakeOpenAI

KEY = "sk-e2e-0123456789abcdef0123"


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, forbidden=("Mary", "Jones")) as server:
        yield server


@pytest.fixture(scope="module")
def openai_operator(
    operator: Operator, provider: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    key_file = tmp_path_factory.mktemp("llm-key") / "api-key"
    key_file.write_text(KEY)  # as a mounted Secret
    env = {
        **operator.env,
        "OPSGATE_LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": provider.url,
        "OPENAI_MODEL": "gpt-4o-mini",
        "OPENAI_API_KEY_FILE": str(key_file),
        "OPSGATE_LLM_TIMEOUT_SECONDS": "3",
    }
    operator.stop()
    external = Operator(operator.cluster, operator.log_path.with_name("openai-operator.log"), env)
    external.start()
    yield external
    external.stop()
    operator.start()


def _wait_status(k: Kubectl, namespace: str, name: str, *phases: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = k.get_json("opsrequest", name, "-n", namespace).get("status") or {}
        if status.get("phase") in phases:
            return status
        time.sleep(0.25)
    raise AssertionError(f"{name} not in {phases} in {timeout}s")


def _exchanges(url: str, uid: str, *, timeout: float = 30) -> list[asyncpg.Record]:
    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return list(await conn.fetch("SELECT * FROM llm_exchanges WHERE request_uid = $1 ORDER BY id", uid))
        finally:
            await conn.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = asyncio.run(rows())
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no LLM exchange recorded for {uid} in {timeout}s")


def test_an_external_provider_answers_through_the_validated_path_with_personal_data_masked(
    kubectl: Kubectl, openai_operator: Operator, provider: FakeOpenAI, team: Team
) -> None:
    provider.behaviour = Behaviour.VALID
    team.create("email", "create an email for Mary Jones mary.jones@acme.org")
    status = _wait_status(kubectl, team.namespace, "email", "AwaitingApproval")
    assert status["intent"]["parser"] == "llm+rules"
    assert status["plan"]["action"] == "provision.create.email"
    assert status["plan"]["parameters"]["email"] == "mary.jones@acme.org"  # restored from <EMAIL_1>
    assert provider.leaks == []
    assert any("<EMAIL_1>" in body["messages"][-1]["content"] for body in provider.requests)

    uid = kubectl.get_json("opsrequest", "email", "-n", team.namespace)["metadata"]["uid"]
    (row,) = _exchanges(openai_operator.env["OPSGATE_DATABASE_URL"], uid)
    assert (row["provider"], row["model"], row["outcome"]) == ("openai", "gpt-4o-mini", "ok")
    assert "<PERSON_1>" in row["prompt"]
    assert "<EMAIL_1>" in row["prompt"]
    assert "mary" not in row["prompt"].lower()
    assert KEY not in openai_operator.log()


def test_a_provider_rate_limiting_beyond_the_budget_leaves_the_rule_reading_and_says_why(
    kubectl: Kubectl, openai_operator: Operator, provider: FakeOpenAI, team: Team
) -> None:
    provider.behaviour, provider.retry_after, provider.rate_limited_times = Behaviour.RATE_LIMITED, 60, 10
    try:
        team.create("scale", "scale the checkout deployment to 4 replicas in staging")
        status = _wait_status(kubectl, team.namespace, "scale", "Running", "Succeeded", "Failed", "Approved")
    finally:
        provider.behaviour, provider.rate_limited_times = Behaviour.VALID, 0
    assert status["intent"]["parser"] == "rules"
    resolved = next(c for c in status["conditions"] if c["type"] == "IntentResolved")
    assert "LLM unavailable (the LLM provider at" in resolved["message"]
    assert "is rate-limiting us (HTTP 429" in resolved["message"]
    assert "used the rule parser" in resolved["message"]
    uid = kubectl.get_json("opsrequest", "scale", "-n", team.namespace)["metadata"]["uid"]
    assert [r["outcome"] for r in _exchanges(openai_operator.env["OPSGATE_DATABASE_URL"], uid)] == ["rate_limited"]


def test_a_question_is_answered_by_the_provider_from_the_runbooks(
    kubectl: Kubectl, openai_operator: Operator, provider: FakeOpenAI, team: Team
) -> None:
    provider.behaviour = Behaviour.VALID
    written = "Ask for `rotate the vault secrets for SERVICE in ENV`; the rotate-secret playbook does it [1]."
    provider.replies = [written]
    team.create("how", "how do I rotate vault secrets?")
    status = _wait_status(kubectl, team.namespace, "how", "Answered")
    assert status["answer"] == written
    prompt = provider.requests[-1]["messages"][0]["content"]
    assert "docs/runbooks/rotate-vault-secrets.md" in prompt  # the passages went along, masked
    assert provider.leaks == []


def test_an_exchange_edited_in_the_database_afterwards_is_caught_by_audit_verify(
    kubectl: Kubectl, openai_operator: Operator, provider: FakeOpenAI, team: Team
) -> None:
    """The exchange is listed by the request's record, whose chain head the OpsRequest's status holds."""
    from tests.e2e.test_audit import opsgate

    provider.behaviour = Behaviour.VALID
    team.create("chained", "create an email for jane@acme.org")
    _wait_status(kubectl, team.namespace, "chained", "AwaitingApproval")
    uid = kubectl.get_json("opsrequest", "chained", "-n", team.namespace)["metadata"]["uid"]
    url = openai_operator.env["OPSGATE_DATABASE_URL"]
    (row,) = _exchanges(url, uid)
    assert row["record_seq"] == 1  # listed by the record of the planning's status write
    args = ("audit", "verify", "--request", "chained", "-n", team.namespace)
    clean = opsgate(openai_operator, *args, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "records and 1 LLM exchanges checked, " in clean.stdout
    assert "heads compared with the API server: 0 problems" in clean.stdout

    async def set_reply(reply: str | None) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("UPDATE llm_exchanges SET reply = $2 WHERE id = $1", row["id"], reply)
        finally:
            await conn.close()

    asyncio.run(set_reply('{"key": "decommission.delete.cluster"}'))
    try:
        caught = opsgate(openai_operator, *args, check=False)
    finally:
        asyncio.run(set_reply(row["reply"]))  # the session's store is shared: verify over all of it stays clean
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert f"TAMPERED {team.namespace}/chained: request {uid} LLM exchange {row['exchange_key']}" in caught.stdout
    assert "exchange-edited: its reply changed since record 1 (" in caught.stdout
    restored = opsgate(openai_operator, *args, check=False)
    assert restored.returncode == 0, restored.stdout + restored.stderr
