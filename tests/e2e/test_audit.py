"""The audit store with the real operator: requests end up recorded, verifiable and counted.

The session's operator records into a real PostgreSQL (tests/e2e/conftest.py); this test reads
what a user reads - the OpsRequest's status, ``opsgate audit verify``, ``opsgate analytics`` and
``opsgate dataset export`` - after requests of several outcomes and feedback on them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import asyncpg
from tests.e2e.cluster import ROOT, Kubectl, Operator, Team, wait_for
from tests.e2e.test_lifecycle import status_of, wait_phase
from tests.real_postgres import RealPostgres


def opsgate(operator: Operator, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "opsgate"), *args],
        env=operator.env,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or () if c["type"] == kind), {})


def judged_and_correct(operator: Operator) -> tuple[int, int]:
    """Requests with feedback on their intent, and those judged right, over the whole audit store."""
    rows = json.loads(opsgate(operator, "analytics", "accuracy", "--json").stdout)["rows"]
    return sum(r["judged"] for r in rows), sum(r["correct"] for r in rows)


def test_requests_are_recorded_chained_to_their_status_and_counted(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    ns = team.namespace
    before = judged_and_correct(operator)  # the chat UI's tests give feedback in this session's store too
    team.create("audited-scale", "scale the checkout deployment to 3 replicas in staging")
    team.create("audited-denied", "Delete the production cluster payments-prod")
    team.create("audited-mint", "mint a mailbox for john@acme.org")
    scale = wait_phase(kubectl, ns, "audited-scale", "Succeeded")
    denied = wait_phase(kubectl, ns, "audited-denied", "Denied")
    wait_phase(kubectl, ns, "audited-mint", "NeedsInfo")

    # each status write carried its record's hash: the chain head lives in the API server too
    assert scale["audit"]["seq"] >= 3  # decided, Job created, succeeded (and context, when retrieved)
    assert denied["audit"]["seq"] >= 1
    assert condition(scale, "Audited")["status"] == "True"

    # feedback: one confirmation, one correction, one bad value (refused, with an Event)
    kubectl("annotate", "opsrequest", "audited-scale", "-n", ns, "opsgate.dev/intent-correct=true",
            "opsgate.dev/feedback-score=5")  # fmt: skip
    correction = json.dumps({"action": "provision.create.email", "entities": {"email": "john@acme.org"}})
    kubectl("annotate", "opsrequest", "audited-mint", "-n", ns, f"opsgate.dev/corrected-intent={correction}",
            "opsgate.dev/feedback-score=2")  # fmt: skip
    kubectl("annotate", "opsrequest", "audited-denied", "-n", ns, "opsgate.dev/feedback-score=9")
    for name in ("audited-scale", "audited-mint"):
        wait_for(
            lambda n=name: condition(status_of(kubectl, ns, n), "Feedback").get("reason") == "FeedbackRecorded",
            timeout=60,
            what=f"feedback on {name} recorded",
        )
    refused = wait_for(
        lambda: condition(status_of(kubectl, ns, "audited-denied"), "Feedback"), timeout=60, what="feedback refused"
    )
    assert refused["reason"] == "InvalidFeedback"
    assert "1 to 5" in refused["message"]
    # kopf posts Events from its own queue, a few at a time: the Event may follow the condition
    wait_for(
        lambda: (
            "audited-denied"
            in kubectl("get", "events", "-n", ns, "--field-selector", "reason=InvalidFeedback", "-o", "json").stdout
        ),
        timeout=30,
        what="an InvalidFeedback Event on audited-denied",
    )

    # the database caught up with the API server: every chain verifies against its status head
    last: list[subprocess.CompletedProcess[str]] = []

    def verified() -> bool:
        last[:] = [opsgate(operator, "audit", "verify", "--request", "audited-scale", "-n", ns, check=False)]
        return last[0].returncode == 0 and "0 problems" in last[0].stdout

    try:
        wait_for(verified, timeout=60, what="audited-scale in the audit store")
    except AssertionError as exc:
        detail = f"{last[0].stdout}{last[0].stderr}" if last else ""
        tail = "\n".join(line for line in operator.log().splitlines() if "audit" in line.lower())[-3000:]
        raise AssertionError(f"{exc}\n{detail}\noperator log (audit):\n{tail}") from None
    whole = opsgate(operator, "audit", "verify", check=False)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    assert "heads compared with the API server" in whole.stdout

    accuracy = json.loads(opsgate(operator, "analytics", "accuracy", "--json").stdout)["rows"]
    rules = next(r for r in accuracy if r["parser"] == "rules")
    assert rules["requests"] >= 3
    assert rules["recognised"] <= rules["requests"] - 1  # "mint a mailbox" was read as nothing
    judged, correct = judged_and_correct(operator)
    assert (judged - before[0], correct - before[1]) == (2, 1)  # this test's feedback
    policies = {r["policy"]: r for r in json.loads(opsgate(operator, "analytics", "policies", "--json").stdout)["rows"]}
    assert policies["no-production-deletion"]["denied"] >= 1

    lines = opsgate(operator, "dataset", "export", "--format", "jsonl").stdout.splitlines()
    prompts = {json.loads(line)["prompt"] for line in lines}
    assert "mint a mailbox for john@acme.org" in prompts

    # a correction teaches the parser (read again every OPSGATE_LEARN_SECONDS): the phrasing is understood
    learned = json.loads(opsgate(operator, "learn", "list", "--json").stdout)
    assert [(r["phrase"], r["action_key"]) for r in learned] == [("mint a mailbox", "provision.create.email")]
    time.sleep(5)
    team.create("audited-mint-again", "mint a mailbox for jane@acme.org")
    status = wait_phase(kubectl, ns, "audited-mint-again", "AwaitingApproval", "Succeeded", "Denied", timeout=120)
    assert status["plan"]["action"] == "provision.create.email"
    # and `opsgate parse` (so `opsgate plan`) reads it as the operator does, from the same store
    parsed = json.loads(opsgate(operator, "parse", "mint a mailbox for jane@acme.org").stdout)
    assert (parsed["category"], parsed["action"], parsed["resource_type"]) == ("provision", "create", "email")

    # tampering with the database is caught and named
    uid = kubectl.get_json("opsrequest", "audited-scale", "-n", ns)["metadata"]["uid"]

    async def tamper() -> None:
        conn = await asyncpg.connect(operator.env["OPSGATE_DATABASE_URL"])
        try:
            await conn.execute(
                "UPDATE audit_records SET payload = jsonb_set(payload, '{phase}', to_jsonb('Failed'::text))"
                " WHERE request_uid = $1 AND seq = 1",
                uid,
            )
        finally:
            await conn.close()

    asyncio.run(tamper())
    caught = opsgate(operator, "audit", "verify", "--request", "audited-scale", "-n", ns, check=False)
    assert caught.returncode == 1
    assert f"TAMPERED {ns}/audited-scale" in caught.stdout


def test_a_database_outage_blocks_no_request_and_loses_no_record(
    kubectl: Kubectl, operator: Operator, team: Team, postgres_server: RealPostgres
) -> None:
    ns = team.namespace

    def audited() -> dict[str, Any]:
        return condition(status_of(kubectl, ns, "outage-denied"), "Audited")

    postgres_server.stop(mode="immediate")  # a crash of the database, mid-run
    try:
        team.create("outage-denied", "Delete the production cluster payments-prod")
        wait_phase(kubectl, ns, "outage-denied", "Denied", timeout=60)  # decided all the same
        wait_for(lambda: audited().get("reason") == "Queued", timeout=60, what="Audited saying its records wait")
        assert "unreachable" in audited()["message"]
    finally:
        postgres_server.start()
    wait_for(lambda: audited().get("status") == "True", timeout=90, what="Audited once the records are written")
    out = opsgate(operator, "audit", "verify", "--request", "outage-denied", "-n", ns, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 problems" in out.stdout
