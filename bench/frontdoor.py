"""Benchmark the front doors as a user and an agent meet them: ``kubectl opsgate`` and ``opsgate mcp``.

Run: ``.venv/bin/python bench/frontdoor.py [--kubeconfig K] [--rounds N]`` (without a kubeconfig it
starts hack/local-cluster.sh and stops it at the end). No operator runs: this is the cost the front
door itself adds - a CLI process (start, imports, SelfSubjectReview, one API call) and an MCP tool
call over stdio on a warm session. Ends with one JSON line:
``{"cli_ask_ms", "cli_status_ms", "mcp_start_ms", "mcp_submit_ms", "mcp_status_ms", "mcp_plan_ms"}``
(each {p50, p95, p99, max}).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import StdioServerParameters
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client

from _harness import ROOT, bench_namespace, clean, cluster, install, log, summary_ms

PLUGIN = [str(ROOT / ".venv" / "bin" / "kubectl-opsgate")]
TEXT = "restart the checkout deployment in staging"


def cli_round(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*PLUGIN, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - started


async def timed(calls: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        result = await call()
        assert not result.is_error, result.content
        seconds.append(time.perf_counter() - started)
    return seconds


async def mcp_rounds(namespace: str, rounds: int) -> dict[str, Any]:
    server = StdioServerParameters(
        command=str(ROOT / ".venv" / "bin" / "opsgate"), args=["mcp", "-n", namespace], env=dict(os.environ)
    )
    started = time.perf_counter()
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        start = time.perf_counter() - started
        submit = await timed(rounds, lambda: session.call_tool("submit", {"text": TEXT}))
        name = (await session.call_tool("submit", {"text": TEXT})).structured_content["name"]
        status = await timed(rounds, lambda: session.call_tool("status", {"name": name}))
        plan = await timed(max(3, rounds // 4), lambda: session.call_tool("plan", {"text": TEXT}))
    return {
        "mcp_start_ms": round(start * 1000, 1),
        "mcp_submit_ms": summary_ms(submit),
        "mcp_status_ms": summary_ms(status),
        "mcp_plan_ms": summary_ms(plan),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    with cluster(options.kubeconfig):
        install()
        namespace = bench_namespace(f"bench-frontdoor-{int(time.time())}")
        log(f"{options.rounds} rounds of kubectl opsgate ask / status (a process each)")
        ask = [cli_round(["ask", TEXT, "-n", namespace]) for _ in range(options.rounds)]
        status = [cli_round(["status", "-n", namespace]) for _ in range(options.rounds)]
        log(f"{options.rounds} rounds of the MCP tools submit / status on one stdio session")
        figures = {"cli_ask_ms": summary_ms(ask), "cli_status_ms": summary_ms(status)}
        figures.update(asyncio.run(mcp_rounds(namespace, options.rounds)))
        subprocess.run(["kubectl", "delete", "namespace", namespace, "--wait=false"], check=False, capture_output=True)
    for key, value in figures.items():
        log(f"{key}: {value}")
    print(json.dumps(clean(figures)))


if __name__ == "__main__":
    main()
