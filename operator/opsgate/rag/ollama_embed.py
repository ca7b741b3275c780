"""The production embedder: Ollama's ``/api/embed`` (``nomic-embed-text`` by default), in batches.

The dimension is learned from the first response, so any embedding model Ollama serves works.
"""

from __future__ import annotations

from collections.abc import Sequence

import ollama

DEFAULT_MODEL = "nomic-embed-text"
BATCH = 32
TIMEOUT_S = 60.0


class EmbeddingError(RuntimeError):
    """Ollama did not return one vector per text."""


class OllamaEmbedder:
    def __init__(self, *, model: str = DEFAULT_MODEL, host: str | None = None, dim: int | None = None) -> None:
        self._model = model
        self._client = ollama.Client(host=host, timeout=TIMEOUT_S)
        self._dim = dim

    def close(self) -> None:
        """Close the pooled HTTP connections (a long-lived process never needs to)."""
        self._client.close()  # type: ignore[no-untyped-call]  # ollama leaves close() unannotated

    @property
    def name(self) -> str:
        return f"ollama-{self._model}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self.embed(["dimension probe"])[0])
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            response = self._client.embed(model=self._model, input=batch)
            embeddings = [list(map(float, vector)) for vector in response.embeddings]
            if len(embeddings) != len(batch):
                raise EmbeddingError(f"{self._model} returned {len(embeddings)} vectors for {len(batch)} texts")
            vectors.extend(embeddings)
        if vectors and self._dim is None:
            self._dim = len(vectors[0])
        return vectors
