"""From a file to chunks: pick the splitter for its type, apply the token budget, mask secrets.

Chunk text ends up in prompts, answers and status, so literal secrets are masked once, before
anything is stored, by the same redactor that guards request text (read as a file: see
:class:`opsgate.redact.Source`).

The source type comes from where a file sits (``playbooks/``, ``terraform/``, ``policies/``) and its
suffix; YAML elsewhere is treated as Kubernetes manifests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from opsgate import redact
from opsgate.rag import budget, hcl, markdown, yamlsplit
from opsgate.rag.chunks import Chunk, ChunkingError, SourceType, file_hash
from opsgate.rag.pieces import Piece

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
YAML_SUFFIXES = frozenset({".yml", ".yaml"})
HCL_SUFFIXES = frozenset({".tf", ".hcl", ".tfvars"})
SUFFIXES = MARKDOWN_SUFFIXES | YAML_SUFFIXES | HCL_SUFFIXES

NOT_UTF8 = "not UTF-8 text"

Splitter = Callable[..., list[Piece]]


def source_type(path: str) -> SourceType:
    parts = PurePosixPath(path).parts
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return SourceType.DOC
    if suffix in HCL_SUFFIXES or "terraform" in parts[:-1]:
        return SourceType.TERRAFORM
    if "playbooks" in parts[:-1]:
        return SourceType.PLAYBOOK
    if "policies" in parts[:-1]:
        return SourceType.POLICY
    return SourceType.MANIFEST


def chunk_file(path: str, data: bytes) -> list[Chunk]:
    """All chunks of one file; raises ``ChunkingError`` when the file is malformed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ChunkingError(NOT_UTF8) from error
    kind = source_type(path)
    fallback = PurePosixPath(path).stem.replace("-", " ").replace("_", " ")
    pieces = _splitter(kind)(text, fallback_title=fallback)
    digest = file_hash(data)
    module = _module(path, kind)
    chunks: list[Chunk] = []
    for found in pieces:
        windows = budget.split_lines(found.lines, first_line=found.start_line)
        for part, window in enumerate(windows, start=1):
            if not window.text.strip():
                continue
            title = found.title if len(windows) == 1 else f"{found.title} (part {part})"
            chunks.append(
                Chunk(
                    path=path,
                    index=len(chunks),
                    type=kind,
                    title=title,
                    kind=found.kind,
                    text=redact.redact(window.text, source=redact.Source.FILE),
                    start_line=window.start_line,
                    end_line=window.end_line,
                    file_hash=digest,
                    module=module,
                )
            )
    return chunks


def _splitter(kind: SourceType) -> Splitter:
    return {
        SourceType.DOC: markdown.split,
        SourceType.TERRAFORM: hcl.split,
        SourceType.PLAYBOOK: yamlsplit.split_playbook,
        SourceType.POLICY: yamlsplit.split_collection,
        SourceType.MANIFEST: yamlsplit.split_documents,
    }[kind]


def _module(path: str, kind: SourceType) -> str:
    """``terraform/modules/<module>/…`` or ``playbooks/<group>/…``; empty elsewhere."""
    parts = PurePosixPath(path).parts
    if kind is SourceType.TERRAFORM and "modules" in parts[:-2]:
        return parts[parts.index("modules") + 1]
    if kind is SourceType.PLAYBOOK and "playbooks" in parts[:-2]:
        return parts[parts.index("playbooks") + 1]
    return ""
