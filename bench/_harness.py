"""What bench/reconcile.py and bench/backlog.py share: a cluster, operators as processes, a watch.

Everything here measures from *outside* the operator, the way a user meets it: objects are
created through the API server as impersonated requesters, decisions are seen on a watch of the
API server (client clock), and an operator is a separate process whose memory and CPU are read
from ``/proc``. Nothing imports ``opsgate``, so the benches keep working while the operator's
internals change; the operator runs from this checkout (``operator/`` first on PYTHONPATH).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

ROOT = Path(__file__).resolve().parents[1]
API = "/apis/opsgate.dev/v1alpha1"
GROUP = "opsgate-bench"  # the requesters' group, bound to opsgate-requester in each bench namespace
UNDECIDED = {"Pending", "Planning"}

# The framework floor: a kopf operator whose only handler writes one status field on create,
# with the same bookkeeping storage OpsGate uses (annotations under opsgate.dev/).
# BENCH_KOPF_WORKER_LIMIT caps kopf's concurrent per-object workers (default: kopf's, unlimited).
BARE_KOPF = """
import logging, os, kopf

@kopf.on.startup()
def configure(settings, **_):
    settings.posting.level = logging.WARNING
    if os.environ.get("BENCH_KOPF_WORKER_LIMIT"):
        settings.batching.worker_limit = int(os.environ["BENCH_KOPF_WORKER_LIMIT"])
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="opsgate.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="opsgate.dev", key="last-handled-configuration")

@kopf.on.create("opsgate.dev", "v1alpha1", "opsrequests")
def mark(patch, **_):
    patch.status["phase"] = "Pending"
"""

# One cycle of eight requests, a realistic mix (checked with `opsgate plan --json`, rule parser):
# four Allowed that launch a Job, one ApprovalRequired, two Denied, one NeedsInfo.
MIX = [
    ("allowed", "scale the checkout deployment to {r} replicas in staging"),
    ("allowed", "restart the payments deployment in dev"),
    ("approval", "create an email for user{n}@acme.org"),
    ("denied", "delete namespace team-{n} in production"),
    ("allowed", "scale the checkout deployment to {r} replicas in staging"),
    ("needsinfo", "scale the checkout deployment"),
    ("allowed", "restart the payments deployment in dev"),
    ("denied", "create a website shop{n}.acme.org without tls in staging"),
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- figures ------------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile (p95 of 100 values is the 95th smallest); NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (rounded to 0.1)."""
    return {
        k: round(percentile(seconds, p) * 1000, 1) for k, p in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b and not math.isnan(a) and not math.isnan(b) else math.nan


def clean(figures: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON: None instead."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in figures.items()}


def request_text(i: int) -> tuple[str, str]:
    """(expected class, text) of the i-th request of the mix."""
    kind, template = MIX[i % len(MIX)]
    return kind, template.format(n=i, r=i % 9 + 1)


# --- the cluster --------------------------------------------------------------------------------


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> str:
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"kubectl {shlex.join(args)}: {result.stderr.strip()}")
    return result.stdout


@contextlib.contextmanager
def cluster(kubeconfig: str | None, *, keep: bool = False, process_node: bool = False) -> Iterator[None]:
    """A cluster for this run: ``kubeconfig`` (an existing one) or a fresh hack/local-cluster.sh.

    The fresh one is stopped at the end unless ``keep``; then its ``down`` command is printed.
    With ``process_node``, executor Jobs go to its process node and really run; otherwise they
    land on fake nodes (the decision benches measure deciding, not executing).
    """
    if kubeconfig:
        os.environ["KUBECONFIG"] = str(Path(kubeconfig).resolve())
        log(f"using the cluster of {os.environ['KUBECONFIG']}")
        yield
        return
    script = str(ROOT / "hack" / "local-cluster.sh")
    up = None
    for _attempt in range(2):  # as tests/e2e/conftest.py: a slow first start is retried once, cleanly
        log("starting a local control plane (hack/local-cluster.sh up)")
        up = subprocess.run([script, "up"], capture_output=True, text=True, check=False)
        if up.returncode == 0:
            break
    assert up is not None
    if up.returncode != 0:
        raise RuntimeError(f"hack/local-cluster.sh up failed:\n{up.stderr[-3000:]}")
    exports = {}
    for line in up.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export":
            name, _, value = words[1].partition("=")
            exports[name] = value
    state = exports["OPSGATE_CLUSTER_DIR"]
    os.environ.update(KUBECONFIG=exports["KUBECONFIG"], OPSGATE_CLUSTER_DIR=state)
    if process_node:
        os.environ.update({k: v for k, v in exports.items() if k.startswith("OPSGATE_EXECUTOR_")})
    os.environ["PATH"] = f"{exports['PATH'].removesuffix(':$PATH')}:{os.environ['PATH']}"
    log(f"cluster up, state in {state}")
    try:
        yield
    finally:
        if keep:
            log(f"cluster kept: export KUBECONFIG={exports['KUBECONFIG']}; stop it with: {script} down {state}")
        else:
            subprocess.run([script, "down", state], check=False, capture_output=True)
            log("cluster stopped")


def install() -> None:
    """The API surface (crds/) and the operator's namespace and roles (deploy/)."""
    kubectl("apply", "-f", str(ROOT / "crds"), "-f", str(ROOT / "deploy"))
    kubectl("wait", "--for=condition=Established", "crd/opsrequests.opsgate.dev", "crd/approvals.opsgate.dev")


def bench_namespace(name: str) -> str:
    """A namespace whose requesters (group opsgate-bench) hold opsgate-requester; tags set."""
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "opsgate.dev/project=bench", "opsgate.dev/cost-center=cc-bench")
    kubectl("create", "rolebinding", "bench", "--clusterrole=opsgate-requester", f"--group={GROUP}", "-n", name)
    return name


