"""Retrieved context for planning: the RAG retriever behind planning's ``ContextSource``.

Retrieval runs in a worker thread (embedding and ranking are blocking), never raises, and turns
"nothing relevant" into an empty result rather than an error; a missing index or a failing
store becomes a message for the ``ContextRetrieved`` condition.
"""

from __future__ import annotations

import asyncio

from opsgate.controller.planning import Retrieved
from opsgate.rag import answer as rag_answer
from opsgate.rag import retriever as rag_retriever
from opsgate.settings import Settings

TOP_K = 5


class RagContext:
    """A :class:`opsgate.controller.planning.ContextSource` over an OpsGate RAG index."""

    def __init__(self, retriever: rag_retriever.Retriever, *, k: int = TOP_K) -> None:
        self._retriever = retriever
        self._k = k

    async def retrieve(self, query: str, *, question: bool) -> Retrieved:
        result = await asyncio.to_thread(rag_retriever.retrieve, self._retriever, query, self._k)
        if not result.hits:
            irrelevant = result.error_message in (None, rag_retriever.NO_RELEVANT_CONTEXT)
            return Retrieved(error=None if irrelevant else result.error_message)
        text = (await rag_answer.answer(query, result.hits)).text if question else ""
        return Retrieved(
            sources=tuple(hit.to_status() for hit in result.hits),
            block=rag_retriever.context_block(result.hits),
            answer=text,
        )


def open_source(settings: Settings) -> RagContext:
    return RagContext(rag_retriever.Retriever.open(path=settings.qdrant_path, url=settings.qdrant_url))
