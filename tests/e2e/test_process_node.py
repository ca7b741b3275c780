"""The local cluster's process node really runs the pods bound to it (hack/process_node.py).

kwok's nodes make a Job "succeed" without running anything; executor Jobs go to the process node
(its nodeSelector and a toleration for its taint) and run as local processes with their ConfigMap
volumes, a bound service-account token, their runAsUser and a termination message. These tests
read what a user would see: the Job's conditions and the pod's ``state.terminated``.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.cluster import ROOT, Kubectl, wait_for

NODE = "process-node"
LABEL = "opsgate.dev/process-node"
ON_THE_PROCESS_NODE = {
    "nodeSelector": {LABEL: "true"},
    "tolerations": [{"key": LABEL, "operator": "Exists", "effect": "NoSchedule"}],
}
SLEEP = "import time; time.sleep(600)"  # its argv also carries a unique marker, for pgrep
HOST_SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")

# Runs as the pod: reads its ConfigMap, calls the API server with its own token, reports through
# the termination message.
IN_CLUSTER = """
import json, os, ssl, subprocess, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(f"{sa}/token").read()
namespace = open(f"{sa}/namespace").read()
api = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
request = urllib.request.Request(
    f"{api}/api/v1/namespaces/{namespace}/pods/{os.environ['POD_NAME']}",
    headers={"Authorization": f"Bearer {token}"},
)
ctx = ssl.create_default_context(cafile=f"{sa}/ca.crt")
with urllib.request.urlopen(request, context=ctx) as answer:
    me = json.load(answer)
report = {
    "greeting": open("/etc/e2e/greeting/hello.txt").read(),
    "uid": me["metadata"]["uid"],
    "node": me["spec"]["nodeName"],
    "id": subprocess.run(["id", "-u"], capture_output=True, text=True, check=True).stdout.strip(),
}
open("/tmp/scratch", "w").write("the emptyDir is writable")
with open("/dev/termination-log", "w") as message:
    json.dump(report, message)
"""


@pytest.fixture(scope="module")
def k(kubectl: Kubectl) -> Kubectl:
    nodes = kubectl.get_json("nodes", "-l", f"{LABEL}=true")["items"]
    if not nodes:
        pytest.skip("this cluster has no process node (hack/local-cluster.sh starts one unless OPSGATE_PROCESS_NODE=0)")
    return kubectl


def job(name: str, namespace: str, code: str, *extra_args: str, **spec: Any) -> dict[str, Any]:
    """A Job whose one container runs ``python -c code`` on the process node (backoffLimit 0)."""
    deadline = spec.pop("activeDeadlineSeconds", None)
    container = {
        "name": "main",
        "image": "unused",
        "command": ["python", "-c", code, *extra_args],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        **spec.pop("container", {}),
    }
    template = {"restartPolicy": "Never", "containers": [container], **ON_THE_PROCESS_NODE, **spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "backoffLimit": 0,
            **({"activeDeadlineSeconds": deadline} if deadline else {}),
            "template": {"spec": template},
        },
    }


def finished(k: Kubectl, namespace: str, name: str, *, timeout: float = 90) -> str:
    """The Job's terminal condition type (Complete or Failed) and its reason."""

    def condition() -> str:
        for c in k.get_json("job", name, "-n", namespace).get("status", {}).get("conditions", []):
            if c["type"] in ("Complete", "Failed") and c["status"] == "True":
                return f"{c['type']}/{c.get('reason', '')}"
        return ""

    result: str = wait_for(condition, timeout=timeout, what=f"job {name} finished")
    return result


