"""``opsgate operator``: run the controller (out of cluster with a kubeconfig, or in a pod)."""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import importlib
import logging
import os
import threading
import time
import urllib.parse
from typing import Any

import click

from opsgate.settings import Settings


@click.command("operator")
@click.option("--namespace", "namespaces", multiple=True, help="Watch only these namespaces (default: all).")
@click.option("--ollama-host", default=None, help="Ollama for LLM parsing (env OLLAMA_HOST; default: rule parser).")
@click.option("--model", default=None, help="Chat model (env OPSGATE_CHAT_MODEL).")
@click.option("--executor-image", default=None, help="Image of the execution Jobs (env OPSGATE_EXECUTOR_IMAGE).")
@click.option("--metrics-port", type=int, default=None, help="Prometheus metrics port (default 9090; 0 disables).")
@click.option(
    "--health", "health_endpoint", default=None, help="Liveness endpoint URL (default http://0.0.0.0:8080/healthz)."
)
@click.option(
    "--port-offset",
    type=click.IntRange(min=0),
    default=0,
    envvar="OPSGATE_PORT_OFFSET",
    help="Added to the metrics and health ports: replicas sharing one network (hostNetwork) each need their own.",
)
@click.option("--peering", default=None, help="kopf peering name: replicas sharing it never act at once.")
@click.option("--priority", type=int, default=None, help="Peering priority (higher wins).")
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="json: one structured object per line (for log collectors).",
)
def operator(
    namespaces: tuple[str, ...],
    ollama_host: str | None,
    model: str | None,
    executor_image: str | None,
    metrics_port: int | None,
    health_endpoint: str | None,
    port_offset: int,
    peering: str | None,
    priority: int | None,
    log_format: str,
) -> None:
    """Run the OpsGate controller until interrupted."""
    import kopf

    # Importing registers the handlers with kopf, which runs start-up handlers in that order: the
    # controller's first (opsgate.handlers.configure builds it), then the audit store's (idle
    # without a database) and the approver notifications' (idle without OPSGATE_NOTIFY_CONFIG),
    # which extend it.
    for module in ("opsgate.handlers", "opsgate.audit_events", "opsgate.notify_events"):
        importlib.import_module(module)

    settings = Settings.from_env()
    overrides: dict[str, Any] = {
        "namespaces": namespaces or None,
        "ollama_host": ollama_host,
        "chat_model": model,
        "executor_image": executor_image,
        "metrics_port": metrics_port,
        "health_endpoint": health_endpoint,
        "peering": peering,
        "priority": priority,
    }
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    if settings.metrics_port == 0:
        settings = dataclasses.replace(settings, metrics_port=None)
    settings = offset_ports(settings, port_offset)
    if settings.peering:
        _ensure_peering(settings)
    root = logging.getLogger()
    debug = root.getEffectiveLevel() <= logging.DEBUG  # `opsgate -vv` or OPSGATE_LOG_LEVEL=DEBUG
    quiet = os.environ.get("OPSGATE_LOG_LEVEL", "").upper() in ("WARNING", "ERROR", "CRITICAL")
    root.handlers.clear()  # kopf installs its own (plain or JSON) handler; INFO by default
    kopf.configure(
        debug=debug,
        quiet=quiet,
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.PLAIN,
        log_refkey="object",
    )
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    _fewer_malloc_arenas()
    _return_freed_memory()
    asyncio.run(
        kopf.operator(
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            standalone=settings.peering is None,
            peering_name=settings.peering,
            priority=settings.priority,
            liveness_endpoint=settings.health_endpoint,
            memo=kopf.Memo(settings=settings),
        )
    )


def offset_ports(settings: Settings, offset: int) -> Settings:
    """``settings`` with ``offset`` added to the metrics port and the health endpoint's port.

    Replicas in one network namespace (hostNetwork pods; the local cluster's process node, where
    pods share the host's loopback) would otherwise all bind the same two ports; the Helm chart
    passes each replica's StatefulSet ordinal. A disabled endpoint stays disabled.
    """
    if not offset:
        return settings
    metrics_port = settings.metrics_port + offset if settings.metrics_port else None
    health = settings.health_endpoint
    if health:
        url = urllib.parse.urlsplit(health)
        port = (url.port or (443 if url.scheme == "https" else 80)) + offset
        health = url._replace(netloc=f"{url.hostname}:{port}").geturl()
    return dataclasses.replace(settings, metrics_port=metrics_port, health_endpoint=health)


def _ensure_peering(settings: Settings) -> None:
    """Create the peering object(s) replicas coordinate through, if missing.

    kopf peers a cluster-wide operator through a ClusterKopfPeering, and one watching named
    namespaces through a KopfPeering in each of them; without it, such an operator waits
    for its peers forever and handles nothing.
    """
    from opsgate import kube

    kube.configure(settings.kubeconfig)
    name = settings.peering
    peerings: list[dict[str, Any]] = [
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": name, "namespace": namespace}}
        for namespace in settings.namespaces
    ] or [{"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}}]
    for peering in peerings:
        try:
            kube.ensure(peering)
        except kube.ApiError as exc:
            hint = " (install deploy/peering.yaml first)" if exc.not_found else ""
            raise click.ClickException(f"can't set up {peering['kind']} {name!r}: {exc.message}{hint}") from exc


MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter


def _fewer_malloc_arenas() -> None:
    """Two malloc arenas instead of glibc's default of up to eight per core.

    Each thread that allocates gets an arena of its own, and keeps what it freed there: with the
    operator's API threads, a backlog's peak resident memory was mostly freed memory held in
    thread arenas (bench/backlog.py). ``MALLOC_ARENA_MAX`` in the environment still decides, and
    a libc other than glibc is left alone. Called before any thread is started.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        return


TRIM_SECONDS = 1.0


def _return_freed_memory() -> None:
    """Hand the pages malloc holds free back to the system, every ``TRIM_SECONDS``, in a thread.

    glibc returns freed memory only from the top of its heap; what a burst frees in the middle
    stays resident, and the next burst's peak comes on top of it. Trimming each second lowered
    a 5,000-request backlog's peak by ~8 MB (bench/backlog.py: 298-300 MB against 306-310); a trim
    takes well under a millisecond. A libc without ``malloc_trim`` is left alone.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return

    def run() -> None:
        while True:
            time.sleep(TRIM_SECONDS)
            trim(0)

    threading.Thread(target=run, name="opsgate-malloc-trim", daemon=True).start()
