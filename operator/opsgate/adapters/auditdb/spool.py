"""The bounded on-disk queue audit records wait in until PostgreSQL has them.

A SQLite file (WAL, one process): a record is *held* before the status write that stamps its
hash into the OpsRequest, made *ready* once that write succeeded (or dropped if it failed), and
removed only after PostgreSQL committed it. So a crash of the operator or an outage of the
database loses nothing: what is ready is retried until written, and what was held when the
process died is settled at the next start against the request's status (:mod:`.hook`).

Bounded: past ``capacity`` items nothing more is accepted (the caller says so in the request's
``Audited`` condition) rather than filling the disk.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DEFAULT_CAPACITY = 200_000


class Kind(enum.StrEnum):
    RECORD = "record"
    FEEDBACK = "feedback"
    EXCHANGE = "exchange"  # an LLM exchange (opsgate.audit.exchanges)


class SpoolFullError(RuntimeError):
    """The spool holds ``capacity`` items already."""


@dataclasses.dataclass(frozen=True)
class Item:
    id: int
    kind: Kind
    body: dict[str, Any]


class Spool:
    def __init__(self, path: Path, *, capacity: int = DEFAULT_CAPACITY) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.capacity = path, capacity
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash; fsync'd at checkpoints
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " ready INTEGER NOT NULL, body TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS items_ready ON items (ready, id)")
        self._count = int(self._db.execute("SELECT count(*) FROM items").fetchone()[0])

    def __len__(self) -> int:
        return self._count

    def put(self, kind: Kind, bodies: Iterable[Mapping[str, Any]], *, ready: bool = True) -> list[int]:
        """Append items (ready to send, or held until :meth:`release`); their ids."""
        rows = [(str(kind), int(ready), json.dumps(body, separators=(",", ":"))) for body in bodies]
        with self._lock:
            if self._count + len(rows) > self.capacity:
                raise SpoolFullError(
                    f"the audit spool {self.path} holds {self._count} items (capacity {self.capacity})"
                )
            self._db.execute("BEGIN")
            ids = [
                int(self._db.execute("INSERT INTO items (kind, ready, body) VALUES (?, ?, ?)", row).lastrowid or 0)
                for row in rows
            ]
            self._db.execute("COMMIT")
            self._count += len(rows)
        return ids

    def release(self, ids: Iterable[int]) -> None:
        """Held items become ready to send."""
        with self._lock:
            self._db.executemany("UPDATE items SET ready = 1 WHERE id = ?", [(i,) for i in ids])

    def remove(self, ids: Iterable[int]) -> None:
        """Items PostgreSQL has (or held items whose status write failed)."""
        keys = [(i,) for i in ids]
        with self._lock:
            self._db.execute("BEGIN")
            before = self._db.total_changes
            self._db.executemany("DELETE FROM items WHERE id = ?", keys)
            self._count -= self._db.total_changes - before
            self._db.execute("COMMIT")

    def ready(self, limit: int) -> list[Item]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, body FROM items WHERE ready = 1 ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Item(int(i), Kind(k), json.loads(b)) for i, k, b in rows]

    def held(self) -> list[Item]:
        with self._lock:
            rows = self._db.execute("SELECT id, kind, body FROM items WHERE ready = 0 ORDER BY id").fetchall()
        return [Item(int(i), Kind(k), json.loads(b)) for i, k, b in rows]

    def count_ready(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM items WHERE ready = 1").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
