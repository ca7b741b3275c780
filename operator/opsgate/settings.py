"""Operator settings, from the environment (DESIGN.md names) with flags overriding them.

One frozen object built at start-up and passed down. (The embedder is chosen by
``OPSGATE_EMBED_MODEL``/``OLLAMA_HOST`` in :mod:`opsgate.rag.embedding`, shared with
``opsgate index``.)
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from opsgate import __version__

# The image the plan's digest covers; the operator and `opsgate plan` must agree on it, or a plan
# made on a laptop would not match the one the cluster approves.
DEFAULT_EXECUTOR_IMAGE = f"ghcr.io/opsgate/opsgate:{__version__}"


@dataclass(frozen=True)
class Settings:
    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: cluster-wide
    ollama_host: str | None = None  # None: rule parser only (the offline default)
    chat_model: str = "llama3.1:8b"
    llm_timeout_seconds: float = 20.0  # past it the rule reading stands, with a note saying so
    # OPSGATE_LLM_PROVIDER: "ollama" (OLLAMA_HOST) or "openai" (any OpenAI-compatible endpoint at
    # OPENAI_BASE_URL, model OPENAI_MODEL; its API key read from OPENAI_API_KEY_FILE, a mounted
    # Secret, or OPENAI_API_KEY - never kept here, so never in a repr or a log line)
    llm_provider: str = "ollama"
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_api_key_file: str | None = None
    # the semantic matcher over the catalog's example requests (OPSGATE_SEMANTIC_MATCHER=true),
    # embedding with the process's embedder (opsgate.rag.embedding)
    semantic_matcher: bool = False
    qdrant_url: str | None = None
    qdrant_path: str | None = None
    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    executor_service_account: str = "opsgate-executor"
    executor_namespace: str = "opsgate-system"  # Jobs and plan ConfigMaps; requesters can't write there
    executor_node_selector: tuple[tuple[str, str], ...] = ()  # e.g. the local cluster's process node
    executor_tolerations: tuple[str, ...] = ()  # taint keys executor pods tolerate
    # Installation settings the executor Jobs get as environment (e.g. OPSGATE_MAIL_API_URL), and
    # the Vault they fetch secrets from (VAULT_ADDR); none of it is a secret.
    executor_env: tuple[tuple[str, str], ...] = ()
    vault_addr: str | None = None
    approval_ttl: datetime.timedelta = datetime.timedelta(hours=24)
    expiry_check_seconds: float = 30.0
    policy_check_seconds: float = 10.0  # how often policies/ is checked for changes (reloaded in place)
    metrics_port: int | None = 9090  # None: no metrics endpoint
    health_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    peering: str | None = None  # None: standalone (no peers); a name: kopf peering between replicas
    priority: int = 0
    instance: str | None = None  # this replica's name in the Events it posts; None: the host name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        namespaces = tuple(n for n in env.get("OPSGATE_NAMESPACES", "").split(",") if n)
        return replace(
            settings,
            kubeconfig=env.get("KUBECONFIG") or None,
            namespaces=namespaces,
            ollama_host=env.get("OLLAMA_HOST") or None,
            chat_model=env.get("OPSGATE_CHAT_MODEL", settings.chat_model),
            llm_timeout_seconds=float(env.get("OPSGATE_LLM_TIMEOUT_SECONDS", settings.llm_timeout_seconds)),
            llm_provider=(env.get("OPSGATE_LLM_PROVIDER") or settings.llm_provider).strip().lower(),
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_model=env.get("OPENAI_MODEL") or settings.openai_model,
            openai_api_key_file=env.get("OPENAI_API_KEY_FILE") or None,
            semantic_matcher=env.get("OPSGATE_SEMANTIC_MATCHER", "").strip().lower() in ("1", "true", "yes", "on"),
            qdrant_url=env.get("QDRANT_URL") or None,
            qdrant_path=env.get("QDRANT_PATH") or None,
            executor_image=env.get("OPSGATE_EXECUTOR_IMAGE", settings.executor_image),
            executor_service_account=env.get("OPSGATE_EXECUTOR_SERVICE_ACCOUNT", settings.executor_service_account),
            executor_namespace=env.get("OPSGATE_EXECUTOR_NAMESPACE") or settings.executor_namespace,
            executor_node_selector=_pairs(env.get("OPSGATE_EXECUTOR_NODE_SELECTOR", "")),
            executor_tolerations=tuple(t for t in env.get("OPSGATE_EXECUTOR_TOLERATION", "").split(",") if t),
            executor_env=_pairs(env.get("OPSGATE_EXECUTOR_ENV", "")),
            vault_addr=env.get("VAULT_ADDR") or None,
            policy_check_seconds=float(env.get("OPSGATE_POLICY_CHECK_SECONDS", settings.policy_check_seconds)),
            approval_ttl=datetime.timedelta(
                seconds=float(env.get("OPSGATE_APPROVAL_TTL_SECONDS", settings.approval_ttl.total_seconds()))
            ),
            expiry_check_seconds=float(env.get("OPSGATE_EXPIRY_CHECK_SECONDS", settings.expiry_check_seconds)),
            peering=env.get("OPSGATE_PEERING") or None,
            instance=env.get("POD_ID") or None,  # kopf's own peering identity reads POD_ID too
        )


def _pairs(raw: str) -> tuple[tuple[str, str], ...]:
    """``K=V,K2=V2`` from one environment variable, as pairs (a node selector, Job environment)."""
    return tuple((key, value) for key, _, value in (item.partition("=") for item in raw.split(",")) if key)
