"""The Helm chart, rendered with the real ``helm`` (no cluster): lint, variants, guards, drift.

The chart is the single source of what gets installed, so its copies of ``crds/`` and
``policies/`` and the ``deploy/`` rendering must match the repository (``hack/sync-chart.sh``
refreshes them). tests/e2e/test_chart.py installs it on a real cluster.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "opsgate"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.34.2"  # the local control plane's (hack/build-k8s.sh)
SYNC = "run hack/sync-chart.sh"


@cache
def helm() -> str:
    """``OPSGATE_HELM``, else the helm hack/build-k8s.sh builds and caches with the control plane."""
    configured = os.environ.get("OPSGATE_HELM")
    if configured:
        return configured
    built = subprocess.run([str(ROOT / "hack" / "build-k8s.sh")], capture_output=True, text=True, check=True)
    return str(Path(built.stdout.strip().splitlines()[-1]) / "helm")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm(), *args], capture_output=True, text=True, timeout=120, check=False)


def render(*args: str, namespace: str = "opsgate-system") -> list[dict[str, Any]]:
    result = run("template", "opsgate", str(CHART), "--namespace", namespace, "--kube-version", KUBE_VERSION, *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def operator_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = find(objects, "StatefulSet", "opsgate-operator")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# --- lint and every variant ---------------------------------------------------------------------


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_helm_lint_passes_strictly_with_each_ci_values_file(values: Path) -> None:
    result = run("lint", str(CHART), "--strict", "--namespace", "opsgate-system", "-f", str(values))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_each_ci_values_file_renders_an_operator_with_a_restricted_security_context(values: Path) -> None:
    objects = render("-f", str(values))
    assert all(o["metadata"].get("name") for o in objects)
    pod = find(objects, "StatefulSet", "opsgate-operator")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = operator_container(objects)["securityContext"]
    assert context == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_the_default_install_renders_these_objects() -> None:
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in render())
    assert len(kinds) == 30, kinds  # with the feedback admission policy and its binding
    assert "StatefulSet/opsgate-operator" in kinds
    assert "DaemonSet/ollama" in kinds
    assert "PodDisruptionBudget/opsgate-operator" in kinds
    assert "NetworkPolicy/ollama" in kinds


# --- replicas that fail over --------------------------------------------------------------------


def test_each_replica_takes_its_peering_priority_from_its_statefulset_ordinal() -> None:
    objects = render()
    assert find(objects, "StatefulSet", "opsgate-operator")["spec"]["replicas"] == 2
    container = operator_container(objects)
    assert "--priority=$(OPSGATE_REPLICA_INDEX)" in container["args"]
    assert "--peering=opsgate" in container["args"]
    index = env_of(container)["OPSGATE_REPLICA_INDEX"]
    assert index == {"fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}
    assert env_of(container)["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_probes_check_healthz_unless_ports_are_offset_per_replica() -> None:
    probed = operator_container(render())
    assert probed["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    offset = operator_container(render("--set", "operator.ports.offsetByReplicaIndex=true"))
    assert "livenessProbe" not in offset
    assert "startupProbe" not in offset
    assert "--port-offset=$(OPSGATE_REPLICA_INDEX)" in offset["args"]


# --- policies -----------------------------------------------------------------------------------


def test_a_changed_policy_changes_the_pod_template_so_an_upgrade_rolls_the_operator() -> None:
    def checksum(*args: str) -> str:
        statefulset = find(render(*args), "StatefulSet", "opsgate-operator")
        return str(statefulset["spec"]["template"]["metadata"]["annotations"]["checksum/policies"])

    assert checksum() == checksum()
    assert checksum("--set-string", "policies.files.extra\\.yaml=version: 1") != checksum()


def test_the_policies_configmap_holds_the_repository_policies_and_values_replace_files() -> None:
    shipped = {p.name: p.read_text() for p in (ROOT / "policies").glob("*.yaml")}
    assert find(render(), "ConfigMap", "opsgate-policies")["data"] == shipped
    replaced = find(render("--set-string", "policies.files.config\\.yaml=version: 1"), "ConfigMap", "opsgate-policies")
    assert replaced["data"] == {**shipped, "config.yaml": "version: 1"}


def test_the_policies_are_mounted_over_the_operator_home() -> None:
    container = operator_container(render("--set", "operator.home=/srv/opsgate"))
    assert {"name": "policies", "mountPath": "/srv/opsgate/policies", "readOnly": True} in container["volumeMounts"]
    assert env_of(container)["OPSGATE_HOME"] == "/srv/opsgate"


# --- Ollama on private-llm nodes ------------------------------------------------------------------


def test_ollama_runs_only_on_private_llm_nodes_and_may_call_nothing_by_default() -> None:
    objects = render()
    pod = find(objects, "DaemonSet", "ollama")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node-role": "private-llm"}
    assert pod["tolerations"] == [
        {"key": "node-role", "operator": "Equal", "value": "private-llm", "effect": "NoSchedule"}
    ]
    policy = find(objects, "NetworkPolicy", "ollama")["spec"]
    assert policy["egress"] == []
    assert "Egress" in policy["policyTypes"]
    callers = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in policy["ingress"][0]["from"]
    ]
    assert callers == ["operator", "indexer", "ollama-pull"]


@pytest.mark.parametrize(
    ("component", "callers"),
    [("qdrant", ["operator", "indexer"]), ("postgresql", ["operator"])],
)
def test_only_the_operator_reaches_the_in_cluster_stores(component: str, callers: list[str]) -> None:
    objects = render("--set", "qdrant.mode=statefulset", "--set", "postgresql.mode=statefulset")
    policy = find(objects, "NetworkPolicy", f"opsgate-{component}")["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
    assert policy["policyTypes"] == ["Ingress"]
    assert len(policy["ingress"]) == 1
    allowed = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in policy["ingress"][0]["from"]
    ]
    assert allowed == callers


def test_no_network_policy_is_rendered_when_switched_off() -> None:
    objects = render("--set", "networkPolicy.enabled=false", "--set", "qdrant.mode=statefulset")
    assert [o for o in objects if o["kind"] == "NetworkPolicy"] == []


def test_gpus_are_requested_only_when_asked_for() -> None:
    def limits(*args: str) -> dict[str, Any]:
        container = find(render(*args), "DaemonSet", "ollama")["spec"]["template"]["spec"]["containers"][0]
        return dict(container["resources"]["limits"])

    assert "nvidia.com/gpu" not in limits()
    assert limits("--set", "ollama.gpu.enabled=true", "--set", "ollama.gpu.count=2")["nvidia.com/gpu"] == 2


# --- guards: clear errors for bad values ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "namespace", "message"),
    [
        (
            (),
            "default",
            'install OpsGate into the namespace opsgate-system (helm install -n opsgate-system), not "default"',
        ),
        (("--set", "operator.replica=3"), "opsgate-system", "additional properties 'replica' not allowed"),
        (
            ("--set", "qdrant.mode=server"),
            "opsgate-system",
            "value must be one of 'embedded', 'statefulset', 'external'",
        ),
        (("--set", "ollama.prePull.enabled=true"), "opsgate-system", "ollama.prePull.enabled needs ollama.allowEgress"),
        (("--set", "qdrant.mode=external"), "opsgate-system", "qdrant.url is required when qdrant.mode is external"),
        (("--set", "postgresql.mode=external"), "opsgate-system", "postgresql.existingSecret.name is required"),
    ],
    ids=[
        "other-namespace",
        "unknown-key",
        "bad-enum",
        "pull-without-egress",
        "qdrant-without-url",
        "db-without-secret",
    ],
)
def test_bad_values_fail_with_a_clear_message(args: tuple[str, ...], namespace: str, message: str) -> None:
    result = run("template", "opsgate", str(CHART), "--namespace", namespace, "--kube-version", KUBE_VERSION, *args)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_database_url_comes_from_a_secret_never_from_values() -> None:
    external = ("--set", "postgresql.mode=external", "--set", "postgresql.existingSecret.name=audit-db")
    url = env_of(operator_container(render(*external)))["OPSGATE_DATABASE_URL"]
    assert url == {"secretKeyRef": {"name": "audit-db", "key": "DATABASE_URL"}}


# --- values documented and typed ------------------------------------------------------------------


def _paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in tree.items():
        found.append((*prefix, key))
        if isinstance(value, dict) and value and key not in FREE_MAPS:
            found += _paths(value, (*prefix, key))
    return found


FREE_MAPS = {"nodeSelector", "resources", "podSecurityContext", "securityContext", "affinity", "env", "files"}


def test_the_schema_types_every_value_and_refuses_unknown_keys() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    for path in _paths(values):
        node = schema
        for key in path:
            assert key in node.get("properties", {}), f"values.schema.json lacks {'.'.join(path)}"
            node = node["properties"][key]
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"{'.'.join(path)} accepts unknown keys"
    assert schema["additionalProperties"] is False


def test_every_value_is_documented_by_a_comment() -> None:
    """Each key of values.yaml has a comment right above it, but a group's first key when the group has one."""
    undocumented = []
    parents: list[tuple[int, str]] = []  # (indent, key) of the enclosing keys
    above = ""
    for line in (CHART / "values.yaml").read_text().splitlines():
        key = re.match(r"^(\s*)([A-Za-z]\w*):", line)
        if key:
            indent = len(key.group(1))
            while parents and parents[-1][0] >= indent:
                parents.pop()
            inside_free_map = any(name in FREE_MAPS for _, name in parents)
            group_opened = bool(parents) and above.startswith(f"{parents[-1][1]}:")
            if not inside_free_map and not above.startswith("#") and not group_opened:
                undocumented.append(".".join([*(name for _, name in parents), key.group(2)]))
            parents.append((indent, key.group(2)))
        if line.strip():
            above = line.strip()
    assert undocumented == [], undocumented


