"""The Ollama API test server answers the real ``ollama`` client with Ollama's own shapes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest
from tests.fakes.ollama_server import FakeOllama


@pytest.fixture
def client() -> Iterator[ollama.Client]:
    with FakeOllama() as fake, ollama.Client(host=fake.url) as c:
        yield c


def test_chat_streams_ndjson_chunks_ending_with_done_and_timings(client: ollama.Client) -> None:
    chunks = list(client.chat(model="llama3.1:8b", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert [c.done for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert (chunks[-1].done_reason, chunks[-1].eval_count > 0) == ("stop", True)
    assert "".join(c.message.content or "" for c in chunks).startswith('{"key"')


def test_generate_embed_tags_show_and_pull_have_ollamas_shapes(client: ollama.Client) -> None:
    assert client.generate(model="llama3.1:8b", prompt="x").done is True
    assert len(client.embed(model="nomic-embed-text:latest", input=["a", "b"]).embeddings) == 2
    assert [m.model for m in client.list().models] == ["llama3.1:8b", "nomic-embed-text:latest"]
    assert client.show("llama3.1:8b").details.format == "gguf"
    assert [p.status for p in client.pull("llama3.1:8b", stream=True)][-1] == "success"


@pytest.mark.parametrize(
    ("call", "status", "message"),
    [
        (lambda c: c.chat(model="missing", messages=[]), 404, "model 'missing' not found"),
        (lambda c: c.show("missing"), 404, "model 'missing' not found"),
        (lambda c: c.embed(model="missing", input=["a"]), 404, 'model "missing" not found, try pulling it first'),
        (lambda c: c.pull("missing"), 500, "pull model manifest: file does not exist"),
    ],
    ids=["chat-unknown-model", "show-unknown-model", "embed-unknown-model", "pull-unknown-model"],
)
def test_errors_come_back_as_an_error_object_with_a_real_status(call, status, message, client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ollama.ResponseError) as caught:
        call(client)
    assert (caught.value.status_code, caught.value.error) == (status, message)


def test_a_malformed_body_is_a_400_with_an_error_object() -> None:
    with FakeOllama() as fake:
        response = httpx.post(f"{fake.url}/api/chat", content=b"{not json")
    assert response.status_code == 400
    assert "error" in response.json()
