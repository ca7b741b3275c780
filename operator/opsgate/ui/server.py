"""The chat front-end's HTTP server (aiohttp): the page, its API, and the seed's HTTP API.

Every Kubernetes call is made *as the signed-in user* (``kube.acting_as``: impersonation), so the
API server authorizes and admits it as them - RBAC, the requester-identity policy, four-eyes on
Approvals. The server's own credentials need only the right to impersonate. Progress reaches the
page from a watch on the OpsRequest, relayed as Server-Sent Events.

Routes (the OpenAPI description at ``/api/v1/openapi.json`` documents each):
``/`` the page; ``/health``; ``/api/session``; ``POST /api/requests``; ``/api/requests/{ns}/{name}``
and its ``/events`` stream; ``/api/approvals`` and ``POST /api/approvals/{ns}/{name}``;
``POST /api/v1/chat``; ``POST /api/v1/feedback``; ``/api/v1/analytics/{accuracy,errors}``.
The event stream's relay from a blocking watch is :mod:`.stream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources as package_files
from typing import Any

from aiohttp import web

from opsgate import kube, resources
from opsgate.adapters.auditdb import reads
from opsgate.adapters.auditdb.recorder import connect
from opsgate.audit import feedback
from opsgate.catalog import Catalog
from opsgate.controller import approvals, phases
from opsgate.resources import Verdict
from opsgate.ui import identity, openapi, stream, views

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
NAME = re.compile(r"^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")
ANALYTICS = ("accuracy", "errors")
MAX_DAYS = 3660
# Pages and tools that only read need no CSRF token; everything else writes.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC = frozenset({"/", "/health", "/api/v1/openapi.json"})
STATIC_PREFIX = "/static/"
CHAT_WAIT_SECONDS = 20.0
SECURITY_HEADERS = {
    # The page loads only its own files and talks only to this server: no inline script can run.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

MESSAGE_NO_IDENTITY = "not signed in: the auth proxy sent no {header} header"
MESSAGE_CSRF = "missing or wrong X-CSRF-Token: get yours from GET /api/session"
MESSAGE_NO_AUDIT_STORE = "no audit store configured: set DATABASE_URL (or OPSGATE_DATABASE_URL) for analytics"
MESSAGE_ANALYTICS_FORBIDDEN = "analytics cover every namespace: you need list on opsrequests in all namespaces"


@dataclasses.dataclass(frozen=True)
class Config:
    """How the server finds its users and its stores; ``secret`` signs CSRF tokens."""

    catalog: Catalog
    user_header: str = identity.DEFAULT_USER_HEADER
    groups_header: str = identity.DEFAULT_GROUPS_HEADER
    database_url: str | None = None
    secret: bytes = dataclasses.field(default_factory=lambda: secrets.token_bytes(32), repr=False)


CONFIG = web.AppKey("config", Config)
IDENTITY = web.RequestKey("identity", identity.Identity)


class BadInput(web.HTTPBadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[_security_headers, _errors, _signed_in], client_max_size=64 * 1024)
    app[CONFIG] = config
    app.router.add_get("/", page)
    app.router.add_static(STATIC_PREFIX, str(package_files.files("opsgate.ui") / "static"), append_version=False)
    app.router.add_get("/health", health)
    app.router.add_get("/api/v1/openapi.json", openapi_document)
    app.router.add_get("/api/session", session)
    app.router.add_get("/api/requests", list_requests)
    app.router.add_post("/api/requests", create_request)
    app.router.add_get("/api/requests/{namespace}/{name}", get_request)
    app.router.add_get("/api/requests/{namespace}/{name}/events", request_events)
    app.router.add_get("/api/approvals", list_approvals)
    app.router.add_post("/api/approvals/{namespace}/{name}", decide)
    app.router.add_post("/api/v1/chat", chat)
    app.router.add_post("/api/v1/feedback", give_feedback)
    app.router.add_get("/api/v1/analytics/{report}", analytics)
    return app


# --- middleware -----------------------------------------------------------------------------------


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:  # a stream has sent its headers already (they are set there)
        response.headers.update(SECURITY_HEADERS)
    return response


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The API server's refusals reach the user as they were worded, with a matching status."""
    try:
        return await handler(request)
    except kube.ApiError as exc:
        status = exc.status if exc.status in (403, 404, 409, 410, 422) else 502
        return error(status, exc.message)
    except identity.IdentityError as exc:
        return error(401, str(exc))


@web.middleware
async def _signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Everything but the page, its files, /health and the API description needs the proxy's headers."""
    if request.path in PUBLIC or request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    config = request.app[CONFIG]
    who = identity.from_headers(request.headers, user_header=config.user_header, groups_header=config.groups_header)
    if who is None:
        return error(401, MESSAGE_NO_IDENTITY.format(header=config.user_header))
    if request.method not in SAFE_METHODS:
        if not identity.csrf_valid(config.secret, who.user, request.headers.get(identity.CSRF_HEADER)):
            return error(403, MESSAGE_CSRF)
        if request.content_type != "application/json":
            return error(415, "send JSON (Content-Type: application/json)")
    request[IDENTITY] = who
    return await handler(request)


