"""Reading requests written as kubectl commands ("kubectl scale deploy/cart --replicas=5 -n shop").

Platform engineers often type a request the way they would type the command. Rather than give
the rule parser a second grammar, the command's ``kind/name`` arguments and flags are rewritten
into the words it already reads ("deployment cart", "5 replicas", "-n shop", "since 15m"). Only
the spellings kubectl itself accepts are rewritten; anything else is left as written. Pure.
"""

from __future__ import annotations

import re

# kubectl's short and long resource names -> the noun the parser knows
_KINDS = {
    "deploy": "deployment",
    "deployment": "deployment",
    "deployments": "deployment",
    "svc": "service",
    "service": "service",
    "services": "service",
    "ns": "namespace",
    "namespace": "namespace",
    "namespaces": "namespace",
    "sa": "serviceaccount",
    "serviceaccount": "serviceaccount",
    "serviceaccounts": "serviceaccount",
    "secret": "secret",
    "secrets": "secret",
    "po": "pod",
    "pod": "pod",
    "pods": "pod",
}

_KIND_SLASH_NAME = re.compile(r"(?<![\w./:-])(" + "|".join(_KINDS) + r")/([a-z0-9][-a-z0-9.]*)(?![\w/:])", re.I)
_FLAG_VALUE = r"(?:=|\s+)([A-Za-z0-9][-A-Za-z0-9]*)"
_REPLICAS = re.compile(r"--replicas" + _FLAG_VALUE)
_NAMESPACE = re.compile(r"(?:--namespace|-n(?==))" + _FLAG_VALUE)
_SINCE = re.compile(r"--since" + _FLAG_VALUE)
# The cloud CLIs' cluster commands: "gcloud container clusters delete edge", "az aks create -n edge",
# "eksctl delete cluster --name edge", "doctl kubernetes cluster create edge"
_CLOUD_CLUSTER = re.compile(
    r"(?:\b(?:gcloud\s+(?:beta\s+)?container\s+clusters|az\s+aks|doctl\s+(?:kubernetes|k8s)\s+clusters?)\s+"
    r"(create|delete)|\beksctl\s+(create|delete)\s+cluster)\b(?:\s+(?:--name(?:=|\s+)|-n\s+))?",
    re.I,
)
# "delete ns --all": every object of the kind, which is several targets
_KIND_ALL = re.compile(r"\b(" + "|".join(_KINDS) + r")\s+--all\b", re.I)
_KUBECTL = re.compile(r"\bkubectl\b\s*", re.I)
_KUBECTL_LOGS = re.compile(r"\bkubectl\s+logs\b(?:\s+-f\b)?", re.I)  # "kubectl logs NAME": NAME's logs


def rewrite(text: str) -> str:
    """``text`` with kubectl arguments and flags spelt as words (unchanged when it has none)."""
    text = _CLOUD_CLUSTER.sub(_cloud_cluster, text)
    text = _KIND_ALL.sub(lambda m: f"all {_KINDS[m.group(1).lower()]}s", text)
    text = _KIND_SLASH_NAME.sub(lambda m: f"{_KINDS[m.group(1).lower()]} {m.group(2)}", text)
    text = _REPLICAS.sub(r"\1 replicas", text)
    text = _NAMESPACE.sub(r"-n \1", text)
    text = _SINCE.sub(r"since \1", text)
    text = _KUBECTL_LOGS.sub("logs of", text)
    # the tool's name is not the name of anything the request acts on
    return _KUBECTL.sub("", text).strip()


def _cloud_cluster(match: re.Match[str]) -> str:
    """ "gcloud container clusters delete edge" -> "delete cluster edge"; the name flag is the name."""
    return f"{(match.group(1) or match.group(2)).lower()} cluster "
