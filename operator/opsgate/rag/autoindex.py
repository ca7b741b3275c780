"""The operator's own index: built in the background at start-up, kept current as sources change.

With the embedded store (Qdrant Edge) the operator owns its index folder. One thread indexes the
sources under the operator's home (docs, playbooks, terraform, policies: the catalog and policy
ConfigMap when mounted there) incrementally at start-up, then checks every ``POLL_SECONDS``
whether a file was added, removed or changed (by size and modification time, so an idle check
reads no file) and indexes again if so. Requests are never blocked by it: they search whatever is
indexed so far (nothing yet means "no context"), from their own thread. The same thread serves
``opsgate index`` runs handed over by other processes (``handoff``). With a Qdrant server
(``QDRANT_URL``) the thread does nothing: the server is indexed by ``opsgate index`` or a CronJob.
``OPSGATE_AUTOINDEX=0`` turns it off (tests that want an operator without context).
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opsgate.rag import handoff, indexer
from opsgate.rag.retriever import Retriever
from opsgate.rag.store import StoreBusyError

ENV_POLL_SECONDS = "OPSGATE_INDEX_POLL_SECONDS"
ENV_ENABLED = "OPSGATE_AUTOINDEX"  # "0" leaves the index as it is (an empty one: no context)
POLL_SECONDS = 30.0  # how often sources are checked for changes
REQUEST_POLL_SECONDS = 0.5  # how often handed-over `opsgate index` runs are looked for

log = logging.getLogger(__name__)

Fingerprint = frozenset[tuple[str, int, int]]


class BackgroundIndexer:
    def __init__(
        self,
        retriever: Retriever,
        *,
        root: Path,
        sources: Sequence[Path] | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self._retriever = retriever
        self._root = root
        self._sources = list(sources) if sources is not None else [Path(name) for name in indexer.DEFAULT_SOURCES]
        configured = os.environ.get(ENV_POLL_SECONDS)
        self._poll = poll_seconds if poll_seconds is not None else float(configured or POLL_SECONDS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._folder: Path | None = None
        self.runs = 0  # completed index runs of the operator's own sources
        self.last: indexer.Summary | None = None
        self.idle = threading.Event()  # set whenever the sources as last seen are indexed

    def start(self) -> None:
        if os.environ.get(ENV_ENABLED, "1").strip().lower() in ("0", "false", "no"):
            log.info("%s=0: the operator does not index its context sources", ENV_ENABLED)
            self.idle.set()
            return
        self._thread = threading.Thread(target=self._run, name="opsgate-indexer", daemon=True)
        self._thread.start()
        atexit.register(self.stop)  # the engine's files closed and the hand-off claim withdrawn at exit

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the run in progress (an index run is not interrupted half-way)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._folder is not None:
            handoff.release(self._folder)

    def _run(self) -> None:
        while True:
            try:
                store, _ = self._retriever.connect()
                break
            except StoreBusyError as error:  # an `opsgate index` run started before the operator
                log.warning("%s; trying again in %.0fs", error, self._poll)
                if self._stop.wait(self._poll):
                    return
            except Exception:
                log.exception("the context index cannot be opened; requests go on without context")
                return
        if not store.embedded:
            log.info("context index on a Qdrant server (%s): indexed by `opsgate index`, not here", store.location)
            return
        self._folder = Path(store.location)
        handoff.claim(self._folder)
        seen: Fingerprint | None = None
        next_check = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_check:
                next_check = now + self._poll
                current = fingerprint(self._sources, root=self._root)
                if current != seen:
                    self.idle.clear()
                    if self._index(self._sources, self._root):
                        seen = current
                    self.idle.set()
            for request, body in handoff.pending(self._folder):
                handoff.answer(self._folder, request, self._serve(body))
            self._stop.wait(REQUEST_POLL_SECONDS)

    def _index(self, sources: Sequence[Path], root: Path) -> bool:
        store, embedder = self._retriever.connect()
        try:
            summary = indexer.index(sources, root=root, store=store, embedder=embedder)
        except Exception:
            log.exception("indexing the context sources failed; it is tried again at the next check")
            return False
        self.runs += 1
        self.last = summary
        log.info(
            "context index: %d files indexed, %d unchanged, %d removed, %d failed; %d chunks in %.1fs",
            summary.indexed,
            summary.unchanged,
            summary.removed,
            len(summary.failures),
            summary.chunks,
            summary.seconds,
        )
        return True

    def _serve(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run an `opsgate index` handed over by another process; the summary goes back to it."""
        store, embedder = self._retriever.connect()
        try:
            sources = [Path(str(source)) for source in body.get("sources") or []]
            summary = indexer.index(sources, root=Path(str(body["root"])), store=store, embedder=embedder)
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}
        document = dataclasses.asdict(summary)
        document["pid"] = os.getpid()
        return document


def fingerprint(sources: Sequence[Path], *, root: Path) -> Fingerprint:
    """What the sources look like without reading them: each indexable file's size and mtime."""
    found = set()
    for file in indexer.discover(sources, root=root):
        try:
            status = file.stat()
        except OSError:
            continue
        found.add((str(file), status.st_size, status.st_mtime_ns))
    return frozenset(found)
