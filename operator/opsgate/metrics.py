"""Prometheus metrics of the operator (served by ``opsgate operator`` on ``--metrics-port``)."""

from __future__ import annotations

import prometheus_client as prom

REQUESTS = prom.Counter(
    "opsgate_requests_total", "OpsRequests that reached a phase, by phase and policy decision", ["phase", "decision"]
)
RECONCILE_SECONDS = prom.Histogram(
    "opsgate_reconcile_seconds",
    "Time the controller spends on a new OpsRequest, by stage (plan, launch, write; decision = all)",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LLM_SECONDS = prom.Histogram(
    "opsgate_llm_seconds",
    "Latency of LLM intent parsing, by outcome",
    ["outcome"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 60),
)
POLICY_SECONDS = prom.Histogram(
    "opsgate_policy_evaluation_seconds",
    "Time to plan and evaluate the whole policy set for one request",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)
JOBS = prom.Counter("opsgate_jobs_total", "Execution Jobs, by outcome", ["outcome"])


def serve(port: int) -> None:
    prom.start_http_server(port)