def _who(request: web.Request) -> identity.Identity:
    who: identity.Identity = request[IDENTITY]
    return who


async def as_user(who: identity.Identity, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """A blocking ``kube`` call in a worker thread, made as ``who`` (the thread inherits the context)."""
    with kube.acting_as(who.user, who.groups):
        return await kube.acall(func, *args, **kwargs)


# --- the page and public routes -------------------------------------------------------------------


async def page(request: web.Request) -> web.StreamResponse:
    html = (package_files.files("opsgate.ui") / "static" / "index.html").read_text(encoding="utf-8")
    return web.Response(text=html, content_type="text/html")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "auditStore": bool(request.app[CONFIG].database_url)})


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())


async def session(request: web.Request) -> web.Response:
    """Who the API server says you are, and the CSRF token your writes must carry."""
    who = _who(request)
    info = await as_user(who, kube.whoami)
    token = identity.csrf_token(request.app[CONFIG].secret, who.user)
    return web.json_response({"user": info.get("username"), "groups": info.get("groups") or [], "csrfToken": token})


# --- requests -------------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadInput("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def _namespace(value: Any) -> str:
    if not isinstance(value, str) or not NAMESPACE.match(value):
        raise BadInput("namespace must be a Kubernetes namespace name (lower-case letters, digits and '-')")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput("request must be a non-empty text")
    if len(value) > resources.MAX_REQUEST_CHARS:
        raise BadInput(f"request is longer than {resources.MAX_REQUEST_CHARS} characters")
    return value.strip()


def _path_name(request: web.Request) -> tuple[str, str]:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    if not NAMESPACE.match(namespace) or not NAME.match(name):
        raise BadInput("not a namespace/name")
    return namespace, name


async def _create(request: web.Request) -> dict[str, Any]:
    body = await _body(request)
    text, namespace = _text(body.get("request")), _namespace(body.get("namespace"))
    who = _who(request)
    info = await as_user(who, kube.whoami)  # the identity the API server will record
    created: dict[str, Any] = await as_user(
        who, kube.create, views.opsrequest(namespace=namespace, text=text, user_info=info)
    )
    log.info("%s created %s/%s", who.user, namespace, created["metadata"]["name"])
    return created


async def create_request(request: web.Request) -> web.Response:
    """``POST /api/requests`` {request, namespace}: an OpsRequest created as you (DESIGN.md contract)."""
    return web.json_response(views.request_view(await _create(request)), status=201)


async def list_requests(request: web.Request) -> web.Response:
    """``GET /api/requests?namespace=NS``: your own requests there, newest first (what a reload shows)."""
    namespace = _namespace(request.query.get("namespace"))
    who = _who(request)
    info = await as_user(who, kube.whoami)
    items = await as_user(who, kube.list_objects, resources.API_VERSION, "OpsRequest", namespace)
    own = views.mine(items, user=info["username"])
    return web.json_response({"requests": [views.request_view(item) for item in own]})


async def get_request(request: web.Request) -> web.Response:
    namespace, name = _path_name(request)
    obj = await as_user(_who(request), kube.get, resources.API_VERSION, "OpsRequest", namespace, name)
    return web.json_response(views.request_view(obj))


async def chat(request: web.Request) -> web.Response:
    """``POST /api/v1/chat``: a request in, its decision out (waits while it is planned)."""
    created = await _create(request)
    who, meta = _who(request), created["metadata"]
    deadline = time.monotonic() + CHAT_WAIT_SECONDS
    obj = created
    while phases.current((obj.get("status") or {}).get("phase")) in (resources.Phase.PENDING, resources.Phase.PLANNING):
        if time.monotonic() > deadline:
            return web.json_response(views.request_view(obj), status=202)
        await asyncio.sleep(0.3)
        obj = await as_user(who, kube.get, resources.API_VERSION, "OpsRequest", meta["namespace"], meta["name"])
    return web.json_response(views.request_view(obj), status=201)


async def request_events(request: web.Request) -> web.StreamResponse:
    """The request's progress as Server-Sent Events, from a watch made as you (:mod:`.stream`)."""
    namespace, name = _path_name(request)
    who = _who(request)
    first = await as_user(who, kube.get, resources.API_VERSION, "OpsRequest", namespace, name)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no", **SECURITY_HEADERS}
    )
    await response.prepare(request)
    await stream.relay(response, first, who)
    return response


# --- approvals ------------------------------------------------------------------------------------


