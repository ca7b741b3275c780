"""Operator settings come from the environment names DESIGN.md fixes."""

from __future__ import annotations

import datetime

from opsgate.settings import Settings


def test_defaults_are_the_offline_embedded_ones() -> None:
    settings = Settings.from_env({})
    assert settings.ollama_host is None  # the rule parser
    assert settings.qdrant_url is None  # embedded Qdrant
    assert settings.namespaces == ()  # cluster-wide
    assert settings.approval_ttl == datetime.timedelta(hours=24)
    assert settings.peering is None
    assert settings.instance is None  # Events then name the host


def test_the_environment_configures_every_component() -> None:
    settings = Settings.from_env(
        {
            "KUBECONFIG": "/k",
            "OLLAMA_HOST": "http://ollama:11434",
            "OPSGATE_CHAT_MODEL": "qwen2.5:7b",
            "OPSGATE_LLM_TIMEOUT_SECONDS": "45",
            "QDRANT_URL": "http://qdrant:6333",
            "OPSGATE_NAMESPACES": "team-a,team-b",
            "OPSGATE_APPROVAL_TTL_SECONDS": "3600",
            "OPSGATE_PEERING": "opsgate",
            "POD_ID": "opsgate-7d9f-abcde",
        }
    )
    assert settings.kubeconfig == "/k"
    assert settings.ollama_host == "http://ollama:11434"
    assert settings.chat_model == "qwen2.5:7b"
    assert settings.llm_timeout_seconds == 45.0
    assert settings.qdrant_url == "http://qdrant:6333"
    assert settings.namespaces == ("team-a", "team-b")
    assert settings.approval_ttl == datetime.timedelta(hours=1)
    assert settings.peering == "opsgate"
    assert settings.instance == "opsgate-7d9f-abcde"


def test_the_semantic_matcher_is_off_unless_the_environment_turns_it_on() -> None:
    assert Settings.from_env({}).semantic_matcher is False
    assert Settings.from_env({"OPSGATE_SEMANTIC_MATCHER": "true"}).semantic_matcher is True
    assert Settings.from_env({"OPSGATE_SEMANTIC_MATCHER": "0"}).semantic_matcher is False
