"""``opsgate index`` while the operator runs: the run is handed to the process that owns the folder.

An embedded Qdrant folder is one process's (the engine locks its write-ahead log), and the
operator keeps its folder open to answer requests. So the operator's indexer says it owns the
folder (an ``owner`` file with its pid under ``index-requests/``) and serves index requests put
there: ``opsgate index`` writes one (the sources, the root), the operator runs it between its own
runs and writes the summary back. A server (``QDRANT_URL``) needs none of this: any number of
processes write to it. Files only, no sockets: the folder is already shared by both processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

FOLDER = "index-requests"
OWNER = "owner"
_DONE = ".done.json"


class HandoffTimeoutError(RuntimeError):
    """The owner did not answer in time (it may have stopped, or it is busy with a long run)."""


def requests_dir(store_folder: Path) -> Path:
    return store_folder / FOLDER


def claim(store_folder: Path) -> None:
    """Say this process owns the folder and serves index requests."""
    _write_json(requests_dir(store_folder) / OWNER, {"pid": os.getpid()})


def release(store_folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if owner_pid(store_folder) == os.getpid():
            (requests_dir(store_folder) / OWNER).unlink()


def owner_pid(store_folder: Path) -> int | None:
    """The pid of the live process serving the folder, if any (a stale claim counts as none)."""
    try:
        pid = int(json.loads((requests_dir(store_folder) / OWNER).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        return pid
    return pid


def submit(store_folder: Path, *, sources: list[str], root: str) -> str:
    """Queue an index run for the owner; its id, to ``wait`` for."""
    request = uuid.uuid4().hex
    _write_json(requests_dir(store_folder) / f"{request}.json", {"sources": sources, "root": root})
    return request


def wait(
    store_folder: Path, request: str, *, timeout: float, poll: float = 0.2, clock: Callable[[], float] = time.monotonic
) -> dict[str, Any]:
    """The owner's answer to ``request``: the run's summary, or its ``error``."""
    done = requests_dir(store_folder) / f"{request}{_DONE}"
    deadline = clock() + timeout
    while clock() < deadline:
        if done.is_file():
            answer: dict[str, Any] = json.loads(done.read_text())
            done.unlink(missing_ok=True)
            return answer
        time.sleep(poll)
    (requests_dir(store_folder) / f"{request}.json").unlink(missing_ok=True)  # don't run it after all
    raise HandoffTimeoutError(f"the operator (pid {owner_pid(store_folder)}) did not answer within {timeout:.0f}s")


def pending(store_folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Requests waiting for the owner, oldest first; each is taken off the queue as it is read."""
    folder = requests_dir(store_folder)
    if not folder.is_dir():
        return
    queued = [path for path in folder.glob("*.json") if not path.name.endswith(_DONE)]
    for path in sorted(queued, key=lambda found: found.stat().st_mtime_ns):
        try:
            request = json.loads(path.read_text())
            path.unlink()
        except (OSError, ValueError):
            continue
        yield path.stem, request


def answer(store_folder: Path, request: str, result: dict[str, Any]) -> None:
    _write_json(requests_dir(store_folder) / f"{request}{_DONE}", result)


def _write_json(path: Path, document: dict[str, Any]) -> None:
    """Write-then-rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_text(json.dumps(document))
    scratch.replace(path)
