"""A mail provider's mailbox admin API, for the e-mail playbooks: it stands in for the real provider.

No mail provider can run here, so this serves the REST API that ``playbooks/provision/create-email.yml``
and ``delete-email.yml`` are written against, with the behaviour a provider has and a test can
see:

* ``GET /api/v1/mailboxes/<address>`` → 200 ``{address, quota_mib}`` or 404;
* ``POST /api/v1/mailboxes`` ``{address, quota_mib}`` → 201 (409 if it exists, 422 if malformed);
* ``PATCH /api/v1/mailboxes/<address>`` ``{quota_mib}`` → 200 (404 if missing);
* ``DELETE /api/v1/mailboxes/<address>`` → 204 (404 if missing);
* every call needs ``Authorization: Bearer <token>`` (401 otherwise), the token the executor
  fetched from Vault.

It keeps the mailboxes in memory and a log of the calls (method, path, whether the token was
right - never the token itself). Serves on loopback only.

    python -m tests.fakes.mail_server --port 0 --token T   # prints its base URL, for the demo
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/api/v1/mailboxes"


@dataclass
class MailState:
    token: str
    mailboxes: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, bool]] = field(default_factory=list)  # (method, path, authorized)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: MailState  # set on the class made per server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the calls are in state.calls

    def _reply(self, status: HTTPStatus, body: Any = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorized(self) -> bool:
        ok = self.headers.get("Authorization", "") == f"Bearer {self.state.token}"
        with self.state.lock:
            self.state.calls.append((self.command, self.path, ok))
        if not ok:
            self._reply(HTTPStatus.UNAUTHORIZED, {"error": "a valid bearer token is required"})
        return ok

    def _address(self) -> str | None:
        if not self.path.startswith(PREFIX + "/"):
            return None
        return urllib.parse.unquote(self.path[len(PREFIX) + 1 :])

    def _json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except json.JSONDecodeError:
            return None

    def do_GET(self) -> None:
        if not self._authorized():
            return
        address = self._address()
        with self.state.lock:
            mailbox = self.state.mailboxes.get(address or "")
        if mailbox is None:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "no such mailbox"})
        else:
            self._reply(HTTPStatus.OK, mailbox)

    def do_POST(self) -> None:
        if not self._authorized():
            return
        body = self._json()
        if self.path != PREFIX or not isinstance(body, dict) or "@" not in str(body.get("address", "")):
            self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": "address and quota_mib are required"})
            return
        with self.state.lock:
            if body["address"] in self.state.mailboxes:
                self._reply(HTTPStatus.CONFLICT, {"error": "mailbox exists"})
                return
            mailbox = {
                "address": body["address"],
                "quota_mib": int(body.get("quota_mib") or 1024),
                "labels": dict(body.get("labels") or {}),
            }
            self.state.mailboxes[body["address"]] = mailbox
        self._reply(HTTPStatus.CREATED, mailbox)

    def do_PATCH(self) -> None:
        if not self._authorized():
            return
        address, body = self._address(), self._json()
        with self.state.lock:
            mailbox = self.state.mailboxes.get(address or "")
            if mailbox is not None and isinstance(body, dict) and "quota_mib" in body:
                mailbox["quota_mib"] = int(body["quota_mib"])
        if mailbox is None:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "no such mailbox"})
        else:
            self._reply(HTTPStatus.OK, mailbox)

    def do_DELETE(self) -> None:
        if not self._authorized():
            return
        with self.state.lock:
            removed = self.state.mailboxes.pop(self._address() or "", None)
        self._reply(HTTPStatus.NO_CONTENT if removed is not None else HTTPStatus.NOT_FOUND)


@dataclass
class MailServer:
    url: str  # the API base, as playbooks/vars/common.yml's mail_api_url
    state: MailState


@contextlib.contextmanager
def serve(token: str, *, port: int = 0) -> Iterator[MailServer]:
    """The mail API on 127.0.0.1 (a random port by default) until the block ends."""
    state = MailState(token=token)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, name="mail-api", daemon=True)
    thread.start()
    try:
        yield MailServer(f"http://127.0.0.1:{server.server_address[1]}/api/v1", state)
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    options = parser.parse_args()
    with serve(options.token, port=options.port) as server:
        print(server.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
