"""``opsgate mcp``: OpsGate as a Model Context Protocol server, so AI agents ask the way people do.

An agent (a coding assistant, kagent, HolmesGPT…) gets tools to read the catalog, decide a request
offline, submit one, follow it and ask why it was decided so. It acts with its own Kubernetes
identity - the kubeconfig (or in-cluster ServiceAccount) this server runs with - through the same
:mod:`opsgate.frontdoor.calls` as ``kubectl opsgate``. There is deliberately no tool to approve or
reject: an agent's request goes to human approvers like anyone's, and were the agent to patch the
Approval itself the API server refuses it (four-eyes, approver groups: crds/admission-policies.yaml).

Transports: stdio (the agent starts ``opsgate mcp`` as a subprocess, with its own credentials), or
streamable HTTP (``--http HOST:PORT``: one server for many agents). Over HTTP every request carries
the agent's own Kubernetes token as ``Authorization: Bearer``; the API server reviews it
(:mod:`opsgate.frontdoor.bearer`) and each tool runs as that identity through impersonation. No
token, or one the API server does not authenticate, is answered 401 before any tool runs; a session
belongs to the identity that opened it. The server's own credentials only review tokens and
impersonate (deploy/mcp-rbac.yaml).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Sequence
from typing import Any

import click
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError

from opsgate import __version__, catalog, kube, paths
from opsgate.cli import plan as plan_command
from opsgate.frontdoor import bearer, calls, views
from opsgate.plan import PlanError
from opsgate.policy import PolicyLoadError
from opsgate.resources import Phase

MAX_WAIT_SECONDS = 600  # one tool call blocks the agent; it calls wait again to go on
INSTRUCTIONS = (
    "OpsGate turns operations requests into policy-checked, human-approved changes on Kubernetes. "
    "Use list_actions to see what can be asked, plan to see how a request would be decided (changes nothing), "
    "submit to ask for it as your own identity, then status, wait and explain. You cannot approve: "
    "requests that need an approval wait for a human approver."
)
MESSAGE_PHASES = "unknown phase(s) {unknown}; phases are " + ", ".join(p.value for p in Phase)
MESSAGE_NO_CALLER = "no authenticated caller on this request; nothing was done"
CLAIM_GROUPS = "groups"
INVALID_REQUEST = -32600  # JSON-RPC

log = logging.getLogger("opsgate.mcp")


class KubernetesTokens:
    """The SDK's token verifier: a bearer token is whoever the API server's TokenReview says it is."""

    def __init__(self, *, audiences: Sequence[str] = ()) -> None:
        self.audiences = tuple(audiences)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            caller = await asyncio.to_thread(bearer.authenticate, token, audiences=self.audiences)
        except kube.ApiError as exc:  # the API server could not review it: nobody is let in
            log.warning("TokenReview failed: %s (%s)", exc.message, exc.status)
            return None
        if caller is None:
            return None
        return AccessToken(
            token=token,
            client_id=caller.username,
            subject=caller.username,
            scopes=[],
            claims={CLAIM_GROUPS: list(caller.groups)},
        )


def caller_of(ctx: ServerRequestContext[Any, Any]) -> bearer.Caller | None:
    """The caller the HTTP request carrying this message was authenticated as (the SDK's bearer middleware)."""
    scope = getattr(ctx.request, "scope", None) or {}
    user = scope.get("user")
    if not isinstance(user, AuthenticatedUser):
        return None
    token = user.access_token
    groups = (token.claims or {}).get(CLAIM_GROUPS) or []
    return bearer.Caller(token.client_id, tuple(str(g) for g in groups))


async def as_caller(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Every message of an HTTP session is handled as its caller: each Kubernetes call impersonates them.

    A message without an authenticated caller is refused (the SDK answers 401 before it gets
    here; this keeps a message from ever running with the server's own credentials).
    """
    caller = caller_of(ctx)
    if caller is None:
        raise MCPError(code=INVALID_REQUEST, message=MESSAGE_NO_CALLER)
    with kube.acting_as(caller.username, caller.groups):
        return await call_next(ctx)


def build(*, default_namespace: str, http_issuer: str | None = None, audiences: Sequence[str] = ()) -> MCPServer:
    """The server and its tools; ``default_namespace`` is where requests go when a call names none.

    With ``http_issuer`` (the API server's URL: it is who vouches for the tokens) the server is
    built for streamable HTTP: bearer tokens reviewed by the API server, every message handled as
    its caller.
    """
    http: dict[str, Any] = {}
    if http_issuer is not None:
        http = {
            "token_verifier": KubernetesTokens(audiences=audiences),
            "auth": AuthSettings(issuer_url=http_issuer, resource_server_url=None),
            "middleware": [as_caller],
        }
    server: MCPServer = MCPServer("opsgate", version=__version__, instructions=INSTRUCTIONS, **http)

    @server.tool()
    async def list_actions() -> dict[str, Any]:
        """Every action OpsGate can run: catalog key, description, parameter JSON schema, risk, approval."""
        return {"actions": views.catalog_actions(_catalog())}

    @server.tool()
    async def plan(text: str, namespace: str | None = None, environment: str | None = None) -> dict[str, Any]:
        """Decide TEXT offline as you: intent, plan, every policy result, the decision. Creates nothing."""
        where = namespace or default_namespace
        identity = await _call(calls.whoami)
        try:
            body = views.request_manifest(text, namespace=where, identity=identity, environment=environment)
        except ValueError as exc:
            raise ToolError(str(exc)) from exc
        body["metadata"] = {"name": plan_command.CLI_NAME, "uid": plan_command.CLI_NAME, "namespace": where}
        labels = await _call(_namespace_labels, where)
        try:
            return await plan_command.decide_offline(
                body, now=datetime.datetime.now(datetime.UTC), namespace_labels=labels
            )
        except (catalog.CatalogError, PolicyLoadError, PlanError, paths.HomeNotFoundError) as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    async def submit(
        text: str, namespace: str | None = None, environment: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Ask for TEXT as your own Kubernetes identity: creates an OpsRequest; returns its name and phase."""
        created = await _call(
            calls.submit, text, namespace=namespace or default_namespace, environment=environment, dry_run=dry_run
        )
        return views.summary(created)

    @server.tool()
    async def status(name: str, namespace: str | None = None) -> dict[str, Any]:
        """Where request NAME stands: phase, action, decision, approval, job, result and why."""
        return views.summary(await _call(calls.get, namespace or default_namespace, name))

    @server.tool()
    async def explain(name: str, namespace: str | None = None) -> dict[str, Any]:
        """Why request NAME was decided so: intent, context sources, plan, every policy result, approval."""
        document: dict[str, Any] = await _call(calls.explain, namespace or default_namespace, name)
        return document

    @server.tool()
    async def wait(
        name: str, phases: list[str] | None = None, timeout_seconds: int = 60, namespace: str | None = None
    ) -> dict[str, Any]:
        """Wait until request NAME is in one of PHASES (default: until it finishes), at most timeout_seconds (600)."""
        phases = phases or []
        unknown = sorted(set(phases) - {p.value for p in Phase})
        if unknown:
            raise ToolError(MESSAGE_PHASES.format(unknown=", ".join(unknown)))
        bounded = min(max(timeout_seconds, 1), MAX_WAIT_SECONDS)
        obj, in_time = await _call(calls.wait, namespace or default_namespace, name, phases=phases, timeout=bounded)
        return {**views.summary(obj), "reached": in_time and views.reached(obj, phases), "timedOut": not in_time}

    return server


async def _call(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    """A blocking front-door call in a worker thread; the API server's refusal becomes the tool's error."""
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except kube.ApiError as exc:
        raise ToolError(f"{exc.message} ({exc.status} {exc.reason})") from exc
    except ValueError as exc:
        raise ToolError(str(exc)) from exc


def _catalog() -> catalog.Catalog:
    try:
        return catalog.load_catalog(paths.catalog_file())
    except (catalog.CatalogError, paths.HomeNotFoundError) as exc:
        raise ToolError(str(exc)) from exc


def _namespace_labels(namespace: str) -> dict[str, str]:
    """The namespace's labels (tags policy), when the caller may read it; else none."""
    try:
        found = kube.get("v1", "Namespace", None, namespace)
    except kube.ApiError as exc:
        if exc.status in (403, 404):
            return {}
        raise
    return dict(found["metadata"].get("labels") or {})


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--http")
    return host.strip("[]"), int(port)


@click.command("mcp")
@click.option(
    "--kubeconfig",
    default=None,
    help="stdio: the agent's kubeconfig; --http: the server's, which may only review tokens and impersonate "
    "(default: in-cluster, else $KUBECONFIG).",
)
@click.option("--context", default=None, help="The kubeconfig context to use.")
@click.option("-n", "--namespace", default=None, help="Where requests go by default (default: the context's).")
@click.option(
    "--http",
    "http",
    default=None,
    metavar="HOST:PORT",
    help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio; callers send their own Kubernetes "
    "token as a bearer token.",
)
@click.option(
    "--audience",
    "audiences",
    multiple=True,
    help="--http: accept only tokens issued for this audience (repeatable; default: the API server's).",
)
def mcp(
    kubeconfig: str | None, context: str | None, namespace: str | None, http: str | None, audiences: tuple[str, ...]
) -> None:
    """Serve the Model Context Protocol: agents request changes as their own identity, never approve."""
    address = _address(http) if http else None
    try:
        calls.connect(kubeconfig=kubeconfig, context=context)
    except calls.ConnectError as exc:
        raise click.ClickException(str(exc)) from exc
    default_namespace = namespace or kube.kubeconfig_namespace(kubeconfig, context=context)
    if address is None:
        build(default_namespace=default_namespace).run("stdio")
        return
    host, port = address
    server = build(default_namespace=default_namespace, http_issuer=kube.server_url(), audiences=audiences)
    click.echo(f"opsgate mcp on http://{host}:{port}/mcp (bearer: Kubernetes tokens)", err=True)
    server.run("streamable-http", host=host, port=port)
