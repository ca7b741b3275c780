"""One OpsRequest's progress, from a Kubernetes watch made as the user to Server-Sent Events.

The watch (``kube.watch``) blocks, so it runs in a thread of its own - not in the event loop's
small default pool, which a few open pages would exhaust - and hands each change to the loop
through a queue. The event stream sends ``progress`` (a :func:`opsgate.ui.views.request_view`)
on every change, ``end`` once the request is final, ``failure`` with a reason if the watch
fails, and a comment every KEEPALIVE_SECONDS so proxies keep a quiet stream open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from opsgate import kube, resources
from opsgate.ui import identity, views

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
WATCH_SECONDS = 30
MESSAGE_INTERRUPTED = "the progress stream was interrupted; reload to follow the request again"


async def relay(response: web.StreamResponse, first: Mapping[str, Any], who: identity.Identity) -> None:
    """Stream ``first`` and every change after it to a prepared ``response``, until it is final.

    Returns when the request is final or deleted, the watch failed, or the page went away; the
    watching thread stops with it (within WATCH_SECONDS).
    """
    meta = first["metadata"]
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()
    pump = threading.Thread(
        target=_watch,
        args=(asyncio.get_running_loop(), queue, stop, who, meta["namespace"], meta["name"], meta["resourceVersion"]),
        name=f"sse-{meta['namespace']}/{meta['name']}",
        daemon=True,
    )
    try:
        view = views.request_view(first)
        await send(response, "progress", view)
        if view["final"]:
            await send(response, "end", {})
            return
        pump.start()
        while True:
            try:
                kind, payload = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if kind == "error":
                await send(response, "failure", {"error": payload})
                return
            view = views.request_view(payload)
            await send(response, "progress", view)
            if view["final"] or kind == "deleted":
                await send(response, "end", {})
                return
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the page went away
    finally:
        stop.set()


async def send(response: web.StreamResponse, event: str, data: Mapping[str, Any]) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())


def _watch(
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[tuple[str, Any]],
    stop: threading.Event,
    who: identity.Identity,
    namespace: str,
    name: str,
    resource_version: str,
) -> None:
    """Relay the watch's changes to the event loop until ``stop``; runs in its own thread.

    Watches end after WATCH_SECONDS and start again from the last version seen, so a page that
    went away frees its thread within that time; a version too old (410) is read again.
    """

    def put(kind: str, payload: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, payload))

    with kube.acting_as(who.user, who.groups):
        while not stop.is_set():
            try:
                for kind, obj in kube.watch(
                    resources.API_VERSION,
                    "OpsRequest",
                    namespace,
                    resource_version=resource_version,
                    fields=f"metadata.name={name}",
                    timeout_seconds=WATCH_SECONDS,
                ):
                    if stop.is_set():
                        return
                    resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
                    if kind in ("ADDED", "MODIFIED"):
                        put("update", obj)
                    elif kind == "DELETED":
                        put("deleted", obj)
                        return
            except kube.ApiError as exc:
                if exc.status != 410:
                    put("error", exc.message)
                    return
                try:
                    obj = kube.get(resources.API_VERSION, "OpsRequest", namespace, name)
                except kube.ApiError as again:
                    put("error", again.message)
                    return
                resource_version = obj["metadata"]["resourceVersion"]
                put("update", obj)
            except Exception as exc:  # the stream must end with a reason, not hang
                log.warning("watch of %s/%s stopped: %s", namespace, name, exc)
                put("error", MESSAGE_INTERRUPTED)
                return
