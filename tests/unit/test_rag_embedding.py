"""Embedders: the offline MiniLM, the Ollama client against an Ollama-API server on loopback, and
which one a process picks from its environment."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from opsgate.rag import embedding, lexical
from opsgate.rag.embedding import Embedder, collection_name
from opsgate.rag.hashed import HashedEmbedder
from opsgate.rag.minilm import MiniLMEmbedder
from opsgate.rag.ollama_embed import EmbeddingError, OllamaEmbedder


class OllamaApi(BaseHTTPRequestHandler):
    """``POST /api/embed`` as Ollama answers it: one vector per input, in order."""

    requests: ClassVar[list[dict[str, Any]]] = []
    drop_one: ClassVar[bool] = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        OllamaApi.requests.append(body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[float(len(text)), 1.0, 0.0] for text in texts]
        if OllamaApi.drop_one:
            vectors = vectors[1:]
        payload = json.dumps({"model": body["model"], "embeddings": vectors}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def ollama_host() -> Iterator[str]:
    OllamaApi.requests = []
    OllamaApi.drop_one = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), OllamaApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_minilm_embeds_offline_into_unit_vectors_that_put_paraphrases_close() -> None:
    embedder = MiniLMEmbedder()
    rotate, rotate_again, unrelated = embedder.embed(
        ["how do I rotate vault secrets", "rotating a service's secret in Vault", "banana bread with walnuts"]
    )
    assert embedder.dim == len(rotate) == 384
    assert math.isclose(sum(value * value for value in rotate), 1.0, rel_tol=1e-4)
    assert _cosine(rotate, rotate_again) > 0.6
    assert _cosine(rotate, unrelated) < 0.2


def test_minilm_returns_vectors_in_input_order_whatever_the_batching() -> None:
    embedder = MiniLMEmbedder()
    topics = ["rotate the vault secret", "scale the checkout deployment", "create a dns record", "open a firewall port"]
    texts = [f"{topics[n % 4]} in region {n} " * (n % 5 + 1) for n in range(20)]
    together = embedder.embed(texts)
    alone = [embedder.embed([text])[0] for text in texts[:4]]
    for position, single in enumerate(alone):
        # int8 activations are scaled per batch, so a batched vector is close to, not equal to, a lone one
        closest = max(range(len(together)), key=lambda n: _cosine(together[n], single))
        assert closest == position
        assert _cosine(together[position], single) > 0.98


def test_ollama_embeds_in_batches_and_learns_the_dimension(ollama_host: str) -> None:
    embedder = OllamaEmbedder(model="nomic-embed-text", host=ollama_host)
    texts = [f"text {'x' * n}" for n in range(70)]
    vectors = embedder.embed(texts)
    assert [vector[0] for vector in vectors] == [float(len(text)) for text in texts]
    assert [len(request["input"]) for request in OllamaApi.requests] == [32, 32, 6]
    assert {request["model"] for request in OllamaApi.requests} == {"nomic-embed-text"}
    assert embedder.dim == 3
    assert embedder.name == "ollama-nomic-embed-text"


def test_ollama_returning_too_few_vectors_is_an_error(ollama_host: str) -> None:
    OllamaApi.drop_one = True
    with pytest.raises(EmbeddingError, match="returned 1 vectors for 2 texts"):
        OllamaEmbedder(host=ollama_host).embed(["a", "b"])


def test_the_process_embeds_offline_unless_an_ollama_model_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(embedding.ENV_EMBED_MODEL, raising=False)
    assert isinstance(embedding.default_embedder(), MiniLMEmbedder)
    monkeypatch.setenv(embedding.ENV_EMBED_MODEL, "nomic-embed-text")
    monkeypatch.setenv(embedding.ENV_OLLAMA_HOST, "http://127.0.0.1:11434")
    chosen = embedding.default_embedder()
    assert isinstance(chosen, OllamaEmbedder)
    assert chosen.name == "ollama-nomic-embed-text"


@pytest.mark.parametrize(
    ("embedder", "expected"),
    [
        (HashedEmbedder(dim=64), "opsgate-hashed-features-64"),
        (MiniLMEmbedder(), "opsgate-all-minilm-l6-v2-dynint8-384"),
    ],
    ids=["hashed", "minilm"],
)
def test_each_embedder_has_its_own_collection(embedder: Embedder, expected: str) -> None:
    assert collection_name(embedder) == expected


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("rotating secrets", "rotate secret"),
        ("scaling deployments", "scale deployment"),
        ("policies", "policy"),
    ],
    ids=["rotate", "scale", "policy"],
)
def test_word_forms_share_one_sparse_term(left: str, right: str) -> None:
    assert lexical.query_vector(left).indices == lexical.query_vector(right).indices


def test_stop_words_and_word_order_do_not_change_a_query() -> None:
    assert lexical.query_vector("the vault and the secret") == lexical.query_vector("secret vault")


def test_bm25_weights_saturate_with_repetition() -> None:
    once = lexical.document_vector("vault")
    many = lexical.document_vector("vault " * 50)
    assert many.values[0] > once.values[0]
    assert many.values[0] < lexical.CONFIG["k"] + 1


def _cosine(left: list[float], right: list[float]) -> float:
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    return dot / math.sqrt(sum(a * a for a in left) * sum(b * b for b in right))
