"""How fast OpsGate decides new OpsRequests as a user meets it, next to a bare kopf operator.

Measured from outside, in one run, on one cluster (a fresh hack/local-cluster.sh, or
--kubeconfig), with crds/ and deploy/ applied:

* Phase A, the floor: a bare kopf operator whose only handler writes one status field. Right
  after its liveness endpoint answers, N requests are created at a steady R per second
  (open loop: sent on schedule, never waiting for a decision), then a burst of B from 16 threads.
* Phase B, OpsGate: ``opsgate operator`` (rule parser, embedded defaults, context from an index
  of this repository, as tests/e2e/conftest.py runs it) from this checkout's operator/. The same
  N at R start right after its health endpoint answers, so the first requests after start are
  in the figures. The mix is realistic: half are Allowed and launch a Job (so Jobs are created
  and followed alongside the decisions), 1/8 await approval, 1/4 are Denied, 1/8 NeedsInfo.
  Then the burst of B.

Latency is create → decided, on the client clock: from the start of the create call to the
first watch event showing ``status.phase`` (floor: any phase; OpsGate: past Pending/Planning),
and for OpsGate also create → ``status.job.name``. Throughput is B / (first create of the burst
→ last decision). Each request has its own impersonated requester (group opsgate-bench), so the
rate-limit policies don't turn the load into denials. The operator's RSS (VmRSS sampled, VmHWM
for the peak) and CPU time come from /proc. Prints a table and ends with one JSON line.

    .venv/bin/python bench/reconcile.py [--requests 100] [--rate 10] [--burst 200] [--dry-run]
        [--kubeconfig PATH] [--keep]

``--dry-run`` sends every request as dryRun: the same decisions, no Job launched. Its decision
tail against the default run's is what the Jobs' traffic on the shared API server costs.

The floor runs twice: quiet (Phase A, the floor the issue's figures are against), and then with
the cluster's Job machinery as busy as in Phase B (Phase A', after B, on a fresh cluster of its
own): for each request of the mix that OpsGate allows, the client creates a Job of the same shape
in the executor namespace right after the request (the Job controller, the scheduler and kwok
then do for the floor what they do for OpsGate's Jobs). OpsGate against A' is what its own code
costs the decision with the same Jobs running; against A, what it costs plus the cluster's share
of running them on the same two cores.

It also counts what each steady phase cost the API server: the requests it served (from its own
``apiserver_request_total``, every client's, watches left out) from the first create until the
phase's Jobs have finished, per request sent; for OpsGate, the calls beyond the floor with the
same Jobs, by verb and resource. Unlike the latencies, these counts do not depend on the machine.

The operators always run from this checkout's operator/ (put first on their PYTHONPATH), whatever
the virtualenv's editable install points at; the JSON records the commit (+dirty). Logs and the
index stay in the scratch directory printed at the start and the end.

Targets (the issue): decision p95 <= 1.5x the floor's, burst throughput >= 0.5x the floor's.
Both floors are reported, with a verdict each: ``p95_ratio``/``p95_target_met`` against the quiet
one, ``p95_ratio_same_jobs``/``p95_target_met_same_jobs`` against A' (the floor under the same
cluster load: the issue measures "Jobs running alongside", and on two shared cores the quiet
floor's tail is 1.3-1.9x shorter than the same operator's with those Jobs running).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import (
    Api,
    EventWatcher,
    Operator,
    Watcher,
    any_phase,
    api_calls,
    bare_kopf,
    bench_namespace,
    clean,
    cluster,
    create_many,
    free_port,
    index_repository,
    install,
    log,
    opsgate_decided,
    opsgate_operator,
    percentile,
    ratio,
    request_text,
    scratch_dir,
    source_revision,
    stage_means,
    summary_ms,
)

P95_TARGET = 1.5
THROUGHPUT_TARGET = 0.5
EXECUTOR_NAMESPACE = "opsgate-system"  # deploy/'s, where OpsGate's Jobs run
FLOOR_JOB_LABEL = "bench.opsgate.dev/floor-job"
FLOOR_JOB_IMAGE = "ghcr.io/opsgate/opsgate:bench"  # never pulled: the pods run on kwok's fake nodes
LAUNCHING = ("Approved", "Running")  # the first decided phase of a request that gets a Job
FINAL = {"Succeeded", "Failed", "Denied", "NeedsInfo", "Answered", "Rejected", "Expired"}


@dataclass
class Steady:
    """The steady-rate phase: when each request was sent and what became of it."""

    names: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    sent: dict[str, float] = field(default_factory=dict)  # start of the create call
    create_s: list[float] = field(default_factory=list)
    late_s: list[float] = field(default_factory=list)  # how far behind schedule a create started
    decision_s: list[float] = field(default_factory=list)  # in send order; NaN if never decided
    job_s: list[float] = field(default_factory=list)
    event_s: list[float] = field(default_factory=list)  # create → its first Event (OpsGate's), of those posted
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    first_phases: Counter[str] = field(default_factory=Counter)


def floor_job(name: str) -> dict[str, Any]:
    """A Job like the ones OpsGate launches (one pod, run to completion on a fake node), for the floor."""
    container = {
        "name": "execute",
        "image": FLOOR_JOB_IMAGE,
        "command": ["opsgate", "execute"],
        "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir, as OpsGate's
        "securityContext": {  # the executor namespace enforces the restricted Pod Security level
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": EXECUTOR_NAMESPACE, "labels": {FLOOR_JOB_LABEL: "true"}},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 1800,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": {FLOOR_JOB_LABEL: "true"}},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": "opsgate-executor",  # deploy/'s, as OpsGate's Jobs
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                },
            },
        },
    }


def floor_jobs_done(api: Api, *, timeout: float) -> tuple[int, int]:
    """Wait until every floor Job has finished (bounded); how many there are, and how many finished."""
    deadline = time.monotonic() + timeout
    while True:
        listed = api.call("GET", f"/apis/batch/v1/namespaces/{EXECUTOR_NAMESPACE}/jobs?labelSelector={FLOOR_JOB_LABEL}")
        items = listed["items"]
        done = [j for j in items if (j.get("status") or {}).get("succeeded") or (j.get("status") or {}).get("failed")]
        if len(done) == len(items) or time.monotonic() > deadline:
            return len(items), len(done)
        time.sleep(0.5)


def remove_floor_jobs(api: Api) -> None:
    """Delete the floor's Jobs and their pods from a cluster that is not the bench's (--kubeconfig)."""
    api.call(
        "DELETE",
        f"/apis/batch/v1/namespaces/{EXECUTOR_NAMESPACE}/jobs?labelSelector={FLOOR_JOB_LABEL}"
        "&propagationPolicy=Background",
    )


def steady(
    api: Api,
    watcher: Watcher,
    namespace: str,
    *,
    count: int,
    rate: float,
    prefix: str,
    timeout: float,
    dry_run: bool = False,
    floor_jobs: bool = False,
) -> Steady:
    """Create ``count`` requests at ``rate``/s on schedule (open loop); wait for every decision.

    ``floor_jobs``: after each request OpsGate would allow, create a Job like OpsGate's (floor A').
    """
    result = Steady()
    lock = threading.Lock()

    def send(i: int, due: float) -> None:
        name, user = f"{prefix}-{i}", f"{prefix}-u{i}"
        kind, text = request_text(i)
        started = time.monotonic()
        api.create_request(namespace, name, text, user, dry_run=dry_run)
        if floor_jobs and kind == "allowed":
            api.call("POST", f"/apis/batch/v1/namespaces/{EXECUTOR_NAMESPACE}/jobs", floor_job(f"{namespace}-{i}"))
        with lock:
            result.sent[name] = started
            result.kinds[name] = kind
            result.create_s.append(time.monotonic() - started)
            result.late_s.append(started - due)

    result.names = [f"{prefix}-{i}" for i in range(count)]
    with ThreadPoolExecutor(16) as pool:
        begin = time.monotonic()
        for i in range(count):
            due = begin + i / rate
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(send, i, due)
    got = watcher.wait(result.names, timeout=timeout)
    if got < count:
        log(f"only {got}/{count} decided within {timeout:.0f}s")
    for name in result.names:
        at = watcher.first(name)
        latency = at - result.sent[name] if at is not None else math.nan
        result.decision_s.append(latency)
        result.by_kind.setdefault(result.kinds[name], []).append(latency)
        result.first_phases[watcher.first_phase(name) or "undecided"] += 1
    return result


def burst(
    api: Api, watcher: Watcher, namespace: str, *, count: int, prefix: str, threads: int, dry_run: bool = False
) -> dict[str, float]:
    """Create ``count`` requests as fast as ``threads`` threads can; decisions per second, and the create rate."""
    items = []
    for i in range(count):
        _kind, text = request_text(i)
        items.append((f"{prefix}-{i}", text, f"{prefix}-u{i}"))
    started, created = create_many(api, namespace, items, threads=threads, dry_run=dry_run)
    names = [name for name, _text, _user in items]
    got = watcher.wait(names, timeout=max(120.0, count))
    ends = [t for t in (watcher.first(n) for n in names) if t is not None]
    return {
        "throughput": got / (max(ends) - started) if ends else math.nan,
        "create_rate": count / (created - started),
        "decided": got,
        "seconds": max(ends) - started if ends else math.nan,
    }


def measure(
    operator: Operator,
    api: Api,
    namespace: str,
    args: argparse.Namespace,
    *,
    prefix: str,
    decided: Callable[[str], bool],
    jobs: bool,
    floor_jobs: bool = False,
) -> dict[str, Any]:
    """Start ``operator``, send the steady load right after it is ready, then the burst; stop it."""
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        watcher = stack.enter_context(Watcher(api, namespace, decided))
        # OpsGate's Events only: a watch on the floor's namespace would load the floor's API server
        events = stack.enter_context(EventWatcher(api, namespace)) if jobs else None
        try:
            out["startup_s"] = operator.start()
            out["rss_ready_mb"] = operator.status().get("VmRSS", math.nan)
            log(f"{operator.name} ready in {out['startup_s']:.1f}s; {args.requests} requests at {args.rate}/s")
            calls_before = api_calls(api)
            out["steady"] = steady(
                api,
                watcher,
                namespace,
                count=args.requests,
                rate=args.rate,
                prefix=prefix,
                timeout=120,
                dry_run=args.dry_run,
                floor_jobs=floor_jobs,
            )
            if floor_jobs:  # as for OpsGate: the steady phase's Jobs finish before the burst
                out["floor_jobs"] = floor_jobs_done(api, timeout=90)
            if jobs and not args.dry_run:
                launching = [n for n in out["steady"].names if watcher.first_phase(n) in LAUNCHING]
                watcher.wait(launching, timeout=60, done=watcher.job_at.__contains__)
                out["steady"].job_s = [
                    watcher.job_at[n] - out["steady"].sent[n] for n in launching if n in watcher.job_at
                ]
                out["jobs_expected"] = len(launching)
                # Let the steady phase's Jobs finish (bounded) so the burst measures decisions.
                settled = watcher.wait(launching, timeout=90, done=lambda n: watcher.last_phase.get(n) in FINAL)
                out["jobs_finished"] = settled
            if events is not None:  # every decision is posted as an Event: when could `kubectl describe` show it?
                names = out["steady"].names
                events.wait(names, timeout=30)
                seen = [(n, events.first(n)) for n in names]
                out["steady"].event_s = [at - out["steady"].sent[n] for n, at in seen if at is not None]
            # everything the steady phase cost the API server, its Jobs' whole lives included
            out["api_calls"] = api_calls(api) - calls_before
            out["rss_after_steady_mb"] = operator.status().get("VmRSS", math.nan)
            out["stages_steady"] = stage_means(args.metrics_port) if jobs else {}
            log(f"{operator.name}: burst of {args.burst}")
            out["burst"] = burst(
                api,
                watcher,
                namespace,
                count=args.burst,
                prefix=f"{prefix}b",
                threads=args.burst_threads,
                dry_run=args.dry_run,
            )
            out["stages_all"] = stage_means(args.metrics_port) if jobs else {}
            out["rss_after_mb"] = operator.status().get("VmRSS", math.nan)
            out["watch_events"] = watcher.events
            out["final_phases"] = Counter(watcher.last_phase.get(n, "none") for n in out["steady"].names)
        finally:
            final = operator.stop()
    out["rss_peak_mb"] = final.get("VmHWM", math.nan)
    out["cpu_s"] = final.get("cpu", math.nan)
    return out


def table(
    floor: dict[str, Any], busy: dict[str, Any], ours: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    fs, js, os_ = floor["steady"], busy["steady"], ours["steady"]
    f_dec, j_dec, o_dec = summary_ms(fs.decision_s), summary_ms(js.decision_s), summary_ms(os_.decision_s)
    o_job = summary_ms(os_.job_s)
    o_event = summary_ms(os_.event_s)
    split = 10
    f_first, f_rest = summary_ms(fs.decision_s[:split]), summary_ms(fs.decision_s[split:])
    o_first, o_rest = summary_ms(os_.decision_s[:split]), summary_ms(os_.decision_s[split:])
    throughput, floor_throughput = ours["burst"]["throughput"], floor["burst"]["throughput"]

    def row(label: str, s: dict[str, float], n: int) -> None:
        print(f"  {label:34}{n:>6}{s['p50']:>10}{s['p95']:>10}{s['p99']:>10}{s['max']:>10}")

    print(f"\n{args.requests} requests at {args.rate}/s right after start, then a burst of {args.burst}")
    print(f"  {'create → decided (ms)':34}{'n':>6}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}")
    row("bare kopf (floor)", f_dec, len(fs.decision_s))
    row(f"  floor, first {split}", f_first, len(fs.decision_s[:split]))
    row("  floor, the rest", f_rest, len(fs.decision_s[split:]))
    row("bare kopf, same Jobs running", j_dec, len(js.decision_s))
    row("OpsGate", o_dec, len(os_.decision_s))
    row(f"  OpsGate, first {split}", o_first, len(os_.decision_s[:split]))
    row("  OpsGate, the rest", o_rest, len(os_.decision_s[split:]))
    for kind in ("allowed", "approval", "denied", "needsinfo"):
        values = os_.by_kind.get(kind, [])
        row(f"  OpsGate, {kind}", summary_ms(values), len(values))
    row("OpsGate create → Job", o_job, len(os_.job_s))
    row("OpsGate create → its first Event", o_event, len(os_.event_s))
    row("raw API create call (both)", summary_ms(fs.create_s + os_.create_s), len(fs.create_s + os_.create_s))
    late = percentile(fs.late_s + os_.late_s, 99) * 1000
    print(f"  sender: p99 {late:.1f} ms behind schedule (open loop; large values mean the client fell behind)")
    print("  first 10 after start (ms):")
    print("    floor   " + " ".join(f"{v * 1000:7.0f}" for v in fs.decision_s[:split]))
    print("    OpsGate " + " ".join(f"{v * 1000:7.0f}" for v in os_.decision_s[:split]))
    print(f"  OpsGate first decided phase: {dict(os_.first_phases)}; final: {dict(ours['final_phases'])}")
    if "jobs_expected" in ours:
        print(
            f"  Jobs: {len(os_.job_s)}/{ours['jobs_expected']} launched, {ours['jobs_finished']} finished "
            "before the burst"
        )
    print(
        f"\nburst of {args.burst}: OpsGate {throughput:.1f}/s ({ours['burst']['decided']} decided), "
        f"bare kopf {floor_throughput:.1f}/s; created at {ours['burst']['create_rate']:.0f}/s and "
        f"{floor['burst']['create_rate']:.0f}/s by the client"
    )
    if floor_throughput > 0.85 * floor["burst"]["create_rate"]:
        print(
            "  (the floor kept up with the client's creates: its throughput is a lower bound and the ratio "
            "flatters OpsGate; a less loaded machine creates faster)"
        )
    for name, figures in (("bare kopf", floor), ("OpsGate", ours)):
        print(
            f"{name:10} ready {figures['startup_s']:.1f}s after launch; RSS {figures['rss_ready_mb']:.0f} MB ready, "
            f"{figures['rss_after_steady_mb']:.0f} after the steady load, {figures['rss_after_mb']:.0f} after the "
            f"burst, peak {figures['rss_peak_mb']:.0f} MB; CPU {figures['cpu_s']:.1f}s; "
            f"{figures['watch_events']} watch events"
        )
    if ours["stages_steady"]:
        stages = ", ".join(f"{k} {v}" for k, v in ours["stages_steady"].items())
        print(f"inside OpsGate (its opsgate_reconcile_seconds, mean ms, steady phase): {stages}")
    if ours["stages_all"]:
        print(
            "                                             (after the burst): "
            + ", ".join(f"{k} {v}" for k, v in ours["stages_all"].items())
        )

    per_request = {
        name: sum(run["api_calls"].values()) / max(len(run["steady"].names), 1)
        for name, run in (("floor", floor), ("floor_jobs", busy), ("opsgate", ours))
    }
    print(
        f"API server requests per request of the steady phase (every client, watches left out): bare kopf "
        f"{per_request['floor']:.1f}, with the same Jobs {per_request['floor_jobs']:.1f}, OpsGate "
        f"{per_request['opsgate']:.1f}"
    )
    extra = ours["api_calls"] - busy["api_calls"]
    n = max(len(os_.names), 1)
    top = ", ".join(f"{call} {count / n:.2f}" for call, count in extra.most_common(12))
    print(f"  OpsGate's beyond the floor with the same Jobs, per request: {top}")

    p95_ratio = ratio(o_dec["p95"], f_dec["p95"])
    same_jobs_ratio = ratio(o_dec["p95"], j_dec["p95"])
    throughput_ratio = ratio(throughput, floor_throughput)
    if "floor_jobs" in busy:
        made, finished = busy["floor_jobs"]
        print(f"  floor with Jobs: {made} Jobs created beside its requests, {finished} finished before its burst")
    print(
        f"\ndecision p95 = {p95_ratio}x the floor (target <= {P95_TARGET}); "
        f"p50 = {ratio(o_dec['p50'], f_dec['p50'])}x; throughput = {throughput_ratio}x the floor's "
        f"(target >= {THROUGHPUT_TARGET})"
    )
    print(
        f"decision p95 = {same_jobs_ratio}x the floor with the same Jobs running ({j_dec['p95']} ms, "
        f"target <= {P95_TARGET}); p50 = {ratio(o_dec['p50'], j_dec['p50'])}x"
    )
    return clean(
        {
            "decision_p50_ms": o_dec["p50"],
            "decision_p95_ms": o_dec["p95"],
            "decision_p99_ms": o_dec["p99"],
            "decision_max_ms": o_dec["max"],
            "floor_p50_ms": f_dec["p50"],
            "floor_p95_ms": f_dec["p95"],
            "floor_p99_ms": f_dec["p99"],
            "floor_max_ms": f_dec["max"],
            "p50_ratio": ratio(o_dec["p50"], f_dec["p50"]),
            "floor_jobs_p50_ms": j_dec["p50"],
            "floor_jobs_p95_ms": j_dec["p95"],
            "p95_ratio_same_jobs": same_jobs_ratio,
            "p95_ratio": p95_ratio,
            "first10_p95_ms": o_first["p95"],
            "rest_p95_ms": o_rest["p95"],
            "floor_first10_p95_ms": f_first["p95"],
            "floor_rest_p95_ms": f_rest["p95"],
            "rest_p95_ratio": ratio(o_rest["p95"], f_rest["p95"]),
            "job_p50_ms": o_job["p50"],
            "job_p95_ms": o_job["p95"],
            "event_p50_ms": o_event["p50"],
            "event_p95_ms": o_event["p95"],
            "throughput_per_s": round(throughput, 1),
            "floor_throughput_per_s": round(floor_throughput, 1),
            "throughput_ratio": throughput_ratio,
            "burst_create_rate_per_s": round(ours["burst"]["create_rate"], 1),
            "floor_burst_create_rate_per_s": round(floor["burst"]["create_rate"], 1),
            "startup_s": round(ours["startup_s"], 2),
            "floor_startup_s": round(floor["startup_s"], 2),
            "rss_ready_mb": round(ours["rss_ready_mb"], 1),
            "rss_after_mb": round(ours["rss_after_mb"], 1),
            "rss_peak_mb": round(ours["rss_peak_mb"], 1),
            "floor_rss_peak_mb": round(floor["rss_peak_mb"], 1),
            "api_calls_per_request": round(per_request["opsgate"], 1),
            "floor_api_calls_per_request": round(per_request["floor"], 1),
            "floor_jobs_api_calls_per_request": round(per_request["floor_jobs"], 1),
            "cpu_s": round(ours["cpu_s"], 1),
            "floor_cpu_s": round(floor["cpu_s"], 1),
            "undecided": sum(1 for v in os_.decision_s if math.isnan(v)),
            "p95_target_met": p95_ratio <= P95_TARGET,
            "p95_target_met_same_jobs": same_jobs_ratio <= P95_TARGET,
            "throughput_target_met": throughput_ratio >= THROUGHPUT_TARGET,
            "requests": args.requests,
            "rate": args.rate,
            "burst": args.burst,
            "dry_run": args.dry_run,
            "operator_revision": args.revision,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="requests sent at a steady rate (latency)")
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second in the steady phase")
    parser.add_argument("--burst", type=int, default=200, help="requests created at once (throughput)")
    parser.add_argument("--burst-threads", type=int, default=16, help="threads creating the burst")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="every request dryRun: decisions without the Job pipeline (what the Jobs' traffic costs the tail)",
    )
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting a local one")
    parser.add_argument("--keep", action="store_true", help="leave the local cluster running")
    args = parser.parse_args()
    args.revision = source_revision()
    scratch = scratch_dir("opsgate-bench-reconcile.")
    log(f"logs and state in {scratch}; operator from {Path(__file__).resolve().parents[1] / 'operator'}")

    with cluster(args.kubeconfig, keep=args.keep):
        install()
        api = Api(pool_size=32)
        stamp = time.strftime("%H%M%S")
        log("indexing the repository for OpsGate's context (opsgate index)")
        index_repository(scratch)

        floor_ns = bench_namespace(f"bench-floor-{stamp}")
        floor = measure(bare_kopf(floor_ns, scratch), api, floor_ns, args, prefix="f", decided=any_phase, jobs=False)
        ns = bench_namespace(f"bench-opsgate-{stamp}")
        args.metrics_port = free_port()
        ours = measure(
            opsgate_operator(ns, scratch, metrics_port=args.metrics_port),
            api,
            ns,
            args,
            prefix="o",
            decided=opsgate_decided,
            jobs=True,
        )

    # The floor with Jobs (A') on a fresh cluster of its own (with --kubeconfig: the same one, after
    # OpsGate's run), so that neither run meets what the other left behind.
    with cluster(args.kubeconfig):
        install()
        api = Api(pool_size=32)
        busy_ns = bench_namespace(f"bench-floorj-{stamp}")
        busy = measure(
            bare_kopf(busy_ns, scratch),
            api,
            busy_ns,
            args,
            prefix="j",
            decided=any_phase,
            jobs=False,
            floor_jobs=not args.dry_run,
        )
        if args.kubeconfig:
            remove_floor_jobs(api)

    figures = table(floor, busy, ours, args)
    print(f"logs: {scratch}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