# --- the chart is the single source: copies and deploy/ match -------------------------------------


@pytest.mark.parametrize(("source", "copy"), [("crds", "files/crds"), ("policies", "files/policies")])
def test_the_chart_copies_of_the_repository_files_are_identical(source: str, copy: str) -> None:
    original = {p.name: p.read_bytes() for p in (ROOT / source).glob("*.yaml")}
    copied = {p.name: p.read_bytes() for p in (CHART / copy).glob("*.yaml")}
    assert copied == original, f"charts/opsgate/{copy} differs from {source}/: {SYNC}"


def _without_chart_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    clean = json.loads(json.dumps(obj))
    metadata = clean["metadata"]
    for key in ("labels", "annotations"):
        kept = {k: v for k, v in (metadata.get(key) or {}).items() if not k.startswith(("app.kubernetes.io/", "helm."))}
        metadata.pop(key, None)
        if kept:
            metadata[key] = kept
    return clean


def test_the_chart_installs_exactly_the_api_of_crds() -> None:
    repository = [
        doc for path in sorted((ROOT / "crds").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
    ]
    names = {(o["kind"], o["metadata"]["name"]) for o in repository if o}
    chart = [o for o in render() if (o["kind"], o["metadata"]["name"]) in names]
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    expected = [_without_chart_metadata(o) for o in repository if o]
    assert sorted(map(_without_chart_metadata, chart), key=key) == sorted(expected, key=key), (
        "the chart renders crds/ differently"
    )
    kept = [o for o in chart if o["kind"] == "CustomResourceDefinition"]
    assert all(o["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for o in kept)
    assert not [o for o in render("--set", "crds.install=false") if (o["kind"], o["metadata"]["name"]) in names]


@pytest.mark.parametrize(
    ("deployed", "templates"),
    [
        ("operator-rbac.yaml", ("namespace.yaml", "operator-rbac.yaml")),
        ("executor-rbac.yaml", ("namespace.yaml", "executor-rbac.yaml")),
        ("peering.yaml", ("peering.yaml",)),
    ],
)
def test_deploy_is_rendered_from_the_chart(deployed: str, templates: tuple[str, ...]) -> None:
    shown = [f"--show-only=templates/{t}" for t in templates]
    rendered = render("--set", "namespace.create=true", *shown)
    deployed_objects = [d for d in yaml.safe_load_all((ROOT / "deploy" / deployed).read_text()) if d]
    assert deployed_objects == rendered, f"deploy/{deployed} is not the chart's rendering: {SYNC}"
