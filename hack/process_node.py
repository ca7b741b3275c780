#!/usr/bin/env python3
"""A process node: a kubelet stand-in (and container runtime) for the local control plane.

kwok's fake nodes make a Job "succeed" without running anything. This agent registers a real
Node, keeps its Ready condition and its Lease in ``kube-node-lease`` fresh, and runs every pod the
scheduler binds to it as local processes, so an executor Job really executes on this machine.

    .venv/bin/python hack/process_node.py --kubeconfig K --state-dir DIR [--node-name process-node]

``hack/local-cluster.sh up`` starts it (``OPSGATE_PROCESS_NODE=0`` opts out) with the repo's
``.venv/bin`` first on its PATH, so a container command ``opsgate …`` or ``python …`` resolves to
the venv. The node is labelled ``opsgate.dev/process-node: "true"`` and tainted
``opsgate.dev/process-node=true:NoSchedule``: only pods with that nodeSelector *and* a toleration
land here, and kwok (which manages only nodes annotated ``kwok.x-k8s.io/node: fake``) leaves it alone.

What a pod gets (root is required: ``unshare``, bind mounts and ``setpriv``):

* its containers' ``command`` + ``args`` (``$(VAR)`` expanded), the executable resolved on the
  node's PATH, run in a private mount (and UTS) namespace made with
  ``unshare --mount --uts --propagation private``: each ``volumeMount`` is bind-mounted at its
  ``mountPath`` (``subPath`` and ``readOnly`` honoured; mount points are created on the host as
  needed, and a path that can't be created fails the container with a message instead of
  crashing the agent), the termination-message file at ``terminationMessagePath``, hostname =
  pod name. Nothing of it is visible to other processes.
* volumes materialised in a per-pod dir: ``configMap``, ``secret``, ``downwardAPI``, ``projected``
  (configMap, secret, downwardAPI and ``serviceAccountToken`` sources), ``emptyDir``, ``hostPath``;
  items, keys and file modes honoured, files chowned to the pod's user. Service-account tokens come
  from the TokenRequest API, bound to the pod (``boundObjectRef`` Pod name/uid, the API server's
  default audience unless the volume names one) and are refreshed at 80 % of their lifetime. The
  API server injects the ``kube-api-access-*`` volume when automounting is on; if a pod lacks it
  while ``automountServiceAccountToken`` (pod, else service account) isn't false, the agent
  provides ``token``, ``ca.crt`` and ``namespace`` at ``/var/run/secrets/kubernetes.io/serviceaccount``
  itself. In-cluster clients work unchanged: ``KUBERNETES_SERVICE_HOST=127.0.0.1`` and
  ``KUBERNETES_SERVICE_PORT=<the API server's port>`` (its serving cert has that SAN).
* env from ``env`` (``value``; ``valueFrom`` fieldRef metadata.name/namespace/uid/labels/
  annotations, spec.nodeName/serviceAccountName, status.podIP/hostIP; configMapKeyRef and
  secretKeyRef) and ``envFrom``; ``PATH`` is the node's, ``HOME=/``, ``HOSTNAME`` the pod name.
* ``runAsUser``/``runAsGroup``/``fsGroup``/``supplementalGroups`` through ``setpriv`` (and
  ``--no-new-privs`` when ``allowPrivilegeEscalation: false``); ``runAsNonRoot`` without a
  non-zero ``runAsUser`` is refused, as kubelet does when the image user is root.
* status through the status subresource: Pending (ContainerCreating) → Running (podIP 127.0.0.1,
  conditions) → Succeeded/Failed with ``state.terminated`` {exitCode, reason Completed | Error |
  DeadlineExceeded, message = ``terminationMessagePath`` (≤ 4096 bytes), or the log's tail with
  ``FallbackToLogsOnError`` on failure, startedAt, finishedAt}. Init containers run in order first.
* deletion: SIGTERM to the process group, SIGKILL after the grace period, final status, then the
  pod is deleted with ``gracePeriodSeconds=0``. The pod's own ``activeDeadlineSeconds`` is enforced
  (phase Failed, reason DeadlineExceeded).
* restarts of the agent: finished pods are left alone; pods it was running are marked Failed with
  reason ``NodeAgentRestarted`` (leftover processes found through their pid files are killed).
* one thread per pod; at most ``--concurrency`` (default 4) pods run at once, the rest wait Pending.

What it does not do: images (``image`` is ignored: the command runs on the host with the host's
files and the repo's venv), network isolation (pods share the host's loopback and ports), resource
limits (no cgroups), ``readOnlyRootFilesystem`` (only the declared mounts are read-only), PID
namespaces (a process that leaves its process group survives deletion), restarts
(``restartPolicy`` is treated as Never), sidecars, probes, ``kubectl logs``/``exec``/port-forward
(no kubelet API: each container's stdout+stderr is kept in ``<state-dir>/pods/<uid>/<container>.log``),
persistent volumes, ``resourceFieldRef``, service env links. A ``mountPath`` hides what the host has
there, for that pod: mounting over the repo's parent dir hides the venv its command runs from. Mount
points created on the host (e.g. ``/etc/opsgate/plan``, an empty ``/dev/termination-log``) stay
behind as empty dirs/files.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import dataclasses
import datetime
import json
import logging
import os
import platform
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

LABEL = "opsgate.dev/process-node"
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
HEARTBEAT_SECONDS = 10.0
LEASE_SECONDS = 40
MAX_MESSAGE = 4096  # kubelet's limit on a termination message
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048  # kubelet's tail for FallbackToLogsOnError
POLL_SECONDS = 0.2
TERMINAL = frozenset({"Succeeded", "Failed"})
REASON_RESTARTED = "NodeAgentRestarted"
MESSAGE_RESTARTED = "the process node agent restarted while this pod was running; its processes were stopped"
MESSAGE_STOPPED = "the process node agent stopped while this pod was running; its processes were ended"
MESSAGE_DEADLINE = "Pod was active on the node longer than the specified deadline"

log = logging.getLogger("process-node")


# --- time ---------------------------------------------------------------------------------------


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the API ------------------------------------------------------------------------------------


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class WatchGoneError(RuntimeError):
    """The watch's resourceVersion is too old: list again."""


