"""Retrieval-augmented context: the runbooks, playbooks, modules and policies behind a request.

Sources are cut into structure-aware chunks (``chunking``), embedded (``embedding``) and given a
lexical sparse vector (``sparse``), stored in one Qdrant collection (``store``) by the
``indexer``, and searched by the ``retriever`` that the controller and the CLI use. ``answer``
turns hits into an informational answer. Everything here is pure of kopf and Kubernetes.
"""
