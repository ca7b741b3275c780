"""Sends approver notifications by SMTP and Slack-compatible webhooks, off the decision path.

The kopf layer hands a :class:`~opsgate.controller.notifications.Message` to
:meth:`Notifier.submit`, which only puts it on a bounded in-memory queue and returns: a
reconcile never waits for a mail server, and a mail server that is down fails no request. One
background task takes messages off the queue and delivers each channel on its own - one SMTP
transaction for a message's addresses, one POST per webhook - retrying each with backoff until
it goes through or its attempts are spent (then it is logged and dropped: a notification is a
courtesy; the Approval itself is the record).

Webhook URLs carry their own credential (Slack's ``/services/T…/B…/secret``), so they are never
logged; log lines name the host only. The SMTP password is read from its file when sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import functools
import logging
import smtplib
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from opsgate.controller.notifications import Message, Routes, Smtp

log = logging.getLogger("opsgate.notify")

BACKOFF = (1.0, 2.0, 5.0, 15.0, 30.0)  # seconds before each retry; len(BACKOFF) + 1 attempts in all
QUEUE_SIZE = 1000
CONCURRENT_DELIVERIES = 8
WEBHOOK_TIMEOUT = 10.0


class DeliveryError(Exception):
    """One attempt to deliver failed; ``str()`` says why, without a credential."""


def slack_payload(message: Message) -> dict[str, Any]:
    """A Slack incoming-webhook body (also what Mattermost, Rocket.Chat and Teams' Slack mode take)."""
    return {"text": f"*{message.subject}*\n```\n{message.text.rstrip()}\n```"}


def mail(message: Message, *, sender: str) -> email.message.EmailMessage:
    built = email.message.EmailMessage()
    built["From"] = sender
    built["To"] = ", ".join(message.email)
    built["Subject"] = message.subject
    built["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    built.set_content(message.text)
    return built


def send_smtp(message: Message, smtp: Smtp) -> None:
    """One SMTP transaction for all of ``message``'s addresses (blocking: run in a thread)."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username and smtp.password_file:
                client.login(smtp.username, Path(smtp.password_file).read_text(encoding="utf-8").strip())
            client.send_message(mail(message, sender=smtp.sender))
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}") from exc


def host_of(url: str) -> str:
    """The host of a webhook URL: what a log may say about it."""
    return urllib.parse.urlsplit(url).netloc or "?"


class HideWebhookUrls(logging.Filter):
    """Rewrites a webhook URL to its host in log records (httpx logs every request's full URL at INFO)."""

    def __init__(self, urls: Sequence[str]) -> None:
        super().__init__()
        self.urls = {url: f"{host_of(url)}/…" for url in urls}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(self._hide(arg) for arg in args)
        if isinstance(record.msg, str):
            record.msg = self._hide(record.msg)
        return True

    def _hide(self, value: Any) -> Any:
        text = str(value)
        if not any(url in text for url in self.urls):
            return value
        for url, shown in self.urls.items():
            text = text.replace(url, shown)
        return text


class Notifier:
    """One per process: ``start()`` it in a running loop, ``submit()`` messages, ``stop()`` at the end."""

    def __init__(
        self,
        routes: Routes,
        *,
        backoff: Sequence[float] = BACKOFF,
        smtp_sender: Callable[[Message, Smtp], None] = send_smtp,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.routes = routes
        self.backoff = tuple(backoff)
        self._send_smtp = smtp_sender
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=queue_size)
        self._slots = asyncio.Semaphore(CONCURRENT_DELIVERIES)
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._hide = HideWebhookUrls(())
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def submit(self, message: Message) -> None:
        """Queue ``message`` and return at once (a full queue drops it, and says so)."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("notification queue full; dropped %r for %s", message.subject, message.approval)

    def start(self) -> None:
        urls = [
            url for channels in (*self.routes.groups.values(), *self.routes.users.values()) for url in channels.webhooks
        ]
        self._hide = HideWebhookUrls(urls)
        logging.getLogger("httpx").addFilter(self._hide)
        self._http = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="opsgate-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._deliveries):
            task.cancel()
        if self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
        logging.getLogger("httpx").removeFilter(self._hide)

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            if message.email and self.routes.smtp is not None:
                what = f"e-mail to {len(message.email)} address(es)"
                self._spawn(message, what, functools.partial(self._smtp, message, self.routes.smtp))
            for url in message.webhooks:
                self._spawn(message, f"webhook at {host_of(url)}", functools.partial(self._webhook, message, url))

    def _spawn(self, message: Message, what: str, attempt: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(message, what, attempt))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, message: Message, what: str, attempt: Callable[[], Awaitable[None]]) -> None:
        for number, delay in enumerate((*self.backoff, None), start=1):
            try:
                async with self._slots:
                    await attempt()
            except DeliveryError as exc:
                if delay is None:
                    self.failed += 1
                    log.error(
                        "notification %r (%s) not delivered after %d attempts: %s", message.subject, what, number, exc
                    )
                    return
                log.warning("notification %r (%s) failed (%s); retrying in %gs", message.subject, what, exc, delay)
                await asyncio.sleep(delay)
            else:
                self.delivered += 1
                log.info("notification %r sent (%s)", message.subject, what)
                return

    async def _smtp(self, message: Message, smtp: Smtp) -> None:
        await asyncio.to_thread(self._send_smtp, message, smtp)

    async def _webhook(self, message: Message, url: str) -> None:
        assert self._http is not None
        try:
            response = await self._http.post(url, json=slack_payload(message))
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook at {host_of(url)}: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise DeliveryError(f"webhook at {host_of(url)} answered HTTP {response.status_code}")
