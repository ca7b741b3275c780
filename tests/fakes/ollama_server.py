"""A faithful Ollama API test server: stands in for ``ollama serve`` in the LLM-path tests.

It speaks the HTTP API the ``ollama`` client uses, with the shapes real Ollama returns:
``/api/chat`` and ``/api/generate`` (one JSON object, or NDJSON chunks when ``stream`` is true,
ending with ``done``, ``done_reason`` and the timing fields), ``/api/embed``, ``/api/tags``,
``/api/show``, ``/api/pull`` (NDJSON progress), ``/api/version``; errors are ``{"error": "..."}``
with the status codes Ollama uses (400 bad request, 404 model not found, 500 server error).

What the "model" answers is scripted per test, never the expected answer echoed back:

* ``Behaviour.VALID``: a toy model of its own - it picks the first catalog key (from the
  ``format`` schema's enum) whose action and resource words both occur in the fenced request,
  and copies e-mail addresses and domains it sees - or, if ``replies`` is given, it returns
  those scripted contents in order;
* ``GARBAGE`` (not JSON), ``OFF_SCHEMA`` (JSON that breaks the schema), ``UNKNOWN_ACTION``
  (a key outside the catalog), ``SLOW`` (answers after ``delay`` seconds), ``ERROR`` (HTTP 500).

"Down" is a stopped server (connection refused). The server runs on 127.0.0.1 on a random
port in a background thread, so sync and async tests can both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from aiohttp import web

_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}")
_DOMAIN = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:com|org|net|io)\b")
_FENCED_REQUEST = re.compile(r"BEGIN REQUEST\n(.*?)\nEND REQUEST", re.DOTALL)


class Behaviour(enum.StrEnum):
    VALID = "valid"
    GARBAGE = "garbage"
    OFF_SCHEMA = "off_schema"
    UNKNOWN_ACTION = "unknown_action"
    SLOW = "slow"
    ERROR = "error"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _timings(prompt_tokens: int, eval_tokens: int) -> dict[str, int]:
    return {
        "total_duration": 5_000_000 + 1000 * eval_tokens,
        "load_duration": 1_000_000,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": 2_000_000,
        "eval_count": eval_tokens,
        "eval_duration": 2_000_000,
    }


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "8.0B",
        "quantization_level": "Q4_K_M",
    }


def toy_model(request: str, schema: dict[str, Any] | None) -> str:
    """The VALID behaviour's own deterministic "model" (see the module docstring)."""
    keys: list[str] = []
    if schema:
        keys = schema.get("properties", {}).get("key", {}).get("enum", [])
    low = request.lower()
    chosen = "none"
    for key in keys:
        if key.count(".") == 2:
            _, action, resource = key.split(".")
            if action in low and resource.replace("_", " ") in low:
                chosen = key
                break
    entities: dict[str, str] = {}
    if email := _EMAIL.search(low):
        entities["email"] = email.group()
    elif domain := _DOMAIN.search(low):
        entities["domain"] = domain.group()
    return json.dumps({"key": chosen, "entities": entities})


