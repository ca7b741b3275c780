"""A real PostgreSQL (Debian's package, installed by hack/setup.sh) for a test session.

initdb refuses to run as root, so under root the server runs as the ``postgres`` user, in a
temp dir that user owns; it listens on a random loopback port with trust auth, and is stopped
(or crashed: ``pg_ctl stop -m immediate``) and started again by the fault tests. When the
binaries are missing, the tests fail under CI and are skipped elsewhere (tests/required.py).
A test module takes the fixture with ``from tests.real_postgres import postgres_server``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests import required

BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"), Path("/usr/lib/postgresql/17/bin"))
SETUP_HINT = "run hack/setup.sh (it installs Debian's postgresql package)"


def bin_dir() -> Path | None:
    override = os.environ.get("OPSGATE_PG_BIN")
    candidates = (Path(override),) if override else BIN_DIRS
    return next((d for d in candidates if (d / "initdb").exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclasses.dataclass
class RealPostgres:
    bin: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://opsgate@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://opsgate@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", self.as_user, "--"] if self.as_user else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )

    def stop(self, *, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self) -> str:
        """A fresh database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "opsgate", name)
        return self.url(name)


@contextlib.contextmanager
def serve(binaries: Path) -> Iterator[RealPostgres]:
    root = Path(tempfile.mkdtemp(prefix="opsgate-pg-"))
    as_user = "postgres" if os.geteuid() == 0 else None
    if as_user:
        shutil.chown(root, user=as_user)
    server = RealPostgres(binaries, root, _free_port(), as_user)
    try:
        server._run(str(binaries / "initdb"), "-D", str(server.data), "-U", "opsgate", "--auth=trust", "-E", "UTF8")
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[RealPostgres]:
    binaries = bin_dir()
    if binaries is None:
        required.unavailable("PostgreSQL (initdb, pg_ctl)", hint=SETUP_HINT)
    with serve(binaries) as server:
        yield server


@pytest.fixture
def database_url(postgres_server: RealPostgres) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database()
