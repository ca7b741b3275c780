"""The chunk: one retrievable piece of a source file, with the metadata a reader needs to find it.

A chunk's point id is derived from its path and position only, so re-indexing a file overwrites
its points instead of adding new ones.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import uuid

# A fixed namespace: point ids must be the same in every process and on every machine.
_POINT_NAMESPACE = uuid.UUID("6f0d3c1e-51b7-4d8e-9a0c-5f1f3b2a9e10")


class SourceType(enum.StrEnum):
    DOC = "doc"
    PLAYBOOK = "playbook"
    TERRAFORM = "terraform"
    POLICY = "policy"
    MANIFEST = "manifest"


class ChunkingError(ValueError):
    """A source file cannot be cut into chunks (malformed YAML or HCL, not UTF-8)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    path: str  # relative to the indexed root, with forward slashes
    index: int  # position within the file, from 0
    type: SourceType
    title: str  # the heading, play/task name, block header or rule name
    kind: str  # section, play, tasks, resource, rule, Deployment, ...
    text: str
    start_line: int  # 1-based, inclusive
    end_line: int
    file_hash: str  # sha256 of the whole file: what incremental indexing compares
    module: str = ""  # the Terraform module (or playbook group) the chunk belongs to

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def point_id(self) -> str:
        return point_id(self.path, self.index)

    def embedding_text(self) -> str:
        """What the embedder sees: where the chunk comes from, then the chunk itself."""
        return f"{self.type.value} {self.path}: {self.title}\n{self.text}"

    @property
    def embedding_hash(self) -> str:
        """Same hash, same vector: an unchanged chunk of a changed file is not embedded again."""
        return hashlib.sha256(self.embedding_text().encode()).hexdigest()

    def payload(self) -> dict[str, object]:
        return {
            "path": self.path,
            "index": self.index,
            "type": self.type.value,
            "title": self.title,
            "kind": self.kind,
            "module": self.module,
            "text": self.text,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "file_hash": self.file_hash,
            "content_hash": self.content_hash,
            "embedding_hash": self.embedding_hash,
        }


def point_id(path: str, index: int) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{path}#{index}"))


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
