"""A faithful OpenAI Chat Completions API test server: stands in for OpenAI, vLLM, llama.cpp, LiteLLM.

None of those can run here, so this serves the part of the API the OpenAI-compatible parser uses,
with the shapes and status codes OpenAI documents:

* ``POST /v1/chat/completions`` → 200 ``{id, object: "chat.completion", created, model,
  choices: [{index, message: {role, content, refusal}, logprobs, finish_reason}], usage:
  {prompt_tokens, completion_tokens, total_tokens}, system_fingerprint}``;
* ``GET /v1/models`` → ``{object: "list", data: [{id, object: "model", created, owned_by}]}``;
* errors are ``{"error": {message, type, param, code}}``: 401 ``invalid_api_key`` without the
  right ``Authorization: Bearer``, 404 ``model_not_found``, 400 ``invalid_request_error`` for a
  malformed body or a ``response_format`` that strict structured outputs refuse (an object
  whose properties are not all ``required`` or that allows additional properties - OpenAI's
  own rule), 429 ``rate_limit_exceeded`` with ``Retry-After``/``retry-after-ms`` and
  ``x-ratelimit-*`` headers, 500 ``server_error``.

What the "model" answers is scripted per test (:class:`Behaviour`), never the expected answer
echoed back: VALID is a toy model of its own that names the first catalog key (from the schema's
enum) whose action and resource words occur in the fenced request and copies the e-mail (or an
``<EMAIL_n>`` placeholder) it sees into ``email``, with every other entity ``null`` as strict mode
makes a real model write them; ``replies`` overrides it with scripted contents.

It also plays the provider's side of data protection: every request body is searched for
personal data - any e-mail address or IPv4 address, and the strings a test names in
``forbidden`` (people's names) - and a request carrying one is recorded in ``leaks`` and
refused with 400, so a test fails loudly if masking let something through. Loopback only, on a
random port, in a background thread (sync and async tests can both use it).
"""

from __future__ import annotations

import asyncio
import enum
import json
import re
import threading
import time
import uuid
from typing import Any

from aiohttp import web

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_PLACEHOLDER_EMAIL = re.compile(r"<EMAIL_\d+>")
_FENCED_REQUEST = re.compile(r"BEGIN REQUEST\n(.*?)\nEND REQUEST", re.DOTALL)


class Behaviour(enum.StrEnum):
    VALID = "valid"
    GARBAGE = "garbage"  # content that is not JSON
    OFF_SCHEMA = "off_schema"  # JSON that breaks the schema
    RATE_LIMITED = "rate_limited"  # 429 for the next ``rate_limited_times`` calls, then VALID
    SLOW = "slow"  # answers after ``delay`` seconds
    ERROR = "error"  # HTTP 500
    MALFORMED_BODY = "malformed_body"  # HTTP 200 with a body that is not JSON (a broken proxy)
    REFUSAL = "refusal"  # message.refusal set, content null


