"""A real Prometheus Alertmanager, started for a test and stopped by pid.

Built from its Go module by ``hack/build-alertmanager.sh`` (cached under
``~/.cache/opsgate/alertmanager-<version>/bin``, found through ``OPSGATE_ALERTMANAGER`` or that
cache). It runs on a random loopback port with clustering off, its storage in a temp dir, and one
webhook receiver: the URL under test, with a bearer token from a file, and timings short enough
for a test (group wait and interval of a second; re-sends every ``repeat_seconds``). Tests push
alerts through its own API (``POST /api/v2/alerts``), as Prometheus does; Alertmanager groups
them and posts its documented webhook payload (version 4).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests import required

ALERTMANAGER_VERSION = "0.28.1"
SETUP_HINT = "run hack/setup.sh (hack/build-alertmanager.sh caches alertmanager in ~/.cache/opsgate)"
READY_TIMEOUT_S = 30.0


def binary() -> Path:
    configured = os.environ.get("OPSGATE_ALERTMANAGER")
    cache = Path(os.environ.get("OPSGATE_CACHE") or Path.home() / ".cache" / "opsgate")
    path = Path(configured) if configured else cache / f"alertmanager-{ALERTMANAGER_VERSION}" / "bin" / "alertmanager"
    if not (path.is_file() and os.access(path, os.X_OK)):
        required.unavailable("the alertmanager binary (OPSGATE_ALERTMANAGER)", hint=SETUP_HINT)
    return path


@dataclasses.dataclass(frozen=True)
class RealAlertmanager:
    url: str
    log_path: Path

    def push(self, *alerts: Mapping[str, Any]) -> None:
        """Send alerts to Alertmanager's API as Prometheus does (``endsAt`` in the past resolves)."""
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/api/v2/alerts",
            data=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            assert response.status == 200, response.read()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def config(webhook_url: str, token_file: Path, *, repeat_seconds: int) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "opsgate",
            "group_by": ["alertname", "namespace", "pod"],  # one notification per crash-looping pod
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": f"{repeat_seconds}s",
        },
        "receivers": [
            {
                "name": "opsgate",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"credentials_file": str(token_file)}},
                    }
                ],
            }
        ],
    }


@contextlib.contextmanager
def serve(webhook_url: str, token_file: Path, *, repeat_seconds: int = 3) -> Iterator[RealAlertmanager]:
    with tempfile.TemporaryDirectory(prefix="opsgate-alertmanager-") as tmp:
        state = Path(tmp)
        (state / "alertmanager.yml").write_text(
            json.dumps(config(webhook_url, token_file, repeat_seconds=repeat_seconds))
        )
        port = _free_port()
        log_path = state / "alertmanager.log"
        argv = [
            str(binary()),
            f"--config.file={state / 'alertmanager.yml'}",
            f"--storage.path={state / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                assert process.poll() is None, f"alertmanager exited:\n{log_path.read_text()[-3000:]}"
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:  # noqa: S310 - loopback
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"alertmanager not ready:\n{log_path.read_text()[-3000:]}"
                time.sleep(0.2)
            yield RealAlertmanager(url, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