class Api:
    """The API server over one thread-safe connection pool, with the kubeconfig's credentials."""

    def __init__(self, pool_size: int = 16) -> None:
        import kubernetes  # only for reading the kubeconfig (exec plugins, tokens, certs)

        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(client_configuration=config)  # type: ignore[no-untyped-call]
        self.host = config.host.rstrip("/")
        self.headers = {"Accept": "application/json", "Content-Type": "application/json"}
        token = config.get_api_key_with_prefix("authorization")
        if token:
            self.headers["Authorization"] = token
        self.pool = urllib3.PoolManager(
            maxsize=pool_size,
            cert_reqs="CERT_REQUIRED" if config.verify_ssl else "CERT_NONE",
            ca_certs=config.ssl_ca_cert,
            cert_file=config.cert_file,
            key_file=config.key_file,
            retries=False,
        )

    def call(self, method: str, path: str, body: Any = None, *, as_user: str | None = None, timeout: float = 60) -> Any:
        headers = dict(self.headers)
        if as_user:
            headers.update({"Impersonate-User": as_user, "Impersonate-Group": GROUP})
        data = None if body is None else json.dumps(body).encode()
        response = self.pool.request(method, self.host + path, body=data, headers=headers, timeout=timeout)
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {response.data[:500]!r}")
        return json.loads(response.data) if response.data else None

    def create_request(self, namespace: str, name: str, text: str, requester: str, *, dry_run: bool = False) -> None:
        """Create an OpsRequest as ``requester`` (its own user: rate limits are per requester).

        ``dry_run``: decided and planned like any other, but no Job is launched for it.
        """
        spec: dict[str, Any] = {
            "request": text,
            "requester": requester,
            "requesterGroups": [GROUP, "system:authenticated"],
        }
        if dry_run:
            spec["dryRun"] = True
        body = {
            "apiVersion": "opsgate.dev/v1alpha1",
            "kind": "OpsRequest",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        for attempt in range(5):  # a transient 429/5xx on a loaded 2-core machine is not the operator's fault
            try:
                self.call("POST", f"{API}/namespaces/{namespace}/opsrequests", body, as_user=requester)
                return
            except RuntimeError as exc:
                if "409" in str(exc) and attempt:  # our retry after a lost answer: it exists
                    return
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
            except urllib3.exceptions.HTTPError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))


