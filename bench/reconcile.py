"""How fast OpsGate turns a new OpsRequest into a decision and a Job, next to the floor.

Measured in one run, on one local control plane (hack/local-cluster.sh, or $KUBECONFIG with
--kubeconfig), with the rule parser:

* raw API round-trip: creating an OpsRequest (client-side create latency) - the API floor;
* bare kopf: an operator whose only handler writes one status field - the framework floor;
* OpsGate: create → decision (status.phase set) and create → Job (status.job.name set), one
  request at a time for latency, then a burst for throughput; the operator's RSS idle (before
  the first request loads the embedding model) and after the burst. Context is retrieved from
  an index of this repository, as in production.

Each request is created by its own impersonated requester, so rate-limit policies don't turn
the burst into denials. Prints a table and ends with one JSON line.

    .venv/bin/python bench/reconcile.py [--requests 40] [--burst 100]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

from opsgate import kube  # noqa: E402 - after the path tweak, for running from a checkout

BARE_KOPF = """
import logging, kopf

@kopf.on.startup()
def configure(settings, **_):
    settings.posting.level = logging.WARNING
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="opsgate.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="opsgate.dev", key="last-handled-configuration")

@kopf.on.create("opsgate.dev", "v1alpha1", "opsrequests")
def mark(patch, **_):
    patch.status["phase"] = "Pending"
"""
TERMINAL = {"Succeeded", "Failed", "Denied", "NeedsInfo", "Answered", "Rejected", "Expired"}
TEXTS = [
    "scale the checkout deployment to {n} replicas in staging",
    "restart the payments deployment in dev",
    "create a namespace team-{n} in dev",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def kubectl(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {shlex.join(args)}: {result.stderr}")
    return result.stdout


@contextlib.contextmanager
def local_cluster() -> Iterator[None]:
    if os.environ.get("KUBECONFIG") and os.environ.get("OPSGATE_BENCH_USE_KUBECONFIG") == "1":
        yield
        return
    up = subprocess.run([str(ROOT / "hack/local-cluster.sh"), "up"], capture_output=True, text=True, check=True)
    exports = {}
    for line in up.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export":
            name, _, value = words[1].partition("=")
            exports[name] = value
    os.environ["KUBECONFIG"] = exports["KUBECONFIG"]
    os.environ["PATH"] = exports["PATH"].replace("$PATH", os.environ["PATH"])
    try:
        yield
    finally:
        subprocess.run([str(ROOT / "hack/local-cluster.sh"), "down", exports["OPSGATE_CLUSTER_DIR"]], check=False)


class Watcher:
    """Records when each OpsRequest in a namespace first shows a status field (client clock)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.phase_at: dict[str, float] = {}
        self.job_at: dict[str, float] = {}
        self.done_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        # One short line per event (name, phase, job), so parsing costs the same for a bare-kopf
        # object and an OpsGate one with a 5 KB status: the clock measures the operator, not us.
        columns = "custom-columns=NAME:.metadata.name,PHASE:.status.phase,JOB:.status.job.name"
        argv = ["kubectl", "get", "opsrequests", "-n", self.namespace, "--watch", "--no-headers", "-o", columns]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        while not self._stop.is_set():
            line = process.stdout.readline()
            if not line:
                break
            now = time.monotonic()
            name, phase, job = [*line.split(), "<none>", "<none>"][:3]
            if phase != "<none>" and name not in self.phase_at:
                self.phase_at[name] = now
            if job != "<none>" and name not in self.job_at:
                self.job_at[name] = now
            if phase in TERMINAL and name not in self.done_at:
                self.done_at[name] = now
        process.terminate()

    def wait(self, names: list[str], *, field: str = "phase", timeout: float = 300) -> None:
        seen = {"phase": self.phase_at, "job": self.job_at, "done": self.done_at}[field]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(n in seen for n in names):
            time.sleep(0.05)
        missing = [n for n in names if n not in seen]
        if missing:
            raise RuntimeError(f"{len(missing)} requests never got a {field}: {missing[:5]}")