class Api:
    """Plain-dict REST over the ``kubernetes`` client's connection handling (one pool per thread)."""

    def __init__(self, kubeconfig: str | None) -> None:
        import kubernetes  # here, not at the top: the in-namespace launcher must not import it

        self._kubernetes = kubernetes
        self.configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=self.configuration)
        self._local = threading.local()

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.configuration.host).port or 443

    def ca_bundle(self) -> bytes:
        return Path(self.configuration.ssl_ca_cert).read_bytes() if self.configuration.ssl_ca_cert else b""

    def _call(
        self, method: str, path: str, body: Any, query: Mapping[str, str] | None, content_type: str, timeout: Any
    ) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._kubernetes.client.ApiClient(configuration=self.configuration)
        method_, url, headers, payload, _ = client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = client.call_api(method_, url, headers, payload, _request_timeout=timeout)
        except self._kubernetes.client.ApiException as exc:
            raise ApiError(int(exc.status or 0), str(exc.body or exc.reason)) from None
        if not 200 <= response.status < 300:
            raise ApiError(response.status, response.read().decode(errors="replace"))
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> Any:
        data = self._call(method, path, body, query, content_type, timeout).read()
        return json.loads(data) if data else None

    def merge_patch(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def watch(self, path: str, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        from kubernetes.watch.watch import iter_resp_lines

        server_timeout = int(query.get("timeoutSeconds", "60"))
        response = self._call(
            "GET", path, None, {**query, "watch": "true"}, "application/json", (10, server_timeout + 30)
        )
        try:
            for line in iter_resp_lines(response.response):
                if line:
                    yield json.loads(line)
        finally:
            response.response.release_conn()


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


# --- the node -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NodeOptions:
    name: str
    cpu: str
    memory: str
    pods: int


def node_manifest(options: NodeOptions) -> dict[str, Any]:
    """The Node as registered: our label and taint, no kwok annotation. Pure."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": options.name,
            "labels": {
                LABEL: "true",
                "type": "process",
                "kubernetes.io/hostname": options.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                    platform.machine(), platform.machine()
                ),
            },
        },
        "spec": {"taints": [{"key": LABEL, "value": "true", "effect": "NoSchedule"}]},
    }


def node_status(options: NodeOptions, *, heartbeat: datetime.datetime, since: datetime.datetime) -> dict[str, Any]:
    """The Node's status: capacity, addresses and a fresh Ready heartbeat. Pure."""
    resources = {"cpu": options.cpu, "memory": options.memory, "pods": str(options.pods)}

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": rfc3339(heartbeat),
            "lastTransitionTime": rfc3339(since),
        }

    return {
        "capacity": resources,
        "allocatable": resources,
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": options.name}],
        "conditions": [
            condition("Ready", "True", "KubeletReady", "the process node agent is posting ready status"),
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "no memory pressure"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "no PID pressure"),
        ],
        "nodeInfo": {
            "architecture": node_manifest(options)["metadata"]["labels"]["kubernetes.io/arch"],
            "operatingSystem": "linux",
            "kernelVersion": platform.release(),
            "osImage": "local processes (opsgate process node)",
            "containerRuntimeVersion": "process://0.1",
            "kubeletVersion": "v1.34.2-process-node",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
    }


class Node:
    """Registers the Node and keeps its Ready condition and Lease fresh."""

    def __init__(self, api: Api, options: NodeOptions) -> None:
        self.api = api
        self.options = options
        self.since = now()
        self.uid = ""

    def register(self) -> None:
        manifest = node_manifest(self.options)
        try:
            node = self.api.request("POST", "/api/v1/nodes", body=manifest)
        except ApiError as exc:
            if exc.status != 409:
                raise
            node = self.api.request("GET", f"/api/v1/nodes/{self.options.name}")
            taints = [t for t in node["spec"].get("taints") or [] if t.get("key") != LABEL]
            node = self.api.merge_patch(
                f"/api/v1/nodes/{self.options.name}",
                {
                    "metadata": {"labels": manifest["metadata"]["labels"]},
                    "spec": {"taints": [*taints, *manifest["spec"]["taints"]], "unschedulable": False},
                },
            )
        self.uid = node["metadata"]["uid"]
        self.heartbeat()
        log.info("node %s registered", self.options.name)

    def heartbeat(self) -> None:
        moment = now()
        status = node_status(self.options, heartbeat=moment, since=self.since)
        self.api.merge_patch(f"/api/v1/nodes/{self.options.name}/status", {"status": status})
        lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.options.name}"
        spec = {
            "holderIdentity": self.options.name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": micro_time(moment),
        }
        try:
            self.api.merge_patch(lease_path, {"spec": spec})
        except ApiError as exc:
            if exc.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.options.name,
                    "namespace": "kube-node-lease",
                    "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Node", "name": self.options.name, "uid": self.uid}
                    ],
                },
                "spec": spec,
            }
            self.api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body=lease)

    def keep_fresh(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self.heartbeat()
            except Exception:
                log.exception("heartbeat failed; retrying in %ss", HEARTBEAT_SECONDS)


# --- pod spec, as data --------------------------------------------------------------------------


class CannotRunError(RuntimeError):
    """The container can never run as specified: the pod fails with this message."""


class NotYetError(RuntimeError):
    """Something the pod needs is missing (a ConfigMap, a key): the pod waits, as kubelet's would."""


_FIELD = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")
_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def field_value(pod: Mapping[str, Any], field_path: str) -> str:
    """The value of a downward-API ``fieldRef``. Pure."""
    meta, spec = pod["metadata"], pod["spec"]
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
    }
    if field_path in simple:
        return str(simple[field_path])
    if field_path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(field_path.split(".")[1]) or {}
        return "\n".join(f"{k}={json.dumps(v)}" for k, v in sorted(values.items()))
    match = _FIELD.match(field_path)
    if match:
        return str((meta.get(match[1]) or {}).get(match[2], ""))
    raise CannotRunError(f"fieldRef {field_path!r} is not supported by the process node")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, ``$$`` is a literal ``$``. Pure."""

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _VAR.sub(replace, text)


@dataclasses.dataclass(frozen=True)
class Identity:
    uid: int | None
    gid: int | None
    groups: tuple[int, ...]
    no_new_privs: bool


def identity(pod: Mapping[str, Any], container: Mapping[str, Any]) -> Identity:
    """Who the container's process runs as (container securityContext over the pod's). Pure."""
    pod_sc = pod["spec"].get("securityContext") or {}
    sc = container.get("securityContext") or {}
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False))
    if non_root and not uid:
        raise CannotRunError("container has runAsNonRoot and image will run as root (set a non-zero runAsUser)")
    groups = [g for g in [pod_sc.get("fsGroup"), *(pod_sc.get("supplementalGroups") or [])] if g is not None]
    if uid is not None and gid is None:
        gid = 0  # a runtime takes the image's group for the user; there is no image, so root's group
    return Identity(uid, gid, tuple(dict.fromkeys(groups)), sc.get("allowPrivilegeEscalation") is False)


def volume_owner(pod: Mapping[str, Any]) -> tuple[int, int]:
    """Owner of the files the agent writes for a pod: the pod's (first non-root) user. Pure."""
    pod_sc = pod["spec"].get("securityContext") or {}
    uid, gid = pod_sc.get("runAsUser"), pod_sc.get("runAsGroup")
    for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
        sc = container.get("securityContext") or {}
        uid = uid or sc.get("runAsUser")
        gid = gid or sc.get("runAsGroup")
    gid = pod_sc.get("fsGroup", gid)
    return int(uid or 0), int(gid if gid is not None else (uid or 0))