def create_many(
    api: Api,
    namespace: str,
    items: list[tuple[str, str, str]],
    *,
    threads: int = 8,
    progress: int = 0,
    dry_run: bool = False,
) -> tuple[float, float]:
    """Create (name, text, requester) OpsRequests from ``threads`` threads; (first start, last end)."""
    done = 0
    lock = threading.Lock()
    started = time.monotonic()

    def one(item: tuple[str, str, str]) -> None:
        nonlocal done
        api.create_request(namespace, *item, dry_run=dry_run)
        with lock:
            done += 1
            if progress and done % progress == 0:
                rate = done / (time.monotonic() - started)
                log(f"created {done}/{len(items)} ({rate:.0f}/s)")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, items))
    return started, time.monotonic()


# --- watching decisions -------------------------------------------------------------------------


class Watcher:
    """First time (client clock) each OpsRequest of a namespace showed each phase, and a Job.

    A LIST, then a WATCH from its resourceVersion over one streaming connection; ``start``
    returns once the API server has answered the WATCH, so nothing created afterwards is seen
    late because the watch was not there yet. Reconnects from the last resourceVersion.
    """

    path = API + "/namespaces/{namespace}/opsrequests"

    def __init__(self, api: Api, namespace: str, decided: Callable[[str], bool]) -> None:
        self.api = api
        self.namespace = namespace
        self.decided = decided  # which phases count as decided (any_phase, opsgate_decided)
        self.decided_at: dict[str, float] = {}  # name -> first seen decided
        self.decided_phase: dict[str, str] = {}  # name -> the phase it was first seen decided in
        self.last_phase: dict[str, str] = {}
        self.job_at: dict[str, float] = {}
        self.events = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._established = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{namespace}", daemon=True)
        self._response: Any = None

    def __enter__(self) -> Watcher:
        self._thread.start()
        if not self._established.wait(60):
            raise RuntimeError("the watch did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self._response.shutdown()
        self._thread.join(5)

    def _record(self, obj: dict[str, Any], now: float) -> None:
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        phase = status.get("phase")
        with self.lock:
            self.events += 1
            if phase:
                self.last_phase[name] = phase
                if name not in self.decided_at and self.decided(phase):
                    self.decided_phase[name] = phase
                    self.decided_at[name] = now
            if (status.get("job") or {}).get("name"):
                self.job_at.setdefault(name, now)

    def _run(self) -> None:
        path = self.path.format(namespace=self.namespace)
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    listed = self.api.call("GET", path)
                    now = time.monotonic()
                    for obj in listed["items"]:
                        self._record(obj, now)
                    version = listed["metadata"]["resourceVersion"]
                query = f"?watch=1&allowWatchBookmarks=true&timeoutSeconds=1800&resourceVersion={version}"
                self._response = self.api.pool.request(
                    "GET",
                    self.api.host + path + query,
                    headers=self.api.headers,
                    preload_content=False,
                    timeout=urllib3.Timeout(connect=10, read=None),
                )
                self._established.set()
                version = self._read(self._response, version)
            except (urllib3.exceptions.HTTPError, OSError, ValueError, RuntimeError):
                if self._stop.is_set():
                    return
                time.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    self._response.release_conn()

    def _read(self, response: Any, version: str) -> str:
        """Record the events of one watch connection; the resourceVersion to resume from ("": list)."""
        buffer = b""
        for chunk in response.stream(65536, decode_content=True):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            now = time.monotonic()
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":  # e.g. 410 Gone: list again
                    return ""
                version = event["object"]["metadata"].get("resourceVersion", version)
                if event["type"] in ("ADDED", "MODIFIED"):
                    self._record(event["object"], now)
        return version

    def first(self, name: str) -> float | None:
        """When ``name`` was first seen decided (None: not yet)."""
        return self.decided_at.get(name)

    def first_phase(self, name: str) -> str | None:
        return self.decided_phase.get(name)

    def wait(
        self,
        names: list[str],
        *,
        timeout: float,
        done: Callable[[str], bool] | None = None,
        tick: Callable[[int], None] | None = None,
        tick_every: float = 1.0,
    ) -> int:
        """Wait until ``done(name)`` (default: decided) for all ``names``, or ``timeout``; how many are.

        Cheap enough to poll 20 times a second with 5,000 names: the bench shares the cores with
        the operator it measures.
        """
        done = done or self.decided_at.__contains__
        deadline = time.monotonic() + timeout
        last_tick = 0.0
        pending = list(names)
        while pending and time.monotonic() < deadline:
            pending = [n for n in pending if not done(n)]
            if tick and time.monotonic() - last_tick >= tick_every:
                last_tick = time.monotonic()
                tick(len(names) - len(pending))
            if pending:
                time.sleep(0.05)
        return len(names) - len(pending)


class EventWatcher(Watcher):
    """First time (client clock) an Event about each object of a namespace was seen, as
    ``kubectl describe`` would show it: ``first(name)``. Only Events of ``component``."""

    path = "/api/v1/namespaces/{namespace}/events"

    def __init__(self, api: Api, namespace: str, component: str = "opsgate") -> None:
        super().__init__(api, namespace, bool)
        self.component = component

    def _record(self, obj: dict[str, Any], now: float) -> None:
        source = obj.get("reportingComponent") or (obj.get("source") or {}).get("component")
        if source != self.component:
            return
        with self.lock:
            self.events += 1
            self.decided_at.setdefault(obj["involvedObject"]["name"], now)


def any_phase(phase: str) -> bool:
    """The floor's 'decided': bare kopf wrote its one status field."""
    return bool(phase)


def opsgate_decided(phase: str) -> bool:
    """OpsGate's 'decided': status.phase set to something past Pending/Planning."""
    return phase not in UNDECIDED


# --- operators as processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(**extra: str) -> dict[str, str]:
    """The environment of an operator process: this checkout's operator/ first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "operator"), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def source_revision() -> str:
    """The commit of this checkout (with ``+dirty`` for uncommitted changes), for the record."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "operator"], capture_output=True, text=True
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) in MB, and CPU seconds (user + system) of ``pid``."""
    figures: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                figures[key] = int(value.split()[0]) / 1024
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        figures["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return figures


@dataclass
class Operator:
    """An operator process (bare kopf or ``opsgate operator``), its readiness, memory and CPU."""

    name: str
    argv: list[str]
    health: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    launched: float = 0.0
    ready_at: float = 0.0
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (t, rss MB, cpu s)
    final: dict[str, float] = field(default_factory=dict)
    _sampling: threading.Event = field(default_factory=threading.Event)

    def start(self, *, timeout: float = 120) -> float:
        """Launch, wait until its health endpoint answers 200; seconds from launch to ready."""
        with self.log_path.open("wb") as out:  # the child keeps its own descriptor
            self.launched = time.monotonic()
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        threading.Thread(target=self._sample, daemon=True).start()
        deadline = self.launched + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(self.health, timeout=1) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        self.ready_at = time.monotonic()
                        return self.ready_at - self.launched
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} never became ready; log in {self.log_path}")

    def _sample(self, every: float = 0.5) -> None:
        assert self.process is not None
        while not self._sampling.is_set() and self.process.poll() is None:
            figures = proc_status(self.process.pid)
            if "VmRSS" in figures:
                self.samples.append((time.monotonic(), figures["VmRSS"], figures.get("cpu", math.nan)))
            self._sampling.wait(every)

    def status(self) -> dict[str, float]:
        assert self.process is not None
        return proc_status(self.process.pid)

    def stop(self) -> dict[str, float]:
        """Read the final VmHWM/CPU, then SIGTERM (SIGKILL after 20 s); the final figures."""
        if self.process is None:
            return {}
        if self.process.poll() is None:
            self.final = self.status()
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self._sampling.set()
        return self.final

    def rss_at(self, t: float) -> float:
        """The sampled RSS closest before monotonic time ``t``."""
        before = [rss for at, rss, _cpu in self.samples if at <= t]
        return before[-1] if before else math.nan


def scratch_dir(prefix: str) -> Path:
    """A directory for logs and state that outlives the run (its path is printed)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp")))  # noqa: S108


