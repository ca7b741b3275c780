"""Retrieval-augmented context: the runbooks, playbooks, modules and policies behind a request.

Sources are cut into structure-aware chunks (``chunking``), embedded (``embedding``) and given a
lexical BM25 vector from the Qdrant engine (``lexical``), stored in one Qdrant collection
(``store``: embedded Qdrant Edge, or a Qdrant server) by the
``indexer``, and searched by the ``retriever`` that the controller and the CLI use. ``answer``
turns hits into an informational answer. Everything here is pure of kopf and Kubernetes.
"""