def automount(pod: Mapping[str, Any], service_account: Mapping[str, Any] | None) -> bool:
    """Whether the pod gets a service-account token (pod setting, else the service account's). Pure."""
    setting = pod["spec"].get("automountServiceAccountToken")
    if setting is None and service_account is not None:
        setting = service_account.get("automountServiceAccountToken")
    return setting is not False


def mounts_sa(container: Mapping[str, Any]) -> bool:
    return any(m.get("mountPath", "").rstrip("/") == SA_MOUNT for m in container.get("volumeMounts") or [])


# --- volumes ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Token:
    """A projected service-account token, refreshed at 80 % of its lifetime."""

    directory: Path
    path: str
    audience: str | None
    seconds: int
    mode: int
    issued: float = 0.0
    expires: float = 0.0

    def due(self, moment: float) -> bool:
        return moment >= self.issued + 0.8 * (self.expires - self.issued)


class Volumes:
    """A pod's volumes, materialised under ``<pod dir>/volumes/<name>``."""

    def __init__(self, api: Api, pod: Mapping[str, Any], root: Path) -> None:
        self.api = api
        self.pod = pod
        self.root = root
        self.namespace = pod["metadata"]["namespace"]
        self.owner = volume_owner(pod)
        self.sources: dict[str, Path] = {}
        self.read_only: set[str] = set()  # configMap, secret, downwardAPI, projected: always read-only
        self.tokens: list[Token] = []

    def materialise(self, *, extra_sa_volume: str | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sources, self.read_only, self.tokens = {}, set(), []
        for volume in self.pod["spec"].get("volumes") or []:
            self.sources[volume["name"]] = self._volume(volume)
        if extra_sa_volume:
            projected = {
                "sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {
                        "downwardAPI": {
                            "items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                        }
                    },
                ],
                "defaultMode": 0o644,
            }
            self.sources[extra_sa_volume] = self._volume({"name": extra_sa_volume, "projected": projected})

    def _volume(self, volume: Mapping[str, Any]) -> Path:
        name = volume["name"]
        if "hostPath" in volume:
            host = Path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") == "DirectoryOrCreate":
                host.mkdir(parents=True, exist_ok=True)
            if not host.exists():
                raise NotYetError(f"hostPath {host} does not exist")
            return host
        target = self.root / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if "emptyDir" in volume:
            target.chmod(0o777)  # kubelet's emptyDir is world-writable
            os.chown(target, *self.owner)
            return target
        files: list[tuple[str, bytes, int]] = []
        if "configMap" in volume:
            files = self._from_object("configmaps", volume["configMap"], volume["configMap"].get("defaultMode", 0o644))
        elif "secret" in volume:
            source = {**volume["secret"], "name": volume["secret"].get("secretName")}
            files = self._from_object("secrets", source, volume["secret"].get("defaultMode", 0o644))
        elif "downwardAPI" in volume:
            files = self._downward(volume["downwardAPI"], volume["downwardAPI"].get("defaultMode", 0o644))
        elif "projected" in volume:
            mode = volume["projected"].get("defaultMode", 0o644)
            for source in volume["projected"].get("sources") or []:
                if "configMap" in source:
                    files += self._from_object("configmaps", source["configMap"], mode)
                elif "secret" in source:
                    files += self._from_object("secrets", source["secret"], mode)
                elif "downwardAPI" in source:
                    files += self._downward(source["downwardAPI"], mode)
                elif "serviceAccountToken" in source:
                    spec = source["serviceAccountToken"]
                    token = Token(target, spec["path"], spec.get("audience"), spec.get("expirationSeconds", 3600), mode)
                    self.tokens.append(token)
                    self.refresh(token)
                else:
                    raise CannotRunError(f"volume {name}: projected source {sorted(source)} is not supported")
        else:
            kinds = sorted(set(volume) - {"name"})
            raise CannotRunError(f"volume {name}: {', '.join(kinds)} volumes are not supported by the process node")
        for path, content, file_mode in files:
            self._write(target, path, content, file_mode)
        self._chown_dirs(target)
        self.read_only.add(name)
        return target

    def _from_object(self, plural: str, source: Mapping[str, Any], default_mode: int) -> list[tuple[str, bytes, int]]:
        name, optional = source.get("name"), source.get("optional", False)
        try:
            obj = self.api.request("GET", f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")
        except ApiError as exc:
            if exc.status == 404 and optional:
                return []
            if exc.status == 404:
                raise NotYetError(f"{plural[:-1]} {name!r} not found") from None
            raise
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()} if plural == "secrets" else {}
        if plural == "configmaps":
            data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
            data |= {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
        items = source.get("items")
        if not items:
            return [(key, value, default_mode) for key, value in sorted(data.items())]
        files = []
        for item in items:
            if item["key"] not in data:
                if optional:
                    continue
                raise NotYetError(f"key {item['key']!r} not found in {plural[:-1]} {name!r}")
            files.append((item["path"], data[item["key"]], item.get("mode", default_mode)))
        return files

    def _downward(self, source: Mapping[str, Any], default_mode: int) -> list[tuple[str, bytes, int]]:
        files = []
        for item in source.get("items") or []:
            if "fieldRef" not in item:
                raise CannotRunError(f"downwardAPI item {item.get('path')!r}: only fieldRef is supported")
            value = field_value(self.pod, item["fieldRef"]["fieldPath"])
            files.append((item["path"], value.encode(), item.get("mode", default_mode)))
        return files

    def _write(self, directory: Path, relative: str, content: bytes, mode: int) -> None:
        path = directory / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            raise CannotRunError(f"volume file path {relative!r} escapes its volume")
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.tmp")
        scratch.write_bytes(content)
        scratch.chmod(mode)
        os.chown(scratch, *self.owner)
        scratch.replace(path)  # atomic: a reader sees the old or the new token, never half

    def _chown_dirs(self, target: Path) -> None:
        for directory in [target, *(p for p in target.rglob("*") if p.is_dir())]:
            os.chown(directory, *self.owner)

    def refresh(self, token: Token) -> None:
        """A TokenRequest bound to the pod; written into the volume."""
        meta, spec = self.pod["metadata"], self.pod["spec"]
        account = spec.get("serviceAccountName") or "default"
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "expirationSeconds": token.seconds,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
                **({"audiences": [token.audience]} if token.audience else {}),
            },
        }
        url = f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token"
        try:
            answer = self.api.request("POST", url, body=request)
        except ApiError as exc:
            if exc.status == 404:
                raise NotYetError(f"service account {account!r} not found") from None
            raise
        expires = parse_time(answer["status"]["expirationTimestamp"]).timestamp()
        token.issued, token.expires = time.time(), expires
        self._write(token.directory, token.path, answer["status"]["token"].encode(), token.mode)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# --- one container's process --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


