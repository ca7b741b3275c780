"""Replicas sharing one network take distinct ports: ``opsgate operator --port-offset``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from opsgate.cli.operator import offset_ports, operator
from opsgate.settings import Settings


@pytest.mark.parametrize(
    ("metrics", "health", "offset", "expected"),
    [
        (9090, "http://0.0.0.0:8080/healthz", 0, (9090, "http://0.0.0.0:8080/healthz")),
        (9090, "http://0.0.0.0:8080/healthz", 1, (9091, "http://0.0.0.0:8081/healthz")),
        (19090, "http://127.0.0.1:18080/healthz", 3, (19093, "http://127.0.0.1:18083/healthz")),
        (None, None, 2, (None, None)),
        (9090, "http://0.0.0.0/healthz", 1, (9091, "http://0.0.0.0:81/healthz")),
    ],
    ids=["no-offset", "replica-1", "replica-3-custom-ports", "endpoints-disabled", "health-default-port"],
)
def test_the_offset_is_added_to_the_metrics_port_and_the_health_endpoint_port(
    metrics: int | None, health: str | None, offset: int, expected: tuple[int | None, str | None]
) -> None:
    shifted = offset_ports(Settings(metrics_port=metrics, health_endpoint=health), offset)
    assert (shifted.metrics_port, shifted.health_endpoint) == expected


def test_a_negative_offset_is_refused_with_a_clear_error() -> None:
    result = CliRunner().invoke(operator, ["--port-offset=-1"])
    assert result.exit_code == 2
    assert "--port-offset" in result.output
    assert "-1 is not in the range x>=0" in result.output
