"""`opsgate parse`/`plan` read the audit store's learned phrases like the operator, and never wait on it."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from click.testing import CliRunner

from opsgate.adapters import auditdb
from opsgate.catalog import default_catalog
from opsgate.cli import main


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_without_an_audit_store_the_catalog_is_as_shipped() -> None:
    catalog = default_catalog()
    assert asyncio.run(auditdb.with_learning(catalog, None)) == (catalog, None)


def test_an_unreachable_audit_store_leaves_parsing_as_it_is_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGATE_DATABASE_URL", f"postgresql://opsgate@127.0.0.1:{closed_port()}/audit")
    result = CliRunner().invoke(main, ["parse", "restart the checkout deployment"])
    assert result.exit_code == 0, result.output
    assert "learned phrases not read from the audit store" in result.stderr
    assert json.loads(result.stdout)["action"] == "restart"
