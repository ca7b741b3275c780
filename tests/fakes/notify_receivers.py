"""Where approver notifications land in tests: a real SMTP server and a webhook receiver, on loopback.

* :class:`Inbox` is aiosmtpd's real SMTP server (the asyncio SMTP implementation from the
  Python project's aio-libs), keeping each message it accepts as a parsed ``email.message``.
* :class:`WebhookReceiver` stands in for a Slack incoming webhook (``POST`` a JSON body with
  ``text``; Slack answers 200 ``ok``, or 4xx/5xx). It keeps the JSON bodies it accepted and can be
  told to fail its next N calls with a status, to exercise the notifier's retries.

Both run on 127.0.0.1 on a free port, in background threads, so sync and async tests can use them.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import json
import socket
import threading
import time
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        with self.inbox.lock:
            self.inbox.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class Inbox:
    """A real SMTP server; ``messages`` holds (envelope recipients, message) pairs."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Inbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def wait_for(self, address: str, subject_part: str, *, timeout: float = 30) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.to(address):
                if subject_part in str(message["Subject"]):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no mail to {address} with {subject_part!r} in {timeout}s; got {self.summary()}")

    def summary(self) -> list[tuple[list[str], str]]:
        with self.lock:
            return [(rcpts, str(m["Subject"])) for rcpts, m in self.messages]


class WebhookReceiver:
    """A Slack-compatible incoming webhook on loopback; ``posts`` holds the JSON bodies it accepted."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failures: list[int] = []  # statuses to answer the next calls with, in order
        self.calls = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str = "/services/T000/B000/XXXXSECRETXXXX") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _post(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.failures:
            return web.Response(status=self.failures.pop(0), text="service_unavailable")
        try:
            body = json.loads(await request.text())
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return web.Response(status=400, text="no_text")
        self.posts.append(body)
        return web.Response(status=200, text="ok")

    def wait_for(self, part: str, *, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for post in list(self.posts):
                if part in post["text"]:
                    return post
            time.sleep(0.1)
        raise AssertionError(f"no webhook post with {part!r} in {timeout}s; got {[p['text'][:80] for p in self.posts]}")