def _error(
    status: int, message: str, *, type_: str, code: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def strict_violations(schema: Any, path: str = "schema") -> list[str]:
    """Where ``schema`` breaks OpenAI's strict-mode rules (all properties required, no extras)."""
    found: list[str] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            if schema.get("additionalProperties") is not False:
                found.append(f"{path}: 'additionalProperties' is required to be supplied and to be false")
            missing = sorted(set(properties) - set(schema.get("required", [])))
            if missing:
                found.append(f"{path}: 'required' is required to include every key in properties; missing {missing}")
            for name, sub in properties.items():
                found += strict_violations(sub, f"{path}.{name}")
        if isinstance(schema.get("items"), dict):
            found += strict_violations(schema["items"], f"{path}.items")
    return found


def toy_model(messages: list[dict[str, Any]], schema: dict[str, Any]) -> str:
    """The VALID behaviour's own deterministic "model" (see the module docstring)."""
    keys: list[str] = schema.get("properties", {}).get("key", {}).get("enum", [])
    entity_names = list(schema.get("properties", {}).get("entities", {}).get("properties", {}))
    last = str(messages[-1].get("content", "")) if messages else ""
    fenced = _FENCED_REQUEST.search(last)
    request = fenced.group(1) if fenced else last
    low = request.lower()
    chosen = "none"
    for key in keys:
        if key.count(".") == 2:
            _, action, resource = key.split(".")
            if action in low and resource.replace("_", " ") in low:
                chosen = key
                break
    entities: dict[str, Any] = dict.fromkeys(entity_names)
    found = _PLACEHOLDER_EMAIL.search(request) or _EMAIL.search(request)
    if found and "email" in entities:
        entities["email"] = found.group()
    return json.dumps({"key": chosen, "entities": entities})


class FakeOpenAI:
    """The server; use as a context manager (``with FakeOpenAI(api_key="k") as server: server.url``)."""

    def __init__(
        self,
        *,
        api_key: str = "sk-test-key",
        models: tuple[str, ...] = ("gpt-4o-mini",),
        behaviour: Behaviour = Behaviour.VALID,
        replies: list[str] | None = None,
        delay: float = 2.0,
        retry_after: float = 1.0,
        rate_limited_times: int = 1,
        forbidden: tuple[str, ...] = (),
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.behaviour = behaviour
        self.replies = list(replies or [])
        self.delay = delay
        self.retry_after = retry_after
        self.rate_limited_times = rate_limited_times
        self.forbidden = forbidden
        self.requests: list[dict[str, Any]] = []  # bodies of chat completion calls that were authorised
        self.leaks: list[str] = []  # personal data found in a request body (what, not where)
        self.calls = 0  # every POST to /v1/chat/completions, refused or not
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL clients are configured with (OPENAI_BASE_URL)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._list_models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    async def _list_models(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided.", type_="invalid_request_error", code="invalid_api_key")
        data = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "system"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    def _leaks_in(self, raw: str) -> list[str]:
        found = [f"email {m}" for m in _EMAIL.findall(raw)] + [f"ip {m}" for m in _IPV4.findall(raw)]
        found += [f"forbidden {word!r}" for word in self.forbidden if word.lower() in raw.lower()]
        return found

    async def _chat(self, request: web.Request) -> web.Response:
        self.calls += 1
        if not self._authorised(request):
            return _error(
                401,
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                type_="invalid_request_error",
                code="invalid_api_key",
            )
        raw = await request.text()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.", type_="invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "Missing required parameter: 'messages'.", type_="invalid_request_error")
        model = body.get("model")
        if model not in self.models:
            return _error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                type_="invalid_request_error",
                code="model_not_found",
            )
        content_text = json.dumps(body["messages"], ensure_ascii=False)
        leaks = self._leaks_in(content_text)
        if leaks:
            self.leaks += leaks
            return _error(400, "test server: personal data reached the provider", type_="invalid_request_error")
        schema: dict[str, Any] = {}
        response_format = body.get("response_format")
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema") or {}
            if spec.get("strict") and (violations := strict_violations(schema)):
                message = f"Invalid schema for response_format '{spec.get('name')}': In context={violations[0]}."
                return _error(400, message, type_="invalid_request_error", code="invalid_json_schema")
        self.requests.append(body)
        return await self._answer(body, schema)

    async def _answer(self, body: dict[str, Any], schema: dict[str, Any]) -> web.Response:
        behaviour = self.behaviour
        if behaviour is Behaviour.RATE_LIMITED:
            if self.rate_limited_times > 0:
                self.rate_limited_times -= 1
                headers = {
                    "Retry-After": f"{self.retry_after:g}",
                    "retry-after-ms": str(int(self.retry_after * 1000)),
                    "x-ratelimit-limit-requests": "60",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": f"{self.retry_after:g}s",
                }
                message = f"Rate limit reached for {body['model']} on requests per min (RPM): Limit 60, Used 60."
                return _error(429, message, type_="requests", code="rate_limit_exceeded", headers=headers)
            behaviour = Behaviour.VALID
        if behaviour is Behaviour.ERROR:
            return _error(500, "The server had an error while processing your request.", type_="server_error")
        if behaviour is Behaviour.MALFORMED_BODY:
            return web.Response(status=200, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if behaviour is Behaviour.SLOW:
            await asyncio.sleep(self.delay)
        refusal = None
        content: str | None
        if self.replies:
            content = self.replies.pop(0)
        elif behaviour is Behaviour.GARBAGE:
            content = "Sure! The action is probably an email thing."
        elif behaviour is Behaviour.OFF_SCHEMA:
            content = json.dumps({"action": "create", "target": "email"})
        elif behaviour is Behaviour.REFUSAL:
            content, refusal = None, "I'm sorry, I can't help with that request."
        else:
            content = toy_model(body["messages"], schema)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len((content or refusal or "").split())
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": refusal},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "system_fingerprint": "fp_test",
            }
        )
