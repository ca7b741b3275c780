"""The executor Jobs, followed by one watch on the executor namespace instead of a poll per request.

An informer in miniature: list the Jobs OpsGate manages, then watch from the list's
resourceVersion; after the server ends a watch, resume from the last version seen; after a 410
(the version expired) or an error, list again and compare with what was known. The caller hears
about the two moments a request's machine cares about: a Job *finished* (first seen with a
verdict) and a Job that *vanished* before finishing (deleted by someone, or gone while this
process wasn't watching). Nothing else - a Job's many progress updates wake nobody.

It runs in a thread of its own (blocking HTTP through :mod:`opsgate.kube`) and hands each
moment to ``notify`` from that thread; the operator passes a function that schedules the
request's reconcile on its event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from opsgate import kube
from opsgate.controller import jobs

log = logging.getLogger("opsgate.jobs")

SELECTOR = f"{jobs.LABEL_MANAGED_BY}=opsgate,{jobs.LABEL_COMPONENT}=executor"
RETRY_SECONDS = (0.5, 1, 2, 5, 10)


class JobWatch:
    """Follow the executor namespace's Jobs; call ``notify(job)`` when one finishes or vanishes."""

    def __init__(
        self,
        namespace: str,
        notify: Callable[[Mapping[str, Any]], None],
        *,
        timeout_seconds: int = 300,
    ) -> None:
        self.namespace = namespace
        self.notify = notify
        self.timeout_seconds = timeout_seconds
        self.known: dict[str, tuple[bool, Mapping[str, Any]]] = {}  # Job uid -> (finished, its metadata)
        self.ready = threading.Event()  # set after the first list
        self.stop = threading.Event()

    def run(self) -> None:
        """List and watch until ``stop`` is set (checked between watches and after each event)."""
        failures = 0
        while not self.stop.is_set():
            try:
                version = self._list()
                self.ready.set()
                failures = 0
                while not self.stop.is_set():
                    version = self._watch(version)
            except kube.ApiError as exc:
                if exc.status != 410:
                    failures += 1
                    log.warning("watching executor Jobs in %s: %s", self.namespace, exc)
            except Exception as exc:  # connection dropped, server restarting: list again after a pause
                failures += 1
                log.warning("watching executor Jobs in %s: %s", self.namespace, exc)
            if failures:
                self.stop.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    def _list(self) -> str:
        items, version = kube.list_with_version("batch/v1", "Job", self.namespace, labels=SELECTOR)
        now = {job["metadata"]["uid"]: job for job in items}
        if self.ready.is_set():  # a re-list: what changed while the watch was down
            for uid, job in now.items():
                if jobs.finished(job) and not self.known.get(uid, (False, {}))[0]:
                    self.notify(job)
            for uid, (done, gone) in self.known.items():
                if uid not in now and not done:
                    self.notify(gone)
        # (Jobs that vanished while this process wasn't running at all are found by their
        # requests: the operator looks at every Running request when it starts.)
        self.known = {uid: (jobs.finished(job), _identity(job)) for uid, job in now.items()}
        return version

    def _watch(self, version: str) -> str:
        for kind, job in kube.watch(
            "batch/v1",
            "Job",
            self.namespace,
            resource_version=version,
            labels=SELECTOR,
            timeout_seconds=self.timeout_seconds,
        ):
            version = job.get("metadata", {}).get("resourceVersion", version)
            if kind == "BOOKMARK":
                continue
            self._seen(kind, job)
            if self.stop.is_set():
                break
        return version

    def _seen(self, kind: str, job: Mapping[str, Any]) -> None:
        uid = job["metadata"]["uid"]
        if kind == "DELETED":
            was_finished = self.known.pop(uid, (False, {}))[0]
            if not was_finished and not jobs.finished(job):
                self.notify(job)  # gone mid-run: the request fails with JobMissing
            return
        done = jobs.finished(job)
        if done and not self.known.get(uid, (False, {}))[0]:
            self.notify(job)
        self.known[uid] = (done, _identity(job))


def _identity(job: Mapping[str, Any]) -> dict[str, Any]:
    """What names a Job's request (kept per Job instead of the whole object)."""
    meta = job["metadata"]
    return {
        "metadata": {
            "name": meta["name"],
            "uid": meta["uid"],
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
        }
    }
