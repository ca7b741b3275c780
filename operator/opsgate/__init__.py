"""OpsGate: plain-language operations requests, parsed, policy-checked, approved and executed.

The package is layered (enforced by import-linter: the ``[tool.importlinter]`` contracts in
``pyproject.toml``, run with ``lint-imports``):

* pure decision modules (``intent``, ``catalog``, ``parsing``, ``plan``, ``policy``, ``rag``,
  ``controller``) take data and return data; they never import kopf or a Kubernetes client;
* ``kube`` holds every Kubernetes API call, ``adapters`` every other network client (the Ollama
  parser behind ``parsing.LlmParser``); the pure modules import neither;
* ``handlers`` is the thin kopf layer wiring the two together;
* ``cli`` is the user-facing entry point.
"""

__version__ = "0.1.0"
