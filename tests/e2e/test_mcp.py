"""``opsgate mcp`` driven by the official MCP SDK's client over stdio, as an agent would drive it.

The agent runs with a kubeconfig of its own (a client certificate the cluster signed for
``agent-…``), the operator and the process node run for real: what the agent submits is decided,
waits for a human, and its Job really runs. The agent has no tool to approve, and patching the
Approval itself is refused by the API server (RBAC, then the four-eyes admission policy).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client
from tests.e2e.cluster import ROOT, Cluster, Kubectl, Operator
from tests.e2e.frontdoor import client_certificate_kubeconfig, kubectl_opsgate

TOOLS = {"list_actions", "plan", "submit", "status", "explain", "wait"}


@asynccontextmanager
async def agent_session(kubectl: Kubectl, kubeconfig: Path, namespace: str) -> AsyncIterator[ClientSession]:
    """An MCP client session with ``opsgate mcp`` started as a subprocess with the agent's kubeconfig."""
    env = {k: v for k, v in kubectl.cluster.env.items() if k != "KUBECONFIG"}
    server = StdioServerParameters(
        command=str(ROOT / ".venv/bin/opsgate"),
        args=["mcp", "--kubeconfig", str(kubeconfig), "-n", namespace],
        env={**env, "HOME": os.environ.get("HOME", "/root")},
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments, read_timeout_seconds=300)
    assert not result.is_error, result.content
    document: dict[str, Any] = result.structured_content
    return document


def grant(kubectl: Kubectl, namespace: str, role: str, user: str) -> None:
    kubectl("create", "rolebinding", f"{role}-{user}", f"--clusterrole={role}", f"--user={user}", "-n", namespace)


def decision(approver: str, verdict: str, digest: str, earlier: list[Any]) -> str:
    entry = {"approver": approver, "decision": verdict, "digest": digest, "message": f"{approver} says {verdict}"}
    return json.dumps({"spec": {"decisions": [*earlier, entry]}})


async def test_an_agent_submits_a_human_approves_and_the_agent_sees_it_run(
    kubectl: Kubectl, operator: Operator, namespace: str, tmp_path: Path
) -> None:
    agent = f"agent-{namespace.rsplit('-', 1)[-1]}"
    # The platform team issued the agent an identity with MFA asserted, as it would a person's,
    # and the requester role in this namespace: nothing more.
    kubeconfig = client_certificate_kubeconfig(kubectl, tmp_path, agent, ("opsgate-mfa",))
    grant(kubectl, namespace, "opsgate-requester", agent)
    as_agent = Kubectl(Cluster(str(kubeconfig), kubectl.cluster.kubectl_path, kubectl.cluster.env))

    async with agent_session(kubectl, kubeconfig, namespace) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools == TOOLS  # nothing to approve or reject with

        actions = {a["key"]: a for a in (await call(session, "list_actions"))["actions"]}
        email = actions["provision.create.email"]
        assert email["requiresApproval"] is True
        assert email["parameters"]["required"] == ["email"]
        assert email["risk"] in {"low", "medium", "high", "critical"}

        offline = await call(session, "plan", text="create an email for agent@acme.org")
        assert offline["policy"]["decision"] == "ApprovalRequired"
        assert offline["plan"]["parameters"]["email"] == "agent@acme.org"
        assert {r["policy"] for r in offline["policy"]["results"]} >= {"mfa-for-privileged-operations"}
        assert kubectl.get_json("opsrequests", "-n", namespace)["items"] == []  # plan changed nothing

        submitted = await call(session, "submit", text="create an email for agent@acme.org")
        name = submitted["name"]
        assert submitted["requester"] == agent  # the API server's name for the agent, not a claim
        waiting = await call(session, "wait", name=name, phases=["AwaitingApproval"], timeout_seconds=120)
        assert (waiting["phase"], waiting["reached"]) == ("AwaitingApproval", True)
        approval = waiting["approval"]["name"]

        # The agent patches the Approval itself: RBAC refuses (a requester can't write Approvals) ...
        digest = kubectl.get_json("approval", approval, "-n", namespace)["spec"]["planDigest"]
        patch = ["patch", "approval", approval, "-n", namespace, "--type=merge"]
        refused = as_agent(*patch, "-p", decision(agent, "Approve", digest, []), check=False)
        assert refused.returncode != 0
        assert "forbidden" in refused.stderr.lower()
        # ... and granted the approver role by mistake, the four-eyes admission policy still refuses.
        grant(kubectl, namespace, "opsgate-approver", agent)
        refused = as_agent(*patch, "-p", decision(agent, "Approve", digest, []), check=False)
        assert f'four-eyes: "{agent}" requested this change' in refused.stderr
        assert (await call(session, "status", name=name))["phase"] == "AwaitingApproval"

        # A human approves with the kubectl plugin, as themselves, naming the request as `status`
        # lists it (the plugin finds its Approval).
        bob = ("--as", "bob", "--as-group", "opsgate-approvers")
        approved = kubectl_opsgate(kubectl.cluster, "approve", name, "-n", namespace, "-m", "ok", *bob)
        assert approved.returncode == 0, approved.stderr
        assert "Approve recorded for bob." in approved.stdout

        done = await call(session, "wait", name=name, timeout_seconds=240)
        assert (done["phase"], done["finished"], done["timedOut"]) == ("Succeeded", True, False)
        assert done["job"]
        why = await call(session, "explain", name=name)
        assert why["plan"]["action"] == "provision.create.email"
        assert [d["approver"] for d in why["approval"]["decisions"]] == ["bob"]
        assert any(r["result"] == "approval" for r in why["policy"]["results"])

        # The API server's refusals reach the agent as tool errors it can read.
        missing = await session.call_tool("status", {"name": "no-such-request"})
        assert missing.is_error
        assert "not found" in str(missing.content[0])
