"""Benchmark the shipped policy set: load time, and whole-set evaluations per second on one core.

Run: ``PYTHONPATH=operator python bench/policy.py [--seconds S]``. Evaluates a rotating mix of
realistic requests (approval, production denial, change window, tags, secrets) in one process
(one core) and ends with one JSON line:
``{"load_seconds", "evaluations_per_second" (per CPU-second), "wall_evaluations_per_second",
"rules", "evaluations", "target_per_second"}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

from opsgate import catalog, paths
from opsgate.intent import Intent
from opsgate.plan import Plan, RequestContext, Requester, build_plan
from opsgate.policy import PolicyInputs, PolicySet

POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"
TARGET_PER_SECOND = 5000
REQUESTS = [
    ("create an email for x@acme.org", "provision.create.email", {"email": "x@acme.org"}),
    (
        "delete cluster payments-prod",
        "provision.delete.cluster",
        {"name": "payments-prod", "environment": "production"},
    ),
    (
        "scale web to 5 in production",
        "provision.scale.deployment",
        {"name": "web", "replicas": 5, "environment": "production"},
    ),
    (
        "create website shop.acme.org",
        "provision.create.website",
        {"domain": "shop.acme.org", "region": "ap-south-1"},
    ),
    ("create user bob with password [REDACTED]", "identity.create.user", {"username": "bob"}),
]


def workload(home: Path, actions: catalog.Catalog) -> list[PolicyInputs]:
    now = datetime.datetime(2025, 1, 4, 3, 0, tzinfo=datetime.UTC)
    inputs: list[PolicyInputs] = []
    for text, key, entities in REQUESTS:
        category, action, resource_type = key.split(".")
        intent = Intent(category=category, action=action, resource_type=resource_type, entities=entities)
        context = RequestContext(text=text, requester=Requester(username="alice", groups=("dev",)), namespace="a")
        plan = build_plan(intent, actions.entries[key], context=context, home=home, executor_image="img:1")
        assert isinstance(plan, Plan)
        inputs.append(
            PolicyInputs(
                request=context,
                intent=intent,
                plan=plan,
                requester=context.requester,
                now=now,
                history={"provision": 3},
            )
        )
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to evaluate")
    args = parser.parse_args()

    started = time.perf_counter()
    policies = PolicySet.load(POLICY_DIR)
    load_seconds = time.perf_counter() - started
    print(f"loaded {len(policies.rules)} rules from {POLICY_DIR} in {load_seconds * 1000:.1f} ms")

    actions = catalog.load_catalog(POLICY_DIR / "actions.yaml", check_executors=False)
    inputs = workload(paths.home(), actions)
    for item in inputs:  # warm up, and show what is being decided
        print(f"  {item.request.text!r}: {policies.evaluate(item).decision}")

    # Per core: evaluations per second of CPU time this (single-threaded) process used, so other
    # work on a shared machine does not count against it; wall-clock figures are printed too.
    evaluations = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        for item in inputs:
            policies.evaluate(item)
        evaluations += len(inputs)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    per_second = evaluations / cpu
    print(f"{evaluations} evaluations of the whole set: {cpu:.2f} s CPU ({elapsed:.2f} s wall)")
    print(f"per core: {per_second:,.0f}/s ({evaluations / elapsed:,.0f}/s wall clock)")
    print(
        json.dumps(
            {
                "load_seconds": round(load_seconds, 4),
                "evaluations_per_second": round(per_second),
                "wall_evaluations_per_second": round(evaluations / elapsed),
                "rules": len(policies.rules),
                "evaluations": evaluations,
                "target_per_second": TARGET_PER_SECOND,
            }
        )
    )


if __name__ == "__main__":
    main()