async def list_approvals(request: web.Request) -> web.Response:
    """The Approvals waiting for you, in every namespace you may read them in."""
    who = _who(request)
    info = await as_user(who, kube.whoami)
    try:
        items = await as_user(who, kube.list_objects, resources.API_VERSION, "Approval", None)
    except kube.ApiError as exc:
        if exc.status != 403:
            raise
        return web.json_response({"approvals": [], "note": "you may not read Approvals in every namespace"})
    waiting = views.waiting_for(items, user=info["username"], groups=info.get("groups") or [])
    return web.json_response({"approvals": [views.approval_view(a) for a in waiting]})


async def decide(request: web.Request) -> web.Response:
    """``POST /api/approvals/{ns}/{name}`` {decision: Approve|Reject, message}: your decision, as you.

    The API server refuses a self-approval (four-eyes), a decision outside the approver groups
    and one on a decided Approval; its words come back with status 403.
    """
    namespace, name = _path_name(request)
    body = await _body(request)
    try:
        verdict = Verdict(str(body.get("decision")))
    except ValueError:
        raise BadInput("decision must be Approve or Reject") from None
    message = body.get("message") or ""
    if not isinstance(message, str) or len(message) > 1000:
        raise BadInput("message must be a text of at most 1000 characters")
    who = _who(request)
    info = await as_user(who, kube.whoami)
    approval = await as_user(who, kube.get, resources.API_VERSION, "Approval", namespace, name)
    operations = approvals.decision_patch(approval, approver=info["username"], verdict=verdict, message=message)
    updated = await as_user(who, kube.json_patch, resources.API_VERSION, "Approval", namespace, name, operations)
    log.info("%s recorded %s on %s/%s", who.user, verdict.value, namespace, name)
    return web.json_response(views.approval_view(updated))


# --- feedback and analytics -----------------------------------------------------------------------


def feedback_annotations(body: Mapping[str, Any]) -> dict[str, str]:
    """The API's feedback fields as the annotations the audit store reads (validated by the caller)."""
    annotations: dict[str, str] = {}
    if body.get("score") is not None:
        annotations[feedback.SCORE] = str(body["score"])
    if body.get("intentCorrect") is not None:
        annotations[feedback.INTENT_CORRECT] = str(body["intentCorrect"]).lower()
    corrected = body.get("correctedIntent")
    if corrected:
        intent = {"action": corrected} if isinstance(corrected, str) else corrected
        annotations[feedback.CORRECTED_INTENT] = json.dumps(intent, sort_keys=True)
    if body.get("text"):
        annotations[feedback.TEXT] = str(body["text"])
    return annotations


async def give_feedback(request: web.Request) -> web.Response:
    """``POST /api/v1/feedback`` {namespace, name, score, intentCorrect, correctedIntent, text}.

    Checked as the audit store will read it, then written as annotations on the OpsRequest as you.
    """
    body = await _body(request)
    namespace = _namespace(body.get("namespace"))
    name = body.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise BadInput("name must name an OpsRequest")
    annotations = feedback_annotations(body)
    if not annotations:
        raise BadInput("no feedback given: send score, intentCorrect, correctedIntent or text")
    try:
        feedback.read(annotations, catalog=request.app[CONFIG].catalog)
    except feedback.FeedbackError as exc:
        raise BadInput(str(exc)) from None
    patch = {"metadata": {"annotations": annotations}}
    url = kube.path(resources.API_VERSION, "OpsRequest", namespace, name)
    await as_user(_who(request), kube.request, "PATCH", url, body=patch, content_type="application/merge-patch+json")
    return web.json_response({"name": name, "namespace": namespace, "annotations": annotations})


async def analytics(request: web.Request) -> web.Response:
    """``GET /api/v1/analytics/{accuracy|errors}?days=N`` from the audit store (PostgreSQL)."""
    report = request.match_info["report"]
    if report not in ANALYTICS:
        return error(404, f"no report {report!r}; there are {', '.join(ANALYTICS)}")
    try:
        days = float(request.query.get("days", "7"))
    except ValueError:
        days = -1.0
    if not 0 < days <= MAX_DAYS:
        raise BadInput(f"days must be a number above 0 and at most {MAX_DAYS}")
    url = request.app[CONFIG].database_url
    if not url:
        return error(503, MESSAGE_NO_AUDIT_STORE)
    allowed = await as_user(_who(request), kube.can_i, verb="list", group=resources.GROUP, resource="opsrequests")
    if not allowed:
        return error(403, MESSAGE_ANALYTICS_FORBIDDEN)
    try:
        conn = await connect(url)
    except (OSError, TimeoutError) as exc:
        return error(503, f"cannot reach the audit store: {exc}")
    try:
        rows = await reads.report(conn, report, days=days)
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
    return web.json_response({"report": report, "days": days, "rows": rows})