def body(name: str, namespace: str, user: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"request": TEXTS[i % len(TEXTS)].format(n=i % 9 + 1), "requester": user},
    }


def create_as(user: str, manifest: dict[str, Any]) -> float:
    """Create ``manifest`` impersonating ``user``; returns the monotonic time the call started."""
    started = time.monotonic()
    url = kube.path("opsgate.dev/v1alpha1", "OpsRequest", manifest["metadata"]["namespace"])
    client = kube._client()
    method, full_url, headers, payload, post = client.param_serialize(
        "POST",
        url,
        header_params={
            "Content-Type": "application/json",
            "Impersonate-User": user,
            "Impersonate-Group": "opsgate-bench",
        },
        body=manifest,
        auth_settings=["BearerToken"],
    )
    response = client.call_api(method, full_url, headers, payload, post)
    if response.status >= 300:
        raise RuntimeError(response.read())
    return started


def namespace(name: str) -> str:
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "opsgate.dev/project=bench", "opsgate.dev/cost-center=cc-bench")
    kubectl("create", "rolebinding", "bench", "--clusterrole=opsgate-requester", "--group=opsgate-bench", "-n", name)
    return name


def sequential(ns: str, count: int, *, prefix: str, jobs: bool) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {"create": [], "decision": [], "job": []}
    with Watcher(ns) as watcher:
        for i in range(count):
            name, user = f"{prefix}-{i}", f"{prefix}-user-{i}"
            started = create_as(user, body(name, ns, user, i))
            latencies["create"].append(time.monotonic() - started)
            watcher.wait([name])
            latencies["decision"].append(watcher.phase_at[name] - started)
            if jobs:
                watcher.wait([name], field="job")
                latencies["job"].append(watcher.job_at[name] - started)
                # One request at a time means the previous one is over: its Job, pod and outcome
                # no longer compete for the cores with the next decision being measured.
                watcher.wait([name], field="done")
    return latencies


