"""Retrieved context for planning: the RAG retriever behind planning's ``ContextSource``.

Retrieval runs in a worker thread of its own (embedding and ranking are blocking), never raises, and turns
"nothing relevant" into an empty result rather than an error; a missing index or a failing
store becomes a message for the ``ContextRetrieved`` condition. With an LLM configured,
questions are answered by it from the fenced passages (quoting them is the fallback).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from pathlib import Path

import ollama

from opsgate.controller.planning import Retrieved
from opsgate.rag import answer as rag_answer
from opsgate.rag import autoindex
from opsgate.rag import retriever as rag_retriever
from opsgate.settings import Settings

TOP_K = 5


class RagContext:
    """A :class:`opsgate.controller.planning.ContextSource` over an OpsGate RAG index."""

    def __init__(
        self, retriever: rag_retriever.Retriever, *, k: int = TOP_K, writer: rag_answer.Llm | None = None
    ) -> None:
        self._retriever = retriever
        self._k = k
        self._writer = writer
        # Embedding and ranking use the CPU: one thread of their own, so a queue of retrievals
        # never holds up the API calls (status writes) that share the default pool.
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsgate-rag")
        self.indexer: autoindex.BackgroundIndexer | None = None

    def start_indexing(self, root: Path) -> autoindex.BackgroundIndexer:
        """Index ``root``'s sources on a thread of their own, now and whenever they change (embedded
        store only); requests meanwhile search what is indexed so far."""
        if self.indexer is None:
            self.indexer = autoindex.BackgroundIndexer(self._retriever, root=root)
            self.indexer.start()
        return self.indexer

    def close(self) -> None:
        if self.indexer is not None:
            self.indexer.stop()
        self._thread.shutdown(wait=True)
        self._retriever.close()

    async def retrieve(self, query: str, *, question: bool) -> Retrieved:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._thread, rag_retriever.retrieve, self._retriever, query, self._k)
        text = (await rag_answer.answer(query, result.hits, llm=self._writer)).text if question and result.hits else ""
        return _retrieved(result, answer=text)

    async def retrieve_many(self, queries: Sequence[str]) -> list[Retrieved]:
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(
            self._thread, rag_retriever.retrieve_many, self._retriever, list(queries), self._k
        )
        return [_retrieved(result) for result in results]


def _retrieved(result: rag_retriever.RetrievalResult, *, answer: str = "") -> Retrieved:
    if not result.hits:
        irrelevant = result.error_message in (None, rag_retriever.NO_RELEVANT_CONTEXT)
        return Retrieved(error=None if irrelevant else result.error_message)
    return Retrieved(
        sources=tuple(hit.to_status() for hit in result.hits),
        block=rag_retriever.context_block(result.hits),
        answer=answer,
    )


def ollama_writer(*, host: str, model: str, timeout: float = 60.0) -> rag_answer.Llm:
    """An answer writer over Ollama's chat API (temperature 0)."""
    client = ollama.AsyncClient(host=host, timeout=timeout)

    async def write(prompt: str) -> str:
        response = await client.chat(
            model=model, messages=[{"role": "user", "content": prompt}], options={"temperature": 0}
        )
        return str(response.message.content or "")

    return write


def open_source(settings: Settings, *, writer: rag_answer.Llm | None = None) -> RagContext:
    """The operator's context source; answers are written by ``writer`` (the external provider's), else Ollama's."""
    if writer is None and settings.ollama_host:
        writer = ollama_writer(host=settings.ollama_host, model=settings.chat_model)
    return RagContext(rag_retriever.Retriever.open(path=settings.qdrant_path, url=settings.qdrant_url), writer=writer)