def bare_kopf(namespace: str, scratch: Path, *, worker_limit: int | None = None) -> Operator:
    script = scratch / "bare_kopf.py"
    script.write_text(BARE_KOPF)
    health = f"http://127.0.0.1:{free_port()}/healthz"
    argv = [sys.executable, "-m", "kopf", "run", "--standalone", "-n", namespace, f"--liveness={health}", str(script)]
    env = child_env(**({"BENCH_KOPF_WORKER_LIMIT": str(worker_limit)} if worker_limit else {}))
    return Operator("bare kopf", argv, health, scratch / f"bare-kopf-{namespace}.log", env)


def opsgate_operator(namespace: str, scratch: Path, *, metrics_port: int = 0, **env: str) -> Operator:
    """``opsgate operator`` as tests/e2e/conftest.py starts it: rule parser, embedded defaults."""
    health = f"http://127.0.0.1:{free_port()}/healthz"
    argv = [sys.executable, "-m", "opsgate", "operator", "--namespace", namespace]
    argv += ["--metrics-port", str(metrics_port), "--health", health]
    defaults = {"OPSGATE_LOG_LEVEL": "INFO", "QDRANT_PATH": str(scratch / "qdrant")}
    return Operator("opsgate", argv, health, scratch / "opsgate.log", child_env(**{**defaults, **env}))


