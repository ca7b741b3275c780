"""The embedder interface, and which embedder a process uses.

Production embeds with Ollama (``OPSGATE_EMBED_MODEL``, e.g. ``nomic-embed-text``, on
``OLLAMA_HOST``); everywhere else the offline MiniLM model shipped in a wheel is the default, so
indexing and search work with no server and no download. The index is named after the embedder
(``collection_name``): vectors from different models never mix in one collection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

ENV_EMBED_MODEL = "OPSGATE_EMBED_MODEL"
ENV_OLLAMA_HOST = "OLLAMA_HOST"
COLLECTION_PREFIX = "opsgate"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length dense vectors of ``dim`` floats."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def default_embedder() -> Embedder:
    """Ollama when ``OPSGATE_EMBED_MODEL`` names a model; the offline MiniLM otherwise."""
    model = os.environ.get(ENV_EMBED_MODEL)
    if model:
        from opsgate.rag.ollama_embed import OllamaEmbedder

        return OllamaEmbedder(model=model, host=os.environ.get(ENV_OLLAMA_HOST))
    from opsgate.rag.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


def collection_name(embedder: Embedder) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", embedder.name.lower()).strip("-")
    return f"{COLLECTION_PREFIX}-{slug}-{embedder.dim}"