def mount_point_on_host(target: str, earlier: list[Mount]) -> Path:
    """Where a mount point must exist before binding ``target``: inside the nearest earlier mount
    that contains it (its source), else on the host. Pure."""
    for mount in sorted(earlier, key=lambda m: len(m.target), reverse=True):
        base = mount.target.rstrip("/") or "/"
        if target == base or target.startswith(base.rstrip("/") + "/"):
            return Path(mount.source) / os.path.relpath(target, base)
    return Path(target)


def prepare_mount_points(mounts: list[Mount]) -> None:
    """Create each mount point (a dir, or an empty file for a file source); CannotRunError if impossible."""
    done: list[Mount] = []
    for mount in mounts:
        point = mount_point_on_host(mount.target, done)
        try:
            if Path(mount.source).is_dir():
                point.mkdir(parents=True, exist_ok=True)
                if not point.is_dir():
                    raise CannotRunError(f"mountPath {mount.target}: exists and is not a directory")
            else:
                point.parent.mkdir(parents=True, exist_ok=True)
                if not point.exists():
                    point.touch(mode=0o644)
                if point.is_dir():
                    raise CannotRunError(f"mountPath {mount.target}: a directory, but the volume's subPath is a file")
        except OSError as exc:
            raise CannotRunError(
                f"cannot create mount point {mount.target} on the node: {exc.strerror or exc}"
            ) from None
        done.append(mount)


@dataclasses.dataclass
class Run:
    """One container of the pod: its process and what it reported."""

    name: str
    container: Mapping[str, Any]
    log_path: Path
    message_path: Path
    error_path: Path
    pid_path: Path
    process: subprocess.Popen[bytes] | None = None
    started: datetime.datetime | None = None
    finished: datetime.datetime | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    waiting: tuple[str, str] = ("ContainerCreating", "")

    def state(self) -> dict[str, Any]:
        if self.finished is not None:
            terminated = {
                "exitCode": self.exit_code,
                "reason": self.reason,
                "startedAt": rfc3339(self.started or self.finished),
                "finishedAt": rfc3339(self.finished),
                "containerID": f"process://{self.process.pid}" if self.process else "",
            }
            if self.message:
                terminated["message"] = self.message
            return {"terminated": terminated}
        if self.started is not None:
            return {"running": {"startedAt": rfc3339(self.started)}}
        reason, message = self.waiting
        return {"waiting": {"reason": reason, "message": message or None}}

    def status(self) -> dict[str, Any]:
        current = self.state()
        # The other states as None: a strategic merge patch would otherwise keep them beside this one.
        state = {"waiting": None, "running": None, "terminated": None} | current
        return {
            "name": self.name,
            "image": self.container.get("image", ""),
            "imageID": "",
            **({"containerID": f"process://{self.process.pid}"} if self.process else {}),
            "ready": "running" in current,
            "started": "running" in current,
            "restartCount": 0,
            "state": state,
        }

    def fail(self, reason: str, message: str, *, code: int = 128) -> None:
        moment = now()
        self.started = self.started or moment
        self.finished, self.exit_code, self.reason, self.message = moment, code, reason, message[:MAX_MESSAGE]


def tail(path: Path) -> str:
    """The last FALLBACK_LINES lines of a log, at most FALLBACK_BYTES. Pure but for the read."""
    try:
        data = path.read_bytes()[-FALLBACK_BYTES:]
    except OSError:
        return ""
    return b"\n".join(data.splitlines()[-FALLBACK_LINES:]).decode(errors="replace")