def burst(ns: str, count: int, *, prefix: str) -> float:
    names = [f"{prefix}-{i}" for i in range(count)]
    with Watcher(ns) as watcher:
        started = time.monotonic()
        threads = [
            threading.Thread(target=create_as, args=(f"{prefix}-user-{i}", body(n, ns, f"{prefix}-user-{i}", i)))
            for i, n in enumerate(names)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        watcher.wait(names)
        return count / (max(watcher.phase_at[n] for n in names) - started)


def run_operator(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("operator exited")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("operator never became healthy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stage_means(url: str) -> dict[str, float]:
    """Mean ms per stage of the operator's own reconcile histogram (sequential phase only)."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        for suffix, target in (("_sum", sums), ("_count", counts)):
            if line.startswith(f"opsgate_reconcile_seconds{suffix}{{"):
                stage = line.split('stage="')[1].split('"')[0]
                target[stage] = float(line.rsplit(" ", 1)[1])
    return {stage: round(sums[stage] / counts[stage] * 1000, 1) for stage in sums if counts.get(stage)}


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="requests created one by one (latency)")
    parser.add_argument("--burst", type=int, default=100, help="requests created at once (throughput)")
    args = parser.parse_args()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "opsgate-bench"  # noqa: S108 - a scratch dir for logs
    logs.mkdir(exist_ok=True)

    with local_cluster():
        kubectl("apply", "-f", str(ROOT / "crds"))
        kubectl("wait", "--for=condition=Established", "crd/opsrequests.opsgate.dev", "--timeout=60s")
        kube.configure()

        # 1. the framework floor: bare kopf writing one status field
        floor_ns = namespace("bench-floor")
        script = logs / "bare_kopf.py"
        script.write_text(BARE_KOPF)
        kopf_bin = str(Path(sys.executable).parent / "kopf")
        health = f"http://127.0.0.1:{free_port()}/healthz"
        bare = run_operator(
            [kopf_bin, "run", "--standalone", "-n", floor_ns, f"--liveness={health}", str(script)], logs / "bare.log"
        )
        try:
            wait_healthy(health, bare)
            floor = sequential(floor_ns, args.requests, prefix="floor", jobs=False)
            floor_throughput = burst(floor_ns, args.burst, prefix="floorburst")
        finally:
            stop(bare)

        # 2. OpsGate, retrieving context from an index of the repository (as in production)
        os.environ["QDRANT_PATH"] = str(logs / "qdrant")
        subprocess.run(
            [str(Path(sys.executable).parent / "opsgate"), "index"], cwd=ROOT, check=True, capture_output=True
        )
        ns = namespace("bench-opsgate")
        health, metrics_port = f"http://127.0.0.1:{free_port()}/healthz", free_port()
        argv = [str(Path(sys.executable).parent / "opsgate"), "operator", "--namespace", ns]
        argv += ["--metrics-port", str(metrics_port), "--health", health]
        opsgate = run_operator(argv, logs / "opsgate.log")
        try:
            wait_healthy(health, opsgate)
            time.sleep(2)
            idle_rss = rss_mb(opsgate.pid)
            ours = sequential(ns, args.requests, prefix="seq", jobs=True)
            stages = stage_means(f"http://127.0.0.1:{metrics_port}/metrics")
            throughput = burst(ns, args.burst, prefix="burst")
            busy_rss = rss_mb(opsgate.pid)
        finally:
            stop(opsgate)

    ms = {
        "raw_api_p50_ms": statistics.median(ours["create"] + floor["create"]) * 1000,
        "raw_api_p95_ms": percentile(ours["create"] + floor["create"], 95) * 1000,
        "floor_p50_ms": statistics.median(floor["decision"]) * 1000,
        "floor_p95_ms": percentile(floor["decision"], 95) * 1000,
        "decision_p50_ms": statistics.median(ours["decision"]) * 1000,
        "decision_p95_ms": percentile(ours["decision"], 95) * 1000,
        "job_p50_ms": statistics.median(ours["job"]) * 1000,
        "job_p95_ms": percentile(ours["job"], 95) * 1000,
    }
    figures: dict[str, Any] = {k: round(v, 1) for k, v in ms.items()}
    figures.update(
        throughput_per_s=round(throughput, 1),
        floor_throughput_per_s=round(floor_throughput, 1),
        decision_p95_vs_floor=round(ms["decision_p95_ms"] / ms["floor_p95_ms"], 2),
        decision_p95_vs_raw_api=round(ms["decision_p95_ms"] / ms["raw_api_p95_ms"], 2),
        throughput_vs_floor=round(throughput / floor_throughput, 2),
        operator_stage_mean_ms=stages,
        rss_idle_mb=round(idle_rss, 1),
        rss_after_burst_mb=round(busy_rss, 1),
        requests=args.requests,
        burst=args.burst,
    )
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    for label, key in [
        ("raw API create", "raw_api"),
        ("bare kopf (floor)", "floor"),
        ("OpsGate create→decision", "decision"),
        ("OpsGate create→Job", "job"),
    ]:
        print(f"{label:28}{figures[key + '_p50_ms']:>10}{figures[key + '_p95_ms']:>10}")
    print(
        f"throughput: OpsGate {figures['throughput_per_s']}/s, bare kopf {figures['floor_throughput_per_s']}/s "
        f"({args.burst} requests at once)"
    )
    print(
        f"decision p95 = {figures['decision_p95_vs_floor']}x the bare-kopf floor, "
        f"{figures['decision_p95_vs_raw_api']}x the raw API round-trip"
    )
    print("inside the operator (mean ms, one request at a time): " + ", ".join(f"{k} {v}" for k, v in stages.items()))
    print(f"operator RSS: {figures['rss_idle_mb']} MB idle, {figures['rss_after_burst_mb']} MB after the burst")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
