"""The OpenAPI 3.1 description of the UI's HTTP API, served at ``/api/v1/openapi.json``. Pure.

Other tools call the same API the page does; this says how, and which identity rules apply:
the auth proxy's user header on every ``/api`` route (401 without it) and ``X-CSRF-Token`` on writes.
"""

from __future__ import annotations

from typing import Any

from opsgate import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON_ERROR = {"content": {"application/json": {"schema": _ERROR}}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


_REFUSALS = {
    "400": {"description": "bad input; the message says which field and why", **_JSON_ERROR},
    "401": {"description": "no user header from the auth proxy", **_JSON_ERROR},
    "403": {"description": "refused by the API server (RBAC, admission) or a missing CSRF token", **_JSON_ERROR},
}
# The fields of opsgate.ui.views.request_view, what /events streams and the request routes answer.
VIEW_FIELDS = (
    "name",
    "namespace",
    "uid",
    "request",
    "requester",
    "created",
    "phase",
    "tone",
    "final",
    "message",
    "intent",
    "context",
    "policy",
    "plan",
    "approval",
    "job",
    "result",
    "answer",
    "steps",
)
_REQUEST = {"$ref": "#/components/schemas/OpsRequestView"}


def _write(summary: str, body: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"proxyUser": [], "csrf": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {**answers, **_REFUSALS},
    }


def _read(summary: str, answers: dict[str, Any], parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "security": [{"proxyUser": []}], "responses": answers}
    operation["responses"].update({k: v for k, v in _REFUSALS.items() if k != "400"})
    if parameters:
        operation["parameters"] = parameters
    return operation


def _in_path(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def document() -> dict[str, Any]:
    """The whole description (built on each call: small, and never shared mutable state)."""
    ask = {
        "type": "object",
        "required": ["request", "namespace"],
        "properties": {"request": {"type": "string", "maxLength": 4096}, "namespace": {"type": "string"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OpsGate chat API",
            "version": __version__,
            "description": "Plain-language operations requests, created and decided as the signed-in user "
            "(Kubernetes impersonation of the user the auth proxy names).",
        },
        "paths": {
            "/health": {"get": {"summary": "Liveness", "responses": {"200": _answer("the server is up")}}},
            "/api/session": {
                "get": _read("Who you are (as the API server sees you) and your CSRF token", {"200": _answer("ok")})
            },
            "/api/requests": {
                "get": _read(
                    "Your own requests in a namespace, newest first",
                    {"200": _answer("ok")},
                    [{"name": "namespace", "in": "query", "required": True, "schema": {"type": "string"}}],
                ),
                "post": _write("Create an OpsRequest as you", ask, {"201": _answer("created", _REQUEST)}),
            },
            "/api/requests/{namespace}/{name}": {
                "get": _read(
                    "An OpsRequest's progress", {"200": _answer("ok", _REQUEST)}, _in_path("namespace", "name")
                )
            },
            "/api/requests/{namespace}/{name}/events": {
                "get": _read(
                    "Progress as Server-Sent Events: `progress` (an OpsRequestView), `end`, `failure`",
                    {"200": {"description": "an event stream", "content": {"text/event-stream": {}}}},
                    _in_path("namespace", "name"),
                )
            },
            "/api/approvals": {"get": _read("The Approvals waiting for you", {"200": _answer("ok")})},
            "/api/approvals/{namespace}/{name}": {
                "post": {
                    **_write(
                        "Approve or reject, as you (four-eyes and groups enforced by the API server)",
                        {
                            "type": "object",
                            "required": ["decision"],
                            "properties": {
                                "decision": {"enum": ["Approve", "Reject"]},
                                "message": {"type": "string", "maxLength": 1000},
                            },
                        },
                        {"200": _answer("recorded")},
                    ),
                    "parameters": _in_path("namespace", "name"),
                }
            },
            "/api/v1/chat": {
                "post": _write(
                    "A request in, its decision out",
                    ask,
                    {"201": _answer("decided", _REQUEST), "202": _answer("still being planned", _REQUEST)},
                )
            },
            "/api/v1/feedback": {
                "post": _write(
                    "Feedback on a request, written as the annotations the audit store reads",
                    {
                        "type": "object",
                        "required": ["namespace", "name"],
                        "properties": {
                            "namespace": {"type": "string"},
                            "name": {"type": "string"},
                            "score": {"type": "integer", "minimum": 1, "maximum": 5},
                            "intentCorrect": {"type": "boolean"},
                            "correctedIntent": {
                                "description": "a catalog key such as provision.scale.deployment, or an intent object",
                                "oneOf": [{"type": "string"}, {"type": "object"}],
                            },
                            "text": {"type": "string", "maxLength": 4000},
                        },
                    },
                    {"200": _answer("written")},
                )
            },
            "/api/v1/analytics/{report}": {
                "get": _read(
                    "Intent accuracy or error patterns from the audit store (needs list on opsrequests everywhere)",
                    {
                        "200": _answer("the report's rows"),
                        "503": {"description": "no audit store configured or reachable", **_JSON_ERROR},
                    },
                    [
                        {"name": "report", "in": "path", "required": True, "schema": {"enum": ["accuracy", "errors"]}},
                        {"name": "days", "in": "query", "schema": {"type": "number", "default": 7}},
                    ],
                )
            },
        },
        "components": {
            "securitySchemes": {
                "proxyUser": {"type": "apiKey", "in": "header", "name": "X-Forwarded-User"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
                "OpsRequestView": {
                    "type": "object",
                    "properties": {k: {} for k in VIEW_FIELDS},
                },
            },
        },
    }
