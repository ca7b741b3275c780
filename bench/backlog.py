"""How long OpsGate takes to decide a backlog, and how much memory it needs, next to bare kopf.

M OpsRequests (default 5,000) are created while no operator runs, as after an outage or an
upgrade; then the operator starts and the time until every one is decided is measured from
outside (a watch on the namespace, client clock), with its peak memory (VmHWM from /proc) and
CPU time. The same M are handled in the same run by a bare kopf operator (one status field on
create) in a namespace of their own: the floor.

The mix is the one of bench/reconcile.py: half Allowed (each launches a Job, run by
kube-controller-manager and kwok alongside), 1/8 ApprovalRequired (each leaves a pending
Approval, which OpsGate watches until it expires), 1/4 Denied, 1/8 NeedsInfo; every request
has its own impersonated requester, so rate limits don't interfere. Decided = status.phase
past Pending/Planning (floor: any phase). Drain time counts from the operator's launch, so it
includes start-up. For OpsGate the time until every Allowed request has its Job is reported
too (a decision is not the end of the work), bounded by --job-timeout. Prints a timeline
(decided, RSS, CPU), a table, and one JSON line.

    .venv/bin/python bench/backlog.py [--count 5000] [--kubeconfig PATH] [--keep]

As in bench/reconcile.py, the operators run from this checkout's operator/, and the JSON records
the commit. Creating 5,000 takes about half a minute per namespace (8 threads, progress on
stderr); --count runs smaller.

Target (the issue): peak RSS <= 300 MB for 5,000.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import (
    Api,
    Operator,
    Watcher,
    any_phase,
    bare_kopf,
    bench_namespace,
    clean,
    cluster,
    create_many,
    index_repository,
    install,
    log,
    log_counts,
    opsgate_decided,
    opsgate_operator,
    request_text,
    scratch_dir,
    source_revision,
)

RSS_TARGET_MB = 300
LAUNCHING = ("Approved", "Running")  # the first decided phase of a request that gets a Job


def fill(api: Api, namespace: str, count: int, prefix: str) -> float:
    """Create the backlog (no operator running); the create rate."""
    items = []
    for i in range(count):
        _kind, text = request_text(i)
        items.append((f"{prefix}-{i}", text, f"{prefix}-u{i}"))
    log(f"creating {count} OpsRequests in {namespace}")
    started, ended = create_many(api, namespace, items, threads=8, progress=max(100, count // 10))
    rate = count / (ended - started)
    log(f"created {count} in {ended - started:.1f}s ({rate:.0f}/s)")
    return rate


def drain(
    operator: Operator,
    api: Api,
    namespace: str,
    names: list[str],
    *,
    decided: Callable[[str], bool],
    timeout: float,
    settle: float,
    job_timeout: float = 0,
) -> dict[str, Any]:
    """Start ``operator`` on the backlog and wait until all ``names`` are decided."""
    out: dict[str, Any] = {"timeline": []}
    with Watcher(api, namespace, decided) as watcher:
        try:

            def tick(done: int) -> None:
                figures = operator.status()
                row = (time.monotonic() - operator.launched, done, figures.get("VmRSS", math.nan))
                out["timeline"].append((*row, figures.get("cpu", math.nan)))
                log(f"{operator.name}: {done}/{len(names)} decided, t={row[0]:.0f}s, RSS {row[2]:.0f} MB")

            out["startup_s"] = operator.start()
            out["rss_ready_mb"] = operator.status().get("VmRSS", math.nan)
            log(f"{operator.name} ready in {out['startup_s']:.1f}s")
            out["decided"] = watcher.wait(names, timeout=timeout, tick=tick, tick_every=5)
            times = [t for t in (watcher.first(n) for n in names) if t is not None]
            out["drain_s"] = max(times) - operator.launched if times else math.nan
            out["first_s"] = min(times) - operator.launched if times else math.nan
            out["rss_drained_mb"] = operator.status().get("VmRSS", math.nan)
            tick(out["decided"])
            if job_timeout:  # the Allowed ones: decided is not done until their Job exists
                launching = [n for n in names if watcher.first_phase(n) in LAUNCHING]
                log(f"{operator.name}: waiting for the Jobs of {len(launching)} Allowed requests")
                watcher.wait(launching, timeout=job_timeout, done=watcher.job_at.__contains__)
                job_times = [watcher.job_at[n] for n in launching if n in watcher.job_at]
                out["jobs_expected"] = len(launching)
                complete = len(job_times) == len(launching)
                out["jobs_drain_s"] = max(job_times) - operator.launched if job_times and complete else math.nan
                out["first_job_s"] = min(job_times) - operator.launched if job_times else math.nan
            time.sleep(settle)  # what the operator keeps doing (Jobs, daemons) right after the drain
            out["rss_settled_mb"] = operator.status().get("VmRSS", math.nan)
            out["phases"] = Counter(watcher.last_phase.get(n, "none") for n in names)
            out["jobs"] = len(watcher.job_at)
            out["watch_events"] = watcher.events
        finally:
            final = operator.stop()
    out["rss_peak_mb"] = final.get("VmHWM", math.nan)
    out["cpu_s"] = final.get("cpu", math.nan)
    out["log"] = log_counts(operator.log_path)
    return out


def report(floor: dict[str, Any], ours: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    count = args.count
    for name, figures in (("bare kopf", floor), ("OpsGate", ours)):
        print(f"\n{name}: timeline after launch (s, decided, RSS MB, CPU s)")
        rows = figures["timeline"]
        step = max(1, len(rows) // 15)
        for t, done, rss, cpu in [*rows[:-1:step], rows[-1]] if rows else []:
            print(f"  {t:7.1f}{done:8}{rss:9.0f}{cpu:9.1f}")

    def rate(figures: dict[str, Any]) -> float:
        return figures["decided"] / figures["drain_s"] if figures["drain_s"] else math.nan

    print(f"\n{count} OpsRequests created with no operator running, then the operator started")
    heads = (("decided", 9), ("drain s", 9), ("per s", 8), ("first s", 9), ("ready s", 9), ("RSS MB", 8))
    print(f"  {'':12}" + "".join(f"{h:>{w}}" for h, w in heads) + f"{'peak':>7}{'CPU s':>8}")
    for name, f in (("bare kopf", floor), ("OpsGate", ours)):
        print(
            f"  {name:12}{f['decided']:>9}{f['drain_s']:>9.1f}{rate(f):>8.1f}{f['first_s']:>9.1f}{f['startup_s']:>9.1f}"
            f"{f['rss_ready_mb']:>8.0f}{f['rss_peak_mb']:>7.0f}{f['cpu_s']:>8.1f}"
        )
    print(f"  OpsGate final phases: {dict(ours['phases'])}; Jobs launched: {ours['jobs']}")
    if "jobs_expected" in ours:
        first, last = (
            "none" if math.isnan(ours[k]) else f"{ours[k]:.1f}s after launch" for k in ("first_job_s", "jobs_drain_s")
        )
        print(
            f"  OpsGate Jobs of the {ours['jobs_expected']} Allowed: {ours['jobs']} within --job-timeout "
            f"{args.job_timeout:.0f}s of the drain; first {first}, all {last}"
        )
    per_request_kb = (ours["rss_peak_mb"] - ours["rss_ready_mb"]) * 1024 / count
    print(
        f"  OpsGate RSS: {ours['rss_ready_mb']:.0f} MB ready, {ours['rss_drained_mb']:.0f} drained, "
        f"{ours['rss_settled_mb']:.0f} {args.settle:.0f}s later, peak {ours['rss_peak_mb']:.0f} MB "
        f"(~{per_request_kb:.0f} KB per request over ready; target <= {RSS_TARGET_MB} MB)"
    )
    print(f"  operator log lines: bare kopf {floor['log']}, OpsGate {ours['log']}")
    print(f"  created by the client at {args.create_rate:.0f}/s")
    return clean(
        {
            "drain_seconds": round(ours["drain_s"], 1),
            "rate_per_s": round(rate(ours), 1),
            "rss_peak_mb": round(ours["rss_peak_mb"], 1),
            "rss_ready_mb": round(ours["rss_ready_mb"], 1),
            "cpu_s": round(ours["cpu_s"], 1),
            "startup_s": round(ours["startup_s"], 2),
            "decided": ours["decided"],
            "floor_drain_seconds": round(floor["drain_s"], 1),
            "floor_rate_per_s": round(rate(floor), 1),
            "floor_rss_peak_mb": round(floor["rss_peak_mb"], 1),
            "floor_cpu_s": round(floor["cpu_s"], 1),
            "floor_decided": floor["decided"],
            "rate_ratio": round(rate(ours) / rate(floor), 2) if rate(floor) else None,
            "count": count,
            "pending_approval_count": ours["phases"].get("AwaitingApproval", 0),
            "jobs_launched": ours["jobs"],
            "jobs_drain_seconds": round(ours.get("jobs_drain_s", math.nan), 1),
            "first_job_seconds": round(ours.get("first_job_s", math.nan), 1),
            "rss_target_met": ours["rss_peak_mb"] <= RSS_TARGET_MB,
            "create_rate_per_s": round(args.create_rate, 1),
            "floor_worker_limit": args.floor_worker_limit,
            "operator_revision": args.revision,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="OpsRequests in the backlog")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for each drain")
    parser.add_argument(
        "--job-timeout", type=float, default=300, help="seconds to wait, after the drain, for the Jobs (0: don't)"
    )
    parser.add_argument("--settle", type=float, default=10, help="seconds to keep the operator after the drain")
    parser.add_argument(
        "--floor-worker-limit",
        type=int,
        help="cap the bare kopf's concurrent workers (kopf's settings.batching.worker_limit; default unlimited)",
    )
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting a local one")
    parser.add_argument("--keep", action="store_true", help="leave the local cluster running")
    args = parser.parse_args()
    args.revision = source_revision()
    scratch = scratch_dir("opsgate-bench-backlog.")
    log(f"logs and state in {scratch}; operator from {Path(__file__).resolve().parents[1] / 'operator'}")

    with cluster(args.kubeconfig, keep=args.keep):
        install()
        api = Api()
        stamp = time.strftime("%H%M%S")
        log("indexing the repository for OpsGate's context (opsgate index)")
        index_repository(scratch)

        floor_ns = bench_namespace(f"backlog-floor-{stamp}")
        rate = fill(api, floor_ns, args.count, "f")
        names = [f"f-{i}" for i in range(args.count)]
        floor = drain(
            bare_kopf(floor_ns, scratch, worker_limit=args.floor_worker_limit),
            api,
            floor_ns,
            names,
            decided=any_phase,
            timeout=args.timeout,
            settle=args.settle,
        )

        ns = bench_namespace(f"backlog-opsgate-{stamp}")
        args.create_rate = (rate + fill(api, ns, args.count, "o")) / 2
        names = [f"o-{i}" for i in range(args.count)]
        ours = drain(
            opsgate_operator(ns, scratch),
            api,
            ns,
            names,
            decided=opsgate_decided,
            timeout=args.timeout,
            settle=args.settle,
            job_timeout=args.job_timeout,
        )

    figures = report(floor, ours, args)
    print(f"logs: {scratch}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
