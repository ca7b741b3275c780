"""``opsgate alerts``: receive Alertmanager webhooks and turn firing alerts into OpsRequests.

Point an Alertmanager ``webhook_configs`` entry at ``http://<host>:<port>/webhook``. Each firing
alert that a route in ``policies/alert-routes.yaml`` matches becomes one OpsRequest, created with
the receiver's own credentials - the API server's admission policy holds ``spec.requester`` to
that identity, so the request is the receiver's ServiceAccount's like any user's is theirs, and
goes through planning, policy and approval like any other. Resolved alerts, alerts no route
matches and alerts over a route's rate limit make nothing (the answer says why, per alert).
A route's rate limit is counted from its requests on the API server (:mod:`opsgate.alerts.ratelimit`),
so a restart or a second replica does not reset it; the receiver needs ``list`` on OpsRequests
in every namespace for that (deploy/alerts-rbac.yaml) - bound per namespace only, it counts in
the alert's namespace. A failure to reach the API server answers 503, so Alertmanager sends the
alerts again.

With ``--token-file`` (or ``OPSGATE_ALERTS_TOKEN``), callers must send ``Authorization: Bearer
<token>`` (Alertmanager: ``http_config.authorization.credentials_file``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import click

from opsgate import catalog, kube, paths, resources
from opsgate.alerts import ratelimit, requests, routes, webhook

log = logging.getLogger("opsgate.alerts")

MAX_BODY_BYTES = 1 << 20
MAX_KNOWN = 10_000
ENV_TOKEN = "OPSGATE_ALERTS_TOKEN"  # noqa: S105 - the name of the variable, not a token

Create = Callable[[Mapping[str, Any]], Awaitable[bool]]  # True: created; False: it existed already
# The OpsRequests labelled with a route (name), as the API server has them; the namespace the
# alert's request goes to is where to look when the receiver may not list every namespace.
Made = Callable[[str, str], Awaitable[list[dict[str, Any]]]]


@dataclasses.dataclass
class Report:
    """What one webhook call did, per alert (the HTTP answer, and the log)."""

    created: list[str] = dataclasses.field(default_factory=list)
    duplicates: list[str] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)
    errors: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Receiver:
    """The receiver: its routes, catalog and identity, and how it reads and makes requests."""

    routes: routes.RouteSet
    actions: catalog.Catalog
    username: str
    groups: tuple[str, ...]
    create: Create
    made: Made
    clock: Callable[[], datetime.datetime] = dataclasses.field(default=lambda: datetime.datetime.now(datetime.UTC))
    # Requests this process made or found: a re-send of their alert is a duplicate before it is
    # a rate-limit question. Bounded; forgotten names fall back to the API server's answer.
    known: dict[str, None] = dataclasses.field(default_factory=dict)
    # One count-then-create at a time per route, so concurrent webhook calls can't both take the last slot.
    locks: dict[str, asyncio.Lock] = dataclasses.field(default_factory=dict)

    async def receive(self, payload: webhook.Payload) -> Report:
        report = Report()
        for alert in payload.alerts:
            await self._one(alert, report)
        return report

    async def _one(self, alert: webhook.Alert, report: Report) -> None:
        if alert.status is webhook.AlertStatus.RESOLVED:
            report.skipped.append({"fingerprint": alert.fingerprint, "reason": "resolved alerts don't act"})
            return
        routed = routes.route_alert(alert, routes=self.routes, actions=self.actions)
        if isinstance(routed, routes.Unrouted):
            report.skipped.append({"fingerprint": alert.fingerprint, "reason": routed.reason})
            return
        manifest = requests.manifest(routed, alert, requester=self.username, groups=self.groups)
        name = f"{routed.namespace}/{manifest['metadata']['name']}"
        if name in self.known:
            report.duplicates.append(name)
            return
        route, namespace = routed.route.name, routed.namespace
        async with self.locks.setdefault(route, asyncio.Lock()):
            try:
                existing = await self.made(route, namespace)
                if any(_named(r) == name for r in existing):  # a re-send of a firing already turned into a request
                    self._remember(name)
                    report.duplicates.append(name)
                    return
                limit = routed.route.rate_limit
                if not ratelimit.allows(existing, route=route, limit=limit, requester=self.username, now=self.clock()):
                    report.skipped.append(
                        {"fingerprint": alert.fingerprint, "reason": ratelimit.limited_reason(route, limit)}
                    )
                    return
                made = await self.create(manifest)
            except kube.ApiError as exc:
                report.errors.append({"fingerprint": alert.fingerprint, "request": name, "error": str(exc)})
                return
        self._remember(name)
        (report.created if made else report.duplicates).append(name)

    def _remember(self, name: str) -> None:
        self.known[name] = None
        while len(self.known) > MAX_KNOWN:
            del self.known[next(iter(self.known))]


def _named(request: Mapping[str, Any]) -> str:
    meta = request.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


async def _made(route: str, namespace: str) -> list[dict[str, Any]]:
    """The route's requests in every namespace; in ``namespace`` only when the receiver may not list them all."""
    selector = f"{routes.LABEL_ROUTE}={route}"
    try:
        items: list[dict[str, Any]] = await kube.acall(
            kube.list_objects, resources.API_VERSION, "OpsRequest", None, labels=selector
        )
    except kube.ApiError as exc:
        if exc.status != 403:
            raise
        items = await kube.acall(kube.list_objects, resources.API_VERSION, "OpsRequest", namespace, labels=selector)
    return items