def process_start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (guards against a reused pid), or "" if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def kill_leftovers(pod_dir: Path) -> None:
    """Kill the process groups recorded in a pod dir's pid files by an earlier agent."""
    for pid_file in pod_dir.glob("*.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid_text, started = pid_file.read_text().split()
            pid = int(pid_text)
            if process_start_time(pid) == started:
                log.info("killing leftover process group %s (%s)", pid, pid_file)
                os.killpg(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


# --- one pod ------------------------------------------------------------------------------------


class PodWorker(threading.Thread):
    """Runs one pod from Pending to its end, then forgets it."""

    def __init__(self, agent: Agent, pod: dict[str, Any]) -> None:
        super().__init__(name=f"pod-{pod['metadata']['namespace']}/{pod['metadata']['name']}", daemon=True)
        self.agent = agent
        self.pod = pod
        self.uid = pod["metadata"]["uid"]
        self.namespace, self.pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.dir = agent.state_dir / "pods" / self.uid
        self.lock = threading.Lock()
        self.deleting = threading.Event()  # end the processes: the pod is being deleted, or the agent stops
        self.delete_requested = False  # the pod is being deleted: delete it with grace 0 once its processes end
        self.gone = False  # the pod object no longer exists
        self.grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
        self.started_at = now()
        self.deadline_hit = False
        self.initialized = False
        self.conditions: dict[str, tuple[str, str]] = {}
        self.last_status: Any = None
        self.runs = {
            kind: [self._run_for(c) for c in pod["spec"].get(key) or []]
            for kind, key in (("init", "initContainers"), ("main", "containers"))
        }

    def _run_for(self, container: Mapping[str, Any]) -> Run:
        name = container["name"]
        return Run(
            name,
            container,
            self.dir / f"{name}.log",
            self.dir / "termination" / name,
            self.dir / f"{name}.launch-error",
            self.dir / f"{name}.pid",
        )

    def notify(self, pod: dict[str, Any], *, deleted: bool) -> None:
        """A watch event for this pod: note deletion requests."""
        with self.lock:
            self.pod = pod
            if deleted:
                self.gone = self.delete_requested = True
                self.grace = 0
                self.deleting.set()
            elif pod["metadata"].get("deletionTimestamp"):
                self.grace = float(pod["metadata"].get("deletionGracePeriodSeconds", self.grace))
                self.delete_requested = True
                self.deleting.set()

    # status ------------------------------------------------------------------------------------

    def _condition(self, kind: str, status: str, reason: str = "") -> dict[str, Any]:
        previous = self.conditions.get(kind)
        moment = rfc3339(now()) if previous is None or previous[0] != status else previous[1]
        self.conditions[kind] = (status, moment)
        # None, not absent: a strategic merge patch keeps a key it isn't told to delete
        return {
            "type": kind,
            "status": status,
            "lastTransitionTime": moment,
            "lastProbeTime": None,
            "reason": reason or None,
        }

    def status(self, phase: str, *, reason: str = "", message: str = "") -> dict[str, Any]:
        mains = self.runs["main"]
        running = bool(mains) and all(r.started and not r.finished for r in mains)
        terminal_reason = "PodCompleted" if phase in TERMINAL else "ContainersNotReady"
        status: dict[str, Any] = {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": rfc3339(self.started_at),
            "conditions": [
                self._condition("PodReadyToStartContainers", "True"),
                self._condition(
                    "Initialized",
                    "True" if self.initialized else "False",
                    "" if self.initialized else "ContainersNotInitialized",
                ),
                self._condition("Ready", "True" if running else "False", "" if running else terminal_reason),
                self._condition("ContainersReady", "True" if running else "False", "" if running else terminal_reason),
                self._condition("PodScheduled", "True"),
            ],
            "containerStatuses": [r.status() for r in mains],
            "reason": reason or None,
            "message": message or None,
        }
        if self.runs["init"]:
            status["initContainerStatuses"] = [r.status() for r in self.runs["init"]]
        return status

    def write(self, phase: str, **extra: str) -> None:
        if self.gone:
            return
        status = self.status(phase, **extra)
        comparable = {k: v for k, v in status.items() if k != "conditions"}
        if comparable == self.last_status:
            return
        try:
            self.agent.api.request(
                "PATCH",
                pod_path(self.namespace, self.pod_name) + "/status",
                body={"status": status},
                content_type="application/strategic-merge-patch+json",
            )
            self.last_status = comparable
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.gone = True

    # life --------------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._life()
        except Exception as exc:
            log.exception("pod %s/%s: the agent failed", self.namespace, self.pod_name)
            self._stop_all(0)
            for run in self._all_runs():
                if run.finished is None:
                    run.fail("Error", f"the process node failed: {exc}")
            with contextlib.suppress(Exception):
                self.write("Failed", reason="NodeAgentError", message=str(exc)[:1024])
        finally:
            self.agent.done(self)

    def _all_runs(self) -> list[Run]:
        return [*self.runs["init"], *self.runs["main"]]

    def _life(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        kill_leftovers(self.dir)
        volumes = Volumes(self.agent.api, self.pod, self.dir / "volumes")
        self.write("Pending")
        try:
            phase, reason, message = self._prepare_and_run(volumes)
        finally:
            volumes.remove()  # tokens and secrets leave the disk with the pod's processes
        if self.agent.stop.is_set() and not self.delete_requested:
            phase, reason, message = "Failed", REASON_RESTARTED, MESSAGE_STOPPED
        self.write(phase, reason=reason, message=message)
        log.info("pod %s/%s: %s %s", self.namespace, self.pod_name, phase, reason)
        if self.delete_requested:
            self.agent.finalize(self.pod)

    def _prepare_and_run(self, volumes: Volumes) -> tuple[str, str, str]:
        service_account = self._service_account()
        sa_volume = None
        if automount(self.pod, service_account) and not all(mounts_sa(c) for c in self._containers()):
            sa_volume = "process-node-service-account"
        while True:  # kubelet retries a pod whose ConfigMap/Secret/key is not there yet
            if self.deleting.is_set() or self._past_deadline():
                return self._end_unstarted()
            try:
                volumes.materialise(extra_sa_volume=sa_volume)
                break
            except NotYetError as exc:
                for run in self._all_runs():
                    run.waiting = ("ContainerCreating", str(exc))
                self.write("Pending")
                time.sleep(2)
            except CannotRunError as exc:
                for run in self._all_runs():
                    run.fail("CreateContainerConfigError", str(exc))
                return "Failed", "", ""
        with self.agent.slots_for(self):
            if self.deleting.is_set() or self._past_deadline():
                return self._end_unstarted()
            for run in self.runs["init"]:
                self._supervise([run], volumes, sa_volume)
                if run.exit_code != 0:
                    self._skip(self.runs["main"], "PodInitializing")
                    return self._verdict()
            self.initialized = True
            if self.deleting.is_set() or self._past_deadline():  # while the init containers ran
                return self._end_unstarted()
            self._supervise(self.runs["main"], volumes, sa_volume)
        return self._verdict()

    def _containers(self) -> list[Mapping[str, Any]]:
        return [*self.pod["spec"].get("initContainers", []), *self.pod["spec"]["containers"]]

    def _service_account(self) -> dict[str, Any] | None:
        name = self.pod["spec"].get("serviceAccountName") or "default"
        try:
            result: dict[str, Any] = self.agent.api.request(
                "GET", f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{name}"
            )
            return result
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def _past_deadline(self) -> bool:
        limit = self.pod["spec"].get("activeDeadlineSeconds")
        if limit is not None and (now() - self.started_at).total_seconds() >= limit:
            self.deadline_hit = True
        return self.deadline_hit

    def _end_unstarted(self) -> tuple[str, str, str]:
        self._skip(self._all_runs(), "ContainerStatusUnknown")
        if self.deadline_hit:
            return "Failed", "DeadlineExceeded", MESSAGE_DEADLINE
        return "Failed", "", ""

    def _skip(self, runs: list[Run], reason: str) -> None:
        for run in runs:
            if run.finished is None:
                run.fail(reason, "the container was never started", code=137)

    def _verdict(self) -> tuple[str, str, str]:
        if self.deadline_hit:
            return "Failed", "DeadlineExceeded", MESSAGE_DEADLINE
        ok = all(r.exit_code == 0 for r in self._all_runs())
        return ("Succeeded" if ok else "Failed"), "", ""

    def _supervise(self, runs: list[Run], volumes: Volumes, sa_volume: str | None) -> None:
        """Start ``runs`` together and watch them until all have ended (or are stopped)."""
        for run in runs:
            try:
                self._start(run, volumes, sa_volume)
            except CannotRunError as exc:
                run.fail("ContainerCannotRun", str(exc))
            except NotYetError as exc:
                run.fail("CreateContainerConfigError", str(exc))
        self.write("Running" if self.initialized and any(r.process for r in runs) else "Pending")
        stopping_since: float | None = None
        while any(r.process and r.finished is None for r in runs):
            for token in volumes.tokens:
                if token.due(time.time()):
                    with contextlib.suppress(Exception):
                        volumes.refresh(token)
            if stopping_since is None and (self.deleting.is_set() or self._past_deadline()):
                stopping_since = time.monotonic()
                for run in runs:
                    if run.process and run.finished is None:
                        signal_group(run.process, signal.SIGTERM)
            if stopping_since is not None and time.monotonic() - stopping_since >= self.grace:
                for run in runs:
                    if run.process and run.finished is None:
                        signal_group(run.process, signal.SIGKILL)
            for run in runs:
                if run.process and run.finished is None and run.process.poll() is not None:
                    self._finish(run)
            time.sleep(POLL_SECONDS)

    def _start(self, run: Run, volumes: Volumes, sa_volume: str | None) -> None:
        container = run.container
        who = identity(self.pod, container)
        env = self._env(container)
        command = [expand(c, env) for c in container.get("command") or []]
        args = [expand(a, env) for a in container.get("args") or []]
        if not command:
            raise CannotRunError("the process node has no images: the container needs an explicit command")
        executable = command[0] if "/" in command[0] else shutil.which(command[0], path=self.agent.path)
        if not executable or not os.access(executable, os.X_OK):
            raise CannotRunError(f'exec: "{command[0]}": executable file not found in $PATH')
        mounts = self._mounts(run, volumes, sa_volume)
        prepare_mount_points(mounts)
        uid, gid = who.uid if who.uid is not None else 0, who.gid if who.gid is not None else 0
        run.message_path.parent.mkdir(parents=True, exist_ok=True)
        run.message_path.write_bytes(b"")
        os.chown(run.message_path, uid, gid)
        run.error_path.unlink(missing_ok=True)
        spec = {
            "mounts": [dataclasses.asdict(m) for m in mounts],
            "hostname": self.pod_name[:63],
            "workdir": container.get("workingDir") or "/",
            "argv": [executable, *command[1:], *args],
            "identity": dataclasses.asdict(who),
            "error_file": str(run.error_path),
        }
        spec_path = self.dir / f"{run.name}.launch.json"
        spec_path.write_text(json.dumps(spec))
        argv = [self.agent.unshare, "--mount", "--uts", "--propagation", "private", "--"]
        argv += [sys.executable, "-I", str(Path(__file__).resolve()), "launch", str(spec_path)]
        with run.log_path.open("ab") as output:
            run.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        run.started = now()
        run.pid_path.write_text(f"{run.process.pid} {process_start_time(run.process.pid)}\n")
        log.info("pod %s/%s: started %s as pid %s", self.namespace, self.pod_name, run.name, run.process.pid)

    def _finish(self, run: Run) -> None:
        assert run.process is not None
        code = run.process.returncode
        run.exit_code = code if code >= 0 else 128 - code
        run.finished = now()
        signal_group(run.process, signal.SIGKILL)  # the container ends with its main process
        run.pid_path.unlink(missing_ok=True)
        launch_error = run.error_path.read_text(errors="replace").strip() if run.error_path.exists() else ""
        if launch_error:
            run.reason, run.message = "StartError", launch_error[:MAX_MESSAGE]
            return
        if self.deadline_hit and not self.deleting.is_set():
            run.reason = "DeadlineExceeded"
        else:
            run.reason = "Completed" if run.exit_code == 0 else "Error"
        try:
            message = run.message_path.read_bytes()[:MAX_MESSAGE].decode(errors="replace")
        except OSError:
            message = ""
        policy = run.container.get("terminationMessagePolicy", "File")
        if not message.strip() and run.exit_code != 0 and policy == "FallbackToLogsOnError":
            message = tail(run.log_path)
        run.message = message

    def _env(self, container: Mapping[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {
            "PATH": self.agent.path,
            "HOME": "/",
            "HOSTNAME": self.pod_name[:63],
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(self.agent.api.port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(self.agent.api.port),
        }
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            plural = "configmaps" if "configMapRef" in source else "secrets"
            data = self._object_data(plural, ref.get("name", ""), optional=ref.get("optional", False))
            env.update({prefix + k: v for k, v in data.items()})
        for var in container.get("env") or []:
            if "valueFrom" not in var:
                env[var["name"]] = expand(var.get("value", ""), env)
                continue
            source = var["valueFrom"]
            if "fieldRef" in source:
                env[var["name"]] = field_value(self.pod, source["fieldRef"]["fieldPath"])
            elif "configMapKeyRef" in source or "secretKeyRef" in source:
                ref = source.get("configMapKeyRef") or source["secretKeyRef"]
                plural = "configmaps" if "configMapKeyRef" in source else "secrets"
                data = self._object_data(plural, ref["name"], optional=ref.get("optional", False))
                if ref["key"] in data:
                    env[var["name"]] = data[ref["key"]]
                elif not ref.get("optional", False):
                    raise NotYetError(f"key {ref['key']!r} not found in {plural[:-1]} {ref['name']!r}")
            else:
                raise CannotRunError(f"env {var['name']}: {sorted(source)} is not supported by the process node")
        return env

    def _object_data(self, plural: str, name: str, *, optional: bool) -> dict[str, str]:
        try:
            obj = self.agent.api.request("GET", f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")
        except ApiError as exc:
            if exc.status == 404 and optional:
                return {}
            if exc.status == 404:
                raise NotYetError(f"{plural[:-1]} {name!r} not found") from None
            raise
        if plural == "secrets":
            return {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})

    def _mounts(self, run: Run, volumes: Volumes, sa_volume: str | None) -> list[Mount]:
        mounts = []
        declared = list(run.container.get("volumeMounts") or [])
        if sa_volume and not mounts_sa(run.container):
            declared.append({"name": sa_volume, "mountPath": SA_MOUNT, "readOnly": True})
        for mount in declared:
            source = volumes.sources.get(mount["name"])
            if source is None:
                raise CannotRunError(f"volumeMount {mount['mountPath']}: no volume named {mount['name']!r}")
            if mount.get("subPath"):
                source = source / mount["subPath"]
                if ".." in Path(mount["subPath"]).parts or not source.exists():
                    raise CannotRunError(f"volumeMount {mount['mountPath']}: subPath {mount['subPath']!r} not found")
            target = os.path.normpath(mount["mountPath"])
            if not os.path.isabs(target):
                raise CannotRunError(f"volumeMount {mount['mountPath']}: not an absolute path")
            read_only = bool(mount.get("readOnly", False)) or mount["name"] in volumes.read_only
            mounts.append(Mount(str(source), target, read_only))
        message_target = run.container.get("terminationMessagePath") or "/dev/termination-log"
        mounts.append(Mount(str(run.message_path), os.path.normpath(message_target), False))
        return sorted(mounts, key=lambda m: m.target.count("/"))  # parents before children

    def _stop_all(self, grace: float) -> None:
        live = [r for r in self._all_runs() if r.process and r.finished is None]
        for run in live:
            signal_group(run.process, signal.SIGTERM)  # type: ignore[arg-type]
        deadline = time.monotonic() + grace
        while any(r.process.poll() is None for r in live) and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(POLL_SECONDS)
        for run in live:
            signal_group(run.process, signal.SIGKILL)  # type: ignore[arg-type]
            run.process.wait()  # type: ignore[union-attr]
            self._finish(run)

    def shutdown(self, grace: float) -> None:
        """The agent stops: end this pod's processes (called from the main thread)."""
        with self.lock:
            self.grace = min(self.grace, grace)
            self.deleting.set()


# --- the agent ----------------------------------------------------------------------------------


class Agent:
    """Watches the pods bound to the node and gives each one a worker."""

    def __init__(self, api: Api, node: Node, *, state_dir: Path, concurrency: int, path: str) -> None:
        self.api = api
        self.node = node
        self.state_dir = state_dir
        self.path = path
        self.unshare = shutil.which("unshare") or "unshare"
        self.semaphore = threading.BoundedSemaphore(concurrency)
        self.lock = threading.Lock()
        self.workers: dict[str, PodWorker] = {}
        self.handled: set[str] = set()  # uids this agent process ran or settled: never "restarted"
        self.finalized: set[str] = set()
        self.stop = threading.Event()

    @contextlib.contextmanager
    def slots_for(self, worker: PodWorker) -> Iterator[None]:
        """One of the ``--concurrency`` slots; given up waiting if the pod is deleted meanwhile
        (the caller sees ``deleting`` and ends the pod unstarted)."""
        acquired = False
        while not acquired and not worker.deleting.is_set():
            acquired = self.semaphore.acquire(timeout=0.5)
        try:
            yield
        finally:
            if acquired:
                self.semaphore.release()

    def done(self, worker: PodWorker) -> None:
        with self.lock:
            self.workers.pop(worker.uid, None)

    def finalize(self, pod: Mapping[str, Any]) -> None:
        """Delete a pod whose processes are gone (kubelet's final, grace-0 delete)."""
        uid = pod["metadata"]["uid"]
        if uid in self.finalized:
            return
        self.finalized.add(uid)
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            self.api.request("DELETE", pod_path(pod["metadata"]["namespace"], pod["metadata"]["name"]), body=options)
        except ApiError as exc:
            if exc.status not in (404, 409):
                self.finalized.discard(uid)
                raise

    def dispatch(self, kind: str, pod: dict[str, Any]) -> None:
        meta, status = pod["metadata"], pod.get("status") or {}
        uid = meta["uid"]
        with self.lock:
            worker = self.workers.get(uid)
        if worker is not None:
            worker.notify(pod, deleted=kind == "DELETED")
            return
        if kind == "DELETED" or self.stop.is_set():
            return
        deleting = bool(meta.get("deletionTimestamp"))
        if status.get("phase") in TERMINAL:
            if deleting:
                self.finalize(pod)
            return
        if uid in self.handled:
            return  # a stale event about a pod this agent already ran
        self.handled.add(uid)
        was_running = status.get("phase") == "Running" or any(
            "running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {})
            for s in [*status.get("containerStatuses", []), *status.get("initContainerStatuses", [])]
        )
        pod_dir = self.state_dir / "pods" / uid
        if was_running:
            kill_leftovers(pod_dir)
            self._mark_restarted(pod)
            if deleting:
                self.finalize(pod)
            return
        if deleting:
            kill_leftovers(pod_dir)
            self.finalize(pod)
            return
        worker = PodWorker(self, pod)
        with self.lock:
            self.workers[uid] = worker
        worker.start()

    def _mark_restarted(self, pod: Mapping[str, Any]) -> None:
        meta, status = pod["metadata"], dict(pod.get("status") or {})
        moment = rfc3339(now())

        def terminated(previous: Mapping[str, Any]) -> dict[str, Any]:
            state = previous.get("state") or {}
            if "terminated" in state:
                return dict(previous)
            started = (state.get("running") or {}).get("startedAt", moment)
            ended = {"exitCode": 137, "reason": REASON_RESTARTED, "startedAt": started, "finishedAt": moment}
            return {**previous, "ready": False, "started": False, "state": {"terminated": ended}}

        patch = {
            "phase": "Failed",
            "reason": REASON_RESTARTED,
            "message": MESSAGE_RESTARTED,
            "containerStatuses": [terminated(s) for s in status.get("containerStatuses", [])],
        }
        if status.get("initContainerStatuses"):
            patch["initContainerStatuses"] = [terminated(s) for s in status["initContainerStatuses"]]
        log.info("pod %s/%s: marked Failed (%s)", meta["namespace"], meta["name"], REASON_RESTARTED)
        with contextlib.suppress(ApiError):
            self.api.merge_patch(pod_path(meta["namespace"], meta["name"]) + "/status", {"status": patch})

    def watch_pods(self) -> None:
        selector = {"fieldSelector": f"spec.nodeName={self.node.options.name}"}
        while not self.stop.is_set():
            try:
                listing = self.api.request("GET", "/api/v1/pods", query=selector)
                version = listing["metadata"]["resourceVersion"]
                present = {p["metadata"]["uid"] for p in listing["items"]}
                for pod in listing["items"]:
                    self.dispatch("ADDED", pod)
                with self.lock:
                    vanished = [w for uid, w in self.workers.items() if uid not in present]
                for worker in vanished:
                    worker.notify(worker.pod, deleted=True)
                while not self.stop.is_set():
                    query = {
                        **selector,
                        "resourceVersion": version,
                        "allowWatchBookmarks": "true",
                        "timeoutSeconds": "60",
                    }
                    for event in self.api.watch("/api/v1/pods", query):
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            if obj.get("code") == 410:
                                raise WatchGoneError(obj.get("message", ""))
                            raise ApiError(int(obj.get("code", 0)), obj.get("message", ""))
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            self.dispatch(event["type"], obj)
            except WatchGoneError:
                continue
            except Exception:
                if self.stop.is_set():
                    return
                log.exception("watching pods failed; listing again in 1s")
                time.sleep(1)

    def serve(self) -> None:
        self.node.register()
        threading.Thread(target=self.node.keep_fresh, args=(self.stop,), name="heartbeat", daemon=True).start()
        threading.Thread(target=self.watch_pods, name="watch", daemon=True).start()
        self.stop.wait()
        with self.lock:
            workers = list(self.workers.values())
        log.info("stopping: ending %d running pod(s)", len(workers))
        for worker in workers:
            worker.shutdown(grace=3)
        for worker in workers:
            worker.join(timeout=10)


# --- the launcher (runs inside the pod's private mount namespace, as root, then execs) ----------

MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC = 1, 32, 4096, 16384


def launch(spec_path: str) -> None:
    """Bind the pod's mounts, set the hostname, drop to the pod's user and exec its command.

    Every source is opened before anything is mounted, and mounted through ``/proc/self/fd``, so
    a mount over, say, ``/tmp`` cannot hide a later source that lives under ``/tmp`` on the host.
    """
    spec = json.loads(Path(spec_path).read_text())
    try:
        libc = ctypes.CDLL(None, use_errno=True)

        def mount(source: str | None, target: str, flags: int) -> None:
            if libc.mount(source.encode() if source else None, target.encode(), None, flags, None) != 0:
                error = ctypes.get_errno()
                raise OSError(error, f"mount {source or ''} on {target}: {os.strerror(error)}")

        fds = [os.open(m["source"], os.O_PATH | os.O_CLOEXEC) for m in spec["mounts"]]
        for m, fd in zip(spec["mounts"], fds, strict=True):
            mount(f"/proc/self/fd/{fd}", m["target"], MS_BIND | MS_REC)
            if m["read_only"]:
                mount(None, m["target"], MS_BIND | MS_REMOUNT | MS_RDONLY)
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            libc.sethostname(spec["hostname"].encode(), len(spec["hostname"].encode()))
        os.chdir(spec["workdir"])
        who, argv = spec["identity"], spec["argv"]
        if who["uid"] is not None:
            setpriv = [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={who['uid']}", f"--regid={who['gid']}"]
            groups = who["groups"]
            setpriv.append(f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups")
            if who["no_new_privs"]:
                setpriv.append("--no-new-privs")
            argv = [*setpriv, "--", *argv]
        elif who["no_new_privs"]:
            argv = [shutil.which("setpriv") or "/usr/bin/setpriv", "--no-new-privs", "--", *argv]
        os.execv(argv[0], argv)  # noqa: S606 - the pod's own argv, exec'd like a runtime does
    except OSError as exc:
        Path(spec["error_file"]).write_text(f"{exc}\n")
        sys.stderr.write(f"process-node: {exc}\n")
        sys.exit(128)


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if argv[:1] == ["launch"]:
        launch(argv[1])
        return 0  # not reached: launch execs or exits
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--node-name", default="process-node")
    parser.add_argument(
        "--state-dir", type=Path, help="per-pod dirs and logs (default: $OPSGATE_CLUSTER_DIR/process-node)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="pods running at once (default 4)")
    parser.add_argument("--cpu", default="4")
    parser.add_argument("--memory", default="8Gi")
    parser.add_argument("--max-pods", type=int, default=32, help="allocatable pods")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    if os.geteuid() != 0:
        parser.error("must run as root (unshare, bind mounts and setpriv need it)")
    state_dir = options.state_dir or Path(os.environ.get("OPSGATE_CLUSTER_DIR", "/var/lib/opsgate")) / "process-node"
    state_dir.mkdir(parents=True, exist_ok=True)
    reach_interpreter(Path(sys.executable))
    api = Api(options.kubeconfig)
    node = Node(api, NodeOptions(options.node_name, options.cpu, options.memory, options.max_pods))
    agent = Agent(
        api, node, state_dir=state_dir, concurrency=options.concurrency, path=os.environ.get("PATH", os.defpath)
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.stop.set())
    agent.serve()
    return 0


def reach_interpreter(python: Path) -> None:
    """Let pods running as another user (runAsUser 65532) start the host's Python, as an image would.

    Pods run the host's venv, whose interpreter may sit under a home only root may enter (pyenv in
    /root). Each directory above the real interpreter gets search permission for others (o+x:
    entering, not listing); what was changed is logged.
    """
    for folder in python.resolve().parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
            log.info("made %s searchable by pod users (o+x) so they can start %s", folder, python.resolve())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
