"""Benchmark ``opsgate execute``'s overhead over running the same playbook with bare ``ansible-playbook``.

Run: ``PYTHONPATH=operator python bench/execute.py [--runs N]``. Plans "scale the checkout
deployment to 3 replicas in staging" with ``opsgate plan --json``, then runs
playbooks/provision/scale-deployment.yml N times each way, alternating, against the fake
``kubectl`` of tests/fakes (no cluster): ``opsgate execute --plan`` as the Job runs it (digest
check, catalog load, ansible-runner, result) and ``ansible-playbook -e @vars.json`` with the same
extra vars. Prints both medians and their ratio, and ends with one JSON line:
``{"execute_median_s", "ansible_playbook_median_s", "overhead_ratio", "runs", …}``.

Then, on a local control plane with its process node, the operator runs ``--runs`` allowed
scale requests for real; ``create_to_approved_median_s``, ``approved_to_running_median_s`` and
``approved_to_succeeded_median_s`` (timed from outside) join the JSON line (``--no-cluster``
skips this part).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import kubectl  # noqa: E402 - the repository root is put on the path just above

REQUEST = "scale the checkout deployment to 3 replicas in staging"
PLAYBOOK = ROOT / "playbooks" / "provision" / "scale-deployment.yml"


def _env(bin_dir: Path) -> dict[str, str]:
    python_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(bin_dir), python_bin, os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), str(ROOT)]),
        "QDRANT_PATH": str(bin_dir.parent / "no-index"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    }


def _plan(env: dict[str, str]) -> dict[str, Any]:
    printed = subprocess.run(
        [sys.executable, "-m", "opsgate", "plan", REQUEST, "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    plan: dict[str, Any] = json.loads(printed.stdout)["plan"]
    return plan


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[0:4]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def approved_to_succeeded(runs: int) -> dict[str, float]:
    """Seconds from Approved to Running and to Succeeded, through the operator and the process node.

    A local control plane with its process node (hack/local-cluster.sh, as root), the operator
    running from this checkout, and ``runs`` allowed scale requests created one after another;
    each phase's first sighting is timed from outside by polling the request every 0.1 s. The
    Job really runs ``opsgate execute`` (ansible-runner, kubectl) against a real Deployment.
    """
    from bench import _harness as harness  # the cluster harness, only for this part

    approved: list[float] = []
    running: list[float] = []
    done: list[float] = []
    with harness.cluster(None, process_node=True):
        harness.install()
        namespace = harness.bench_namespace("bench-execute")
        harness.kubectl(
            "create", "rolebinding", "executor", "--clusterrole=opsgate-executor",
            "--serviceaccount=opsgate-system:opsgate-executor", "-n", namespace,
        )  # fmt: skip
        harness.kubectl("create", "deployment", "checkout", "--image=registry.local/checkout:1", "-n", namespace)
        scratch = harness.scratch_dir("opsgate-bench-execute-")
        operator = harness.opsgate_operator(namespace, scratch)
        operator.start()
        try:
            for run in range(runs):
                seen = _one_request(harness, namespace, f"scale-{run}", replicas=2 + run)
                approved.append(seen["Approved"])
                running.append(seen["Running"] - seen["Approved"])
                done.append(seen["Succeeded"] - seen["Approved"])
                print(
                    f"request {run + 1}: decided {seen['Approved']:.2f} s, Job running after "
                    f"{running[-1]:.2f} s, Succeeded after {done[-1]:.2f} s (from Approved)"
                )
        finally:
            operator.stop()
    return {
        "create_to_approved_median_s": round(statistics.median(approved), 3),
        "approved_to_running_median_s": round(statistics.median(running), 3),
        "approved_to_succeeded_median_s": round(statistics.median(done), 3),
    }


def _one_request(harness: Any, namespace: str, name: str, *, replicas: int) -> dict[str, float]:
    manifest = {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "request": f"scale the checkout deployment to {replicas} replicas in staging",
            "requester": "admin",
            "requesterGroups": ["system:masters", "system:authenticated"],
        },
    }
    started = time.monotonic()
    harness.kubectl("create", "-f", "-", stdin=json.dumps(manifest))
    seen: dict[str, float] = {}
    while "Succeeded" not in seen and time.monotonic() - started < 300:
        phase = harness.kubectl("get", "opsrequest", name, "-n", namespace, "-o", "jsonpath={.status.phase}")
        if phase and phase not in seen:
            seen[phase] = time.monotonic() - started
        if phase == "Failed":
            raise SystemExit(
                f"{name} failed: " + harness.kubectl("get", "opsrequest", name, "-n", namespace, "-o", "json")
            )
        time.sleep(0.1)
    seen.setdefault("Approved", seen.get("Running", 0.0))  # a phase can pass between two polls
    seen.setdefault("Running", seen["Approved"])
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (alternating)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the approved→Succeeded part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsgate-bench-execute-") as scratch:
        work = Path(scratch)
        kubectl.install(work / "bin", log=work / "kubectl.jsonl", replicas=1)
        env = _env(work / "bin")
        plan = _plan(env)
        plan_file = work / "plan.json"
        plan_file.write_text(json.dumps(plan))
        extravars = work / "vars.json"
        extravars.write_text(json.dumps({**plan["parameters"], "opsgate_params": plan["parameters"]}))
        execute = [
            sys.executable, "-m", "opsgate", "execute", "--plan", str(plan_file),
            "--termination-log", str(work / "termination-log"), "--authorizer", "none",
        ]  # fmt: skip
        bare = ["ansible-playbook", str(PLAYBOOK), "-e", f"@{extravars}"]
        execute_times: list[float] = []
        bare_times: list[float] = []
        for run in range(args.runs):
            pair = [(execute, execute_times), (bare, bare_times)]
            for argv, times in pair if run % 2 == 0 else reversed(pair):
                times.append(_timed(argv, env))
            print(f"run {run + 1}: opsgate execute {execute_times[-1]:.2f} s, ansible-playbook {bare_times[-1]:.2f} s")
    execute_median = statistics.median(execute_times)
    bare_median = statistics.median(bare_times)
    ratio = execute_median / bare_median
    print(f"opsgate execute   median {execute_median:.2f} s over {args.runs} runs")
    print(f"ansible-playbook  median {bare_median:.2f} s over {args.runs} runs")
    print(f"overhead ratio    {ratio:.2f}x ({execute_median - bare_median:+.2f} s)")
    through_cluster = approved_to_succeeded(args.runs) if not args.no_cluster else {}
    for key, value in through_cluster.items():
        print(f"{key:32} {value:.2f}")
    print(
        json.dumps(
            {
                "execute_median_s": round(execute_median, 3),
                "ansible_playbook_median_s": round(bare_median, 3),
                "overhead_ratio": round(ratio, 3),
                "runs": args.runs,
                **through_cluster,
            }
        )
    )


if __name__ == "__main__":
    main()