def job_pod(k: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    pods = k.get_json("pods", "-n", namespace, "-l", f"job-name={name}")["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    pod: dict[str, Any] = pods[0]
    return pod


def terminated(pod: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return state


def running(marker: str) -> list[str]:
    """Processes whose command line holds ``marker`` (the process node runs pods on this host)."""
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    return found.stdout.split()


def marker() -> str:
    return f"process-node-e2e-{uuid.uuid4().hex[:12]}"


def test_the_cluster_has_a_ready_tainted_process_node_that_kwok_does_not_manage(k: Kubectl) -> None:
    node = k.get_json("node", NODE)
    assert node["metadata"]["labels"][LABEL] == "true"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == NODE
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    assert {"key": LABEL, "value": "true", "effect": "NoSchedule"} in node["spec"]["taints"]
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert node["status"]["allocatable"].keys() >= {"cpu", "memory", "pods"}
    lease = k.get_json("lease", NODE, "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == NODE


def test_a_job_reads_its_configmap_and_calls_the_api_with_its_own_bound_token(k: Kubectl, namespace: str) -> None:
    k("create", "configmap", "greeting", "-n", namespace, "--from-literal=hello.txt=hello from a ConfigMap")
    k("create", "role", "read-pods", "-n", namespace, "--verb=get", "--resource=pods")
    k(
        "create",
        "rolebinding",
        "read-pods",
        "-n",
        namespace,
        "--role=read-pods",
        f"--serviceaccount={namespace}:default",
    )
    manifest = job(
        "in-cluster",
        namespace,
        IN_CLUSTER,
        automountServiceAccountToken=True,
        securityContext={"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532},
        container={
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
            "terminationMessagePath": "/dev/termination-log",
            "volumeMounts": [
                {"name": "greeting", "mountPath": "/etc/e2e/greeting", "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},  # an emptyDir: the only writable path
            ],
        },
        volumes=[
            {"name": "greeting", "configMap": {"name": "greeting", "defaultMode": 0o444}},
            {"name": "tmp", "emptyDir": {}},
        ],
    )
    k.create(manifest)

    assert finished(k, namespace, "in-cluster") == "Complete/CompletionsReached"
    pod = job_pod(k, namespace, "in-cluster")
    state = terminated(pod)
    assert (state["exitCode"], state["reason"]) == (0, "Completed")
    assert state["startedAt"] <= state["finishedAt"]
    report = json.loads(state["message"])
    assert report == {
        "greeting": "hello from a ConfigMap",
        "uid": pod["metadata"]["uid"],  # the API answered the pod about itself, with its own token
        "node": NODE,
        "id": "65532",
    }
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["podIP"] == "127.0.0.1"
    # The token lived in the pod's private mount namespace only.
    assert not HOST_SA_TOKEN.exists()


def test_a_failing_container_fails_its_job_with_its_exit_code_and_log_tail(k: Kubectl, namespace: str) -> None:
    code = "import sys; print('the playbook failed: no such host', file=sys.stderr); sys.exit(3)"
    k.create(job("exit-3", namespace, code, automountServiceAccountToken=False))

    assert finished(k, namespace, "exit-3") == "Failed/BackoffLimitExceeded"
    pod = job_pod(k, namespace, "exit-3")
    state = terminated(pod)
    assert (pod["status"]["phase"], state["exitCode"], state["reason"]) == ("Failed", 3, "Error")
    assert "the playbook failed: no such host" in state["message"]  # FallbackToLogsOnError


def test_a_job_over_its_deadline_is_killed_and_fails_with_deadline_exceeded(k: Kubectl, namespace: str) -> None:
    tag = marker()
    manifest = job("too-slow", namespace, SLEEP, tag, activeDeadlineSeconds=3)
    k.create(manifest)

    assert finished(k, namespace, "too-slow") == "Failed/DeadlineExceeded"
    wait_for(lambda: not running(tag), timeout=30, what="the slow process to be killed")


def bare_pod(name: str, namespace: str, *command: str, **spec: Any) -> dict[str, Any]:
    """A Pod (no Job) on the process node running ``command``, without a service-account token."""
    container = {"name": "main", "image": "unused", "command": list(command)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [container],
            **ON_THE_PROCESS_NODE,
            **spec,
        },
    }


def test_a_pod_deleted_while_running_has_its_process_ended_and_goes_away(k: Kubectl, namespace: str) -> None:
    tag = marker()
    k.create(bare_pod("deleted", namespace, "python", "-c", SLEEP, tag))
    wait_for(lambda: running(tag), timeout=60, what="the pod's process to start")
    phase = k.get_json("pod", "deleted", "-n", namespace)["status"]["phase"]
    assert phase == "Running"

    k("delete", "pod", "deleted", "-n", namespace, "--grace-period=10", "--wait=false")

    wait_for(lambda: not running(tag), timeout=30, what="the process to end")
    wait_for(
        lambda: k("get", "pod", "deleted", "-n", namespace, check=False).returncode != 0,
        timeout=60,
        what="the pod object deleted",
    )


def test_a_pod_over_its_own_active_deadline_fails_with_deadline_exceeded(k: Kubectl, namespace: str) -> None:
    tag = marker()
    # activeDeadlineSeconds on the pod itself (not a Job's): the node enforces it, as kubelet does.
    k.create(bare_pod("pod-deadline", namespace, "python", "-c", SLEEP, tag, activeDeadlineSeconds=2))

    def failed() -> dict[str, Any]:
        status: dict[str, Any] = k.get_json("pod", "pod-deadline", "-n", namespace)["status"]
        return status if status.get("phase") == "Failed" else {}

    status = wait_for(failed, timeout=60, what="the pod Failed")
    assert status["reason"] == "DeadlineExceeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "DeadlineExceeded"
    assert not running(tag)


def test_init_containers_run_first_and_share_the_pods_empty_dir(k: Kubectl, namespace: str) -> None:
    write = "open('/scratch/step', 'w').write('written by init')"
    read = "open('/dev/termination-log', 'w').write(open('/scratch/step').read() + ', read by main')"
    mount = [{"name": "work", "mountPath": "/scratch"}]  # not /work: that would hide the venv
    init = {"name": "init", "image": "unused", "command": ["python", "-c", write], "volumeMounts": mount}
    manifest = job(
        "with-init",
        namespace,
        read,
        automountServiceAccountToken=False,
        initContainers=[init],
        container={"volumeMounts": mount},
        volumes=[{"name": "work", "emptyDir": {}}],
    )
    k.create(manifest)

    assert finished(k, namespace, "with-init") == "Complete/CompletionsReached"
    pod = job_pod(k, namespace, "with-init")
    assert terminated(pod)["message"] == "written by init, read by main"
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_ordinary_pods_never_land_on_the_process_node(k: Kubectl, namespace: str) -> None:
    plain = {"restartPolicy": "Never", "containers": [{"name": "main", "image": "unused", "command": ["true"]}]}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": namespace}}
    k.create(pod | {"metadata": {**pod["metadata"], "name": "ordinary"}, "spec": plain})
    # Even asking for the node without tolerating its taint is not enough.
    selector_only = {**plain, "nodeSelector": {LABEL: "true"}}
    k.create(pod | {"metadata": {**pod["metadata"], "name": "no-toleration"}, "spec": selector_only})

    node = wait_for(
        lambda: k.get_json("pod", "ordinary", "-n", namespace)["spec"].get("nodeName"),
        timeout=60,
        what="the ordinary pod scheduled",
    )
    assert node != NODE

    def unschedulable() -> bool:
        conditions = k.get_json("pod", "no-toleration", "-n", namespace)["status"].get("conditions", [])
        return any(c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions)

    wait_for(unschedulable, timeout=60, what="the pod without the toleration reported Unschedulable")
    time.sleep(1)
    assert not k.get_json("pod", "no-toleration", "-n", namespace)["spec"].get("nodeName")


def test_after_a_crash_the_node_agent_fails_the_pods_it_was_running_and_leaves_finished_ones(
    k: Kubectl, namespace: str
) -> None:
    state_dir = k.cluster.env.get("OPSGATE_CLUSTER_DIR")
    if not state_dir:
        pytest.skip("needs the cluster started by hack/local-cluster.sh")
    k.create(bare_pod("finished", namespace, "true"))
    wait_for(
        lambda: k.get_json("pod", "finished", "-n", namespace)["status"].get("phase") == "Succeeded",
        timeout=60,
        what="the first pod Succeeded",
    )
    tag = marker()
    k.create(bare_pod("interrupted", namespace, "python", "-c", SLEEP, tag))
    wait_for(lambda: running(tag), timeout=60, what="the second pod's process to start")

    restart = [str(ROOT / "hack" / "local-cluster.sh"), "restart-process-node", state_dir]
    subprocess.run(restart, check=True, capture_output=True, timeout=60)

    def failed() -> dict[str, Any]:
        status: dict[str, Any] = k.get_json("pod", "interrupted", "-n", namespace)["status"]
        return status if status.get("phase") == "Failed" else {}

    status = wait_for(failed, timeout=60, what="the interrupted pod Failed")
    assert status["reason"] == "NodeAgentRestarted"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "NodeAgentRestarted"
    wait_for(lambda: not running(tag), timeout=30, what="the orphaned process killed")
    finished_pod = k.get_json("pod", "finished", "-n", namespace)
    assert finished_pod["status"]["phase"] == "Succeeded"
    assert terminated(finished_pod)["reason"] == "Completed"
    # The restarted agent runs new pods.
    k.create(job("after-restart", namespace, "print('still here')", automountServiceAccountToken=False))
    assert finished(k, namespace, "after-restart") == "Complete/CompletionsReached"