def index_repository(scratch: Path) -> float:
    """``opsgate index`` of this repository into the operator's embedded store; seconds taken."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "opsgate", "index"],
        cwd=ROOT,
        env=child_env(QDRANT_PATH=str(scratch / "qdrant")),
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def stage_means(port: int) -> dict[str, float]:
    """Mean ms per stage of the operator's own ``opsgate_reconcile_seconds`` histogram, if it has one."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        for suffix, target in (("_sum", sums), ("_count", counts)):
            if line.startswith(f"opsgate_reconcile_seconds{suffix}{{") and 'stage="' in line:
                stage = line.split('stage="')[1].split('"')[0]
                target[stage] = float(line.rsplit(" ", 1)[1])
    return {stage: round(sums[stage] / counts[stage] * 1000, 1) for stage in sums if counts.get(stage)}


def api_calls(api: Api) -> Counter[str]:
    """Requests the API server has served so far, by "VERB resource[/subresource]" (watches left out).

    From its own ``apiserver_request_total``: every client's calls, the operator's, the bench's and
    the cluster's controllers'. The difference of two readings is what happened in between.
    """
    response = api.pool.request("GET", api.host + "/metrics", headers=api.headers, timeout=30)
    counts: Counter[str] = Counter()
    for line in response.data.decode().splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(part.split("=", 1) for part in line[line.index("{") + 1 : line.rindex("}")].split(","))
        verb, resource = labels.get("verb", "").strip('"'), labels.get("resource", "").strip('"')
        if verb in ("WATCH", "CONNECT") or not resource:
            continue
        sub = labels.get("subresource", "").strip('"')
        counts[f"{verb} {resource}{'/' + sub if sub else ''}"] += int(float(line.rsplit(" ", 1)[1]))
    return counts


def log_counts(path: Path) -> dict[str, int]:
    """Lines of an operator's log, and how many mention errors, retries, tracebacks, cancellations."""
    counts = {"lines": 0, "errors": 0, "retries": 0, "tracebacks": 0, "cancelled": 0}
    with contextlib.suppress(OSError), path.open(errors="replace") as lines:
        for line in lines:
            counts["lines"] += 1
            lowered = line.lower()
            if "traceback (most recent call last)" in lowered:
                counts["tracebacks"] += 1
            if "error" in lowered or ("failed" in lowered and " 0 failed" not in lowered):
                counts["errors"] += 1
            if "retry" in lowered:
                counts["retries"] += 1
            if "is cancelled" in lowered:  # handlers still running when the operator was stopped
                counts["cancelled"] += 1
    return counts