class FakeOllama:
    """The server; use as a context manager (``with FakeOllama() as server: server.url``)."""

    def __init__(
        self,
        *,
        behaviour: Behaviour = Behaviour.VALID,
        replies: list[str] | None = None,
        models: tuple[str, ...] = ("llama3.1:8b", "nomic-embed-text:latest"),
        delay: float = 2.0,
    ) -> None:
        self.behaviour = behaviour
        self.replies = list(replies or [])
        self.models = models
        self.delay = delay
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeOllama:
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

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_post("/api/embed", self._embed)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_post("/api/show", self._show)
        app.router.add_post("/api/pull", self._pull)
        app.router.add_get("/api/version", self._version)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # helpers -----------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._error(400, "invalid character in request body")
        if not isinstance(body, dict):
            return self._error(400, "json: cannot unmarshal into Go value of type api.Request")
        self.requests.append((request.path, body))
        return body

    def _model_error(self, body: dict[str, Any], *, embed: bool = False) -> web.Response | None:
        model = body.get("model")
        if not model:
            return self._error(400, "model is required")
        if model not in self.models:
            # worded as Ollama 0.24.0 does, which differs per route (tests/unit/test_llm_real.py
            # compares these with the real server's)
            if embed:
                return self._error(404, f'model "{model}" not found, try pulling it first')
            return self._error(404, f"model '{model}' not found")
        return None

    async def _content(self, body: dict[str, Any], prompt: str) -> str | web.Response:
        if self.behaviour is Behaviour.ERROR:
            return self._error(500, "llama runner process has terminated: exit status 2")
        if self.behaviour is Behaviour.SLOW:
            await asyncio.sleep(self.delay)
        if self.behaviour is Behaviour.GARBAGE:
            return 'Sure! Here is the JSON you asked for: {"key": "provision.create.email", '
        if self.behaviour is Behaviour.OFF_SCHEMA:
            return json.dumps({"key": "provision.create.email", "entities": {"email": 42}, "extra": 1})
        if self.behaviour is Behaviour.UNKNOWN_ACTION:
            return json.dumps({"key": "provision.launch.rocket", "entities": {}})
        if self.replies:
            return self.replies.pop(0)
        fenced = _FENCED_REQUEST.search(prompt)
        fmt = body.get("format")
        return toy_model(fenced.group(1) if fenced else prompt, fmt if isinstance(fmt, dict) else None)

    async def _reply(
        self, request: web.Request, body: dict[str, Any], content: str, *, field: str
    ) -> web.StreamResponse:
        model = body["model"]
        tokens = max(1, len(content.split()))

        def piece(text: str) -> dict[str, Any]:
            if field == "message":
                return {
                    "model": model,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": text},
                }
            return {"model": model, "created_at": _now(), "response": text}

        final = {**piece(""), "done": True, "done_reason": "stop", **_timings(20, tokens)}
        if field == "response":
            final["context"] = [1, 2, 3]
        if body.get("stream", True) is False:
            return web.json_response({**final, **piece(content), "done": True})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for word in re.findall(r"\S+\s*", content):
            await response.write((json.dumps({**piece(word), "done": False}) + "\n").encode())
        await response.write((json.dumps(final) + "\n").encode())
        await response.write_eof()
        return response

    # endpoints ---------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if (error := self._model_error(body)) is not None:
            return error
        messages = body.get("messages") or []
        prompt = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        content = await self._content(body, prompt)
        if isinstance(content, web.Response):
            return content
        return await self._reply(request, body, content, field="message")

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if (error := self._model_error(body)) is not None:
            return error
        content = await self._content(body, str(body.get("prompt", "")))
        if isinstance(content, web.Response):
            return content
        return await self._reply(request, body, content, field="response")

    async def _embed(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if (error := self._model_error(body, embed=True)) is not None:
            return error
        inputs = body.get("input", "")
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        vectors = []
        for text in texts:
            digest = hashlib.sha256(str(text).encode()).digest()
            vectors.append([round(b / 255 - 0.5, 6) for b in digest[:16]])
        return web.json_response(
            {
                "model": body["model"],
                "embeddings": vectors,
                "total_duration": 1_000_000,
                "load_duration": 100_000,
                "prompt_eval_count": sum(len(str(t).split()) for t in texts),
            }
        )

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "models": [
                    {
                        "name": name,
                        "model": name,
                        "modified_at": "2025-01-01T00:00:00Z",
                        "size": 4_920_753_328,
                        "digest": hashlib.sha256(name.encode()).hexdigest(),
                        "details": _details(),
                    }
                    for name in self.models
                ]
            }
        )

    async def _show(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if (error := self._model_error(body)) is not None:
            return error
        return web.json_response(
            {
                "modelfile": f"FROM {body['model']}\n",
                "parameters": "stop <|eot_id|>",
                "template": "{{ .Prompt }}",
                "details": _details(),
                "model_info": {"general.architecture": "llama", "general.parameter_count": 8030261248},
                "capabilities": ["completion"],
                "modified_at": "2025-01-01T00:00:00Z",
            }
        )

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if not body.get("model"):
            return self._error(400, "model is required")
        if body["model"] not in self.models:
            return self._error(500, "pull model manifest: file does not exist")
        steps = [
            {"status": "pulling manifest"},
            {
                "status": "pulling 8eeb52dfb3bb",
                "digest": "sha256:8eeb52dfb3bb",
                "total": 100,
                "completed": 100,
            },
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        if body.get("stream", True) is False:
            return web.json_response(steps[-1])
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for step in steps:
            await response.write((json.dumps(step) + "\n").encode())
        await response.write_eof()
        return response

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.6.5"})


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A loopback URL nothing listens on ("Ollama is down")."""
    server = FakeOllama().start()
    url = server.url
    server.stop()
    yield url