async def _create(manifest: Mapping[str, Any]) -> bool:
    try:
        await kube.acall(kube.create, manifest)
    except kube.ApiError as exc:
        if exc.conflict:
            return False
        raise
    return True


def make_app(receiver: Receiver, *, token: str | None) -> Any:
    """The aiohttp application: ``POST /webhook`` and ``GET /healthz``."""
    from aiohttp import web  # only the receiver needs the server

    async def handle(request: web.Request) -> web.Response:
        if token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.json_response({"error": "a valid bearer token is required"}, status=401)
        try:
            payload = webhook.parse(json.loads(await request.read()))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "the body is not JSON"}, status=400)
        except webhook.PayloadError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        report = await receiver.receive(payload)
        for created in report.created:
            log.info("alert request created: %s", created)
        for duplicate in report.duplicates:
            log.info("alert request exists (a re-send of the same firing): %s", duplicate)
        for skipped in report.skipped:
            log.info("alert %s skipped: %s", skipped["fingerprint"], skipped["reason"])
        for error in report.errors:
            log.warning("alert %s: could not create %s: %s", error["fingerprint"], error["request"], error["error"])
        return web.json_response(report.document(), status=503 if report.errors else 200)

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/webhook", handle)
    app.router.add_get("/healthz", healthz)
    return app


def _token(token_file: Path | None) -> str | None:
    if token_file is not None:
        value = token_file.read_text(encoding="utf-8").strip()
        if not value:
            raise click.BadParameter(f"{token_file} is empty", param_hint="--token-file")
        return value
    return os.environ.get(ENV_TOKEN) or None


@click.command("alerts")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9095, show_default=True, type=int)
@click.option("--kubeconfig", default=None, help="Credentials (default: in-cluster, then $KUBECONFIG).")
@click.option(
    "--routes",
    "routes_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Routes file (default: policies/{routes.ROUTES_FILE}).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help=f"Require this bearer token from callers (or set {ENV_TOKEN}).",
)
def alerts(host: str, port: int, kubeconfig: str | None, routes_file: Path | None, token_file: Path | None) -> None:
    """Receive Alertmanager webhooks (POST /webhook) and create OpsRequests through the routes."""
    from aiohttp import web

    actions = catalog.default_catalog()
    try:
        loaded = routes.load_routes(routes_file or paths.policies_dir() / routes.ROUTES_FILE, actions=actions)
    except routes.RoutesError as exc:
        raise click.ClickException(str(exc)) from exc
    kube.configure(kubeconfig)
    try:
        me = kube.whoami()
    except kube.ApiError as exc:
        raise click.ClickException(f"cannot ask the API server who this receiver is: {exc.message}") from exc
    username, groups = str(me.get("username", "")), tuple(me.get("groups") or ())
    if username != loaded.requester:
        log.warning(
            "this receiver runs as %s but %s names %s as the routes' requester: its requests earn no autonomy",
            username,
            loaded.source,
            loaded.requester,
        )
    receiver = Receiver(routes=loaded, actions=actions, username=username, groups=groups, create=_create, made=_made)
    click.echo(
        f"opsgate alerts: {len(loaded.routes)} route(s), requests as {username}, on http://{host}:{port}/webhook"
    )
    web.run_app(make_app(receiver, token=_token(token_file)), host=host, port=port, print=None)


__all__ = ["Receiver", "Report", "alerts", "make_app"]
