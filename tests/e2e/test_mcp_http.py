"""``opsgate mcp --http`` driven by the official MCP SDK's streamable-HTTP client, one server for many agents.

The server runs as the ``opsgate-mcp`` ServiceAccount of ``deploy/mcp-rbac.yaml`` (TokenReviews and
impersonation, nothing else); each agent is a ServiceAccount of its own that sends its token as a
bearer token. What an agent submits is its own request - the API server's name for it, not the
server's - and without a token, or with one the API server does not know, nothing runs. The agent
has no tool to approve and the API server refuses it patching the Approval itself (RBAC, then
four-eyes), as over stdio (tests/e2e/test_mcp.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from tests.e2e.cluster import ROOT, Cluster, Kubectl, Operator, Served, Team, _free_port, token_kubeconfig, wait_for
from tests.e2e.test_mcp import TOOLS, call, decision

SERVER_ACCOUNT = "opsgate-mcp"
SERVER_NAMESPACE = "opsgate-system"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "curl-like", "version": "0"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def service_account_token(kubectl: Kubectl, name: str, namespace: str) -> str:
    token: str = kubectl("create", "token", name, "-n", namespace, "--duration=1h").stdout.strip()
    return token


class McpHttpServer(Served):
    """``opsgate mcp --http 127.0.0.1:P --kubeconfig <opsgate-mcp's>``; ``url`` once it answers."""

    def __init__(self, kubeconfig: Path, log_path: Path, env: dict[str, str]) -> None:
        super().__init__(log_path, env)
        self.kubeconfig = kubeconfig
        self.url = ""

    def start(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/mcp"
        argv = [str(ROOT / ".venv/bin/opsgate"), "mcp", "--http", f"127.0.0.1:{port}"]
        self.serve([*argv, "--kubeconfig", str(self.kubeconfig)], self._answers)

    def _answers(self) -> bool:
        """Up once an unauthenticated initialize is refused (401): nothing answers before the auth layer."""
        try:
            return bool(httpx2.post(self.url, json=INITIALIZE, headers=ACCEPT, timeout=2).status_code == 401)
        except httpx2.TransportError:
            return False


@pytest.fixture(scope="module")
def mcp_http(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpHttpServer]:
    state = tmp_path_factory.mktemp("mcp-http")
    kubectl("apply", "-f", str(ROOT / "deploy" / "operator-rbac.yaml"))  # the opsgate-system namespace
    kubectl("apply", "-f", str(ROOT / "deploy" / "mcp-rbac.yaml"))
    token = service_account_token(kubectl, SERVER_ACCOUNT, SERVER_NAMESPACE)
    kubeconfig = token_kubeconfig(kubectl, state / "kubeconfig", SERVER_ACCOUNT, token)
    env = {k: v for k, v in kubectl.cluster.env.items() if k != "KUBECONFIG"}
    server = McpHttpServer(kubeconfig, state / "mcp.log", env)
    server.start()
    yield server
    server.stop()


@asynccontextmanager
async def agent_session(url: str, token: str | None) -> AsyncIterator[ClientSession]:
    """The SDK's streamable-HTTP client session, sending ``token`` as the bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    timeout = httpx2.Timeout(30, read=300)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def opened_within(seconds: float, url: str, token: str | None) -> None:
    """Open (and close) an SDK client session, or raise why not; TimeoutError if it hangs."""
    with anyio.fail_after(seconds):
        async with agent_session(url, token):
            pass


def agent(kubectl: Kubectl, namespace: str, name: str) -> tuple[str, str]:
    """A ServiceAccount with the requester role in ``namespace``: (its username, a token for it)."""
    kubectl("create", "serviceaccount", name, "-n", namespace)
    username = f"system:serviceaccount:{namespace}:{name}"
    kubectl(
        "create",
        "rolebinding",
        f"opsgate-requester-{name}",
        "--clusterrole=opsgate-requester",
        f"--serviceaccount={namespace}:{name}",
        "-n",
        namespace,
    )
    return username, service_account_token(kubectl, name, namespace)


async def test_each_agent_submits_as_itself_and_cannot_approve(
    kubectl: Kubectl, operator: Operator, mcp_http: McpHttpServer, team: Team, tmp_path: Path
) -> None:
    namespace = team.namespace
    first, first_token = agent(kubectl, namespace, "agent-one")
    second, second_token = agent(kubectl, namespace, "agent-two")

    async with agent_session(mcp_http.url, first_token) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools == TOOLS  # nothing to approve or reject with
        offline = await call(session, "plan", text="create an email for agent@acme.org", namespace=namespace)
        assert (offline["plan"]["requester"], offline["policy"]["decision"]) == (first, "Denied")
        submitted = await call(session, "submit", text="create an email for agent@acme.org", namespace=namespace)
        name = submitted["name"]
        assert submitted["requester"] == first  # the API server's name for the token's holder
        decided = await call(session, "wait", name=name, timeout_seconds=120, namespace=namespace)
        # Decided for the agent as the agent: a ServiceAccount is in no MFA group, and under the
        # default policies a change that needs an approval needs MFA of its requester.
        assert decided["phase"] == "Denied"
        why = await call(session, "explain", name=name, namespace=namespace)
        denied = [r["policy"] for r in why["policy"]["results"] if r["result"] == "deny"]
        assert denied == ["mfa-for-privileged-operations"]

    # Another agent on the same server is itself, not the first one nor the server.
    async with agent_session(mcp_http.url, second_token) as session:
        other = await call(session, "submit", text="create an email for two@acme.org", namespace=namespace)
        assert other["requester"] == second
    requesters = {o["spec"]["requester"] for o in kubectl.get_json("opsrequests", "-n", namespace)["items"]}
    assert requesters == {first, second}

    # A person's request waits for an approver; the agent, with its own token, can't be that approver.
    team.create("mailbox", "create an email for person@acme.org")
    approval = wait_for(
        lambda: (kubectl.get_json("opsrequest", "mailbox", "-n", namespace).get("status") or {}).get("approval"),
        timeout=120,
        what="the person's request to wait for an approval",
    )["name"]
    as_agent = Kubectl(
        Cluster(
            str(token_kubeconfig(kubectl, tmp_path / "agent.kubeconfig", "agent-one", first_token)),
            kubectl.cluster.kubectl_path,
            kubectl.cluster.env,
        )
    )
    digest = kubectl.get_json("approval", approval, "-n", namespace)["spec"]["planDigest"]
    patch = ["patch", "approval", approval, "-n", namespace, "--type=merge"]
    refused = as_agent(*patch, "-p", decision(first, "Approve", digest, []), check=False)
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()  # RBAC: a requester can't write Approvals
    # ... and granted the approver role by mistake, the admission policy still refuses: not an approver.
    kubectl(
        "create",
        "rolebinding",
        "opsgate-approver-agent-one",
        "--clusterrole=opsgate-approver",
        f"--serviceaccount={namespace}:agent-one",
        "-n",
        namespace,
    )
    refused = as_agent(*patch, "-p", decision(first, "Approve", digest, []), check=False)
    assert "only members of opsgate-approvers may decide on this request" in refused.stderr
    assert kubectl.get_json("opsrequest", "mailbox", "-n", namespace)["status"]["phase"] == "AwaitingApproval"


@pytest.mark.parametrize("token", [None, "not-a-token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.Zm9yZ2Vk"],
                         ids=["no-token", "garbage", "forged-jwt"])  # fmt: skip
async def test_without_a_token_the_api_server_knows_nothing_runs(
    kubectl: Kubectl, mcp_http: McpHttpServer, namespace: str, token: str | None
) -> None:
    headers = {**ACCEPT, **({"Authorization": f"Bearer {token}"} if token else {})}
    submit = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "submit", "arguments": {"text": "create an email for x@acme.org", "namespace": namespace}},
    }
    async with httpx2.AsyncClient(timeout=30) as client:
        for message in (INITIALIZE, submit):
            answer = await client.post(mcp_http.url, json=message, headers=headers)
            assert answer.status_code == 401
            assert answer.json()["error"] == "invalid_token"
            assert answer.headers["www-authenticate"].startswith("Bearer ")

    # The SDK's client is refused as well, and nothing was made.
    with pytest.raises(Exception) as refused:  # noqa: PT011 - whatever the SDK raises for a 401
        await opened_within(60, mcp_http.url, token)
    assert not isinstance(refused.value, TimeoutError), "the SDK client hung instead of being refused"
    assert kubectl.get_json("opsrequests", "-n", namespace)["items"] == []


async def test_a_session_belongs_to_the_token_that_opened_it(
    kubectl: Kubectl, mcp_http: McpHttpServer, namespace: str
) -> None:
    _, first_token = agent(kubectl, namespace, "agent-one")
    _, second_token = agent(kubectl, namespace, "agent-two")
    async with httpx2.AsyncClient(timeout=30) as client:
        opened = await client.post(
            mcp_http.url, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {first_token}"}
        )
        assert opened.status_code == 200, opened.text
        session_id = opened.headers["mcp-session-id"]
        hijack: dict[str, Any] = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}
        headers = {**ACCEPT, "Authorization": f"Bearer {second_token}", "Mcp-Session-Id": session_id}
        answer = await client.post(mcp_http.url, json=hijack, headers=headers)
        assert answer.status_code == 404  # as if the session did not exist
