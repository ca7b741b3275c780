"""Fixtures shared by the unit and e2e tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests import real_ollama, required
from tests.real_postgres import database_url, postgres_server  # noqa: F401 - fixtures for every tier


@pytest.fixture(scope="session")
def ollama_server() -> Iterator[real_ollama.RealOllama]:
    """A real ``ollama serve`` with SmolLM2-135M registered, once per session (tests/real_ollama.py)."""
    binary = real_ollama.binary()
    if binary is None:
        required.unavailable("the ollama binary (OPSGATE_OLLAMA)", hint=real_ollama.SETUP_HINT)
    model = real_ollama.gguf()
    if model is None:
        required.unavailable(
            f"the SmolLM2 model ({real_ollama.GGUF_NAME}, OPSGATE_SMOLLM2_GGUF)", hint=real_ollama.SETUP_HINT
        )
    with real_ollama.serve(binary, model) as server:
        yield server
