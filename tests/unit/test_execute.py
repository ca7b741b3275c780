"""``opsgate execute`` runs exactly the plan ``opsgate plan --json`` printed, through the real
ansible-runner, and refuses anything else before a single command runs.

The playbooks call ``kubectl``; a faithful fake (tests/fakes/kubectl.py) on PATH records every
call, so "nothing ran" is checked where it matters: no kubectl call at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.fakes import kubectl
from tests.fakes.authorizer import FakeAuthorizer
from tests.fakes.secret_source import FakeSecretSource

from opsgate import catalog, paths
from opsgate.cli import execute as execute_cli
from opsgate.cli import main
from opsgate.execute import result, run, scrub

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.test/opsgate/opsgate:execute-test"
SCALE = "scale the checkout deployment to 3 replicas in staging"
EMAIL = "create an email for john@acme.org"
SCALE_PLAYBOOK = "playbooks/provision/scale-deployment.yml"
EMAIL_PLAYBOOK = "playbooks/provision/create-email.yml"
TOKEN = "tok-9f3c1e7a-ZEBRA-only-in-vault"  # distinctive: found anywhere means leaked

FAILING_PLAYBOOK = """\
- name: Scale a deployment (broken on purpose)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Look at the deployment
      ansible.builtin.command:
        argv: [kubectl, get, deployment, "{{ name }}", -n, "{{ namespace }}", -o, "jsonpath={.spec.replicas}"]
      changed_when: false
    - name: Check the quota allows it
      ansible.builtin.fail:
        msg: "namespace {{ namespace }} has no quota left for {{ replicas }} replicas"
    - name: Summarize
      ansible.builtin.debug:
        msg: never reached
"""

# Reads the token the way the shipped email playbooks do (no_log), proves it arrived by writing
# its hash, and then carelessly echoes it in the summary: the executor's last guard must mask it.
SECRET_PLAYBOOK = """\
- name: Create a mailbox (test double)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Call the mail API with the token
      ansible.builtin.copy:
        content: "{{ mail_api_token | hash('sha256') }}"
        dest: "{{ lookup('ansible.builtin.env', 'OPSGATE_TEST_OUT') }}"
        mode: "0600"
      no_log: true
    - name: Print the token by mistake
      ansible.builtin.debug:
        msg: "token is {{ mail_api_token }}"
      no_log: true
    - name: Summarize
      ansible.builtin.debug:
        msg: "Mailbox {{ email }} created using {{ mail_api_token }}."
"""


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No RAG index, no Vault, not in a pod; the image the Job would announce."""
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "no-index"))
    monkeypatch.setenv(execute_cli.ENV_EXECUTOR_IMAGE, IMAGE)
    unset = ("VAULT_ADDR", "KUBERNETES_SERVICE_HOST", execute_cli.ENV_AUTHORIZER, execute_cli.ENV_DRY_RUN)
    for name in (*unset, execute_cli.ENV_APPROVED_DIGEST):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def kubectl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake kubectl first on PATH (deployments at 1 replica); the file it records calls in."""
    log = tmp_path / "kubectl.jsonl"
    kubectl.install(tmp_path / "bin", log=log, replicas=1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private OpsGate home (a copy of the shipped policies, playbooks and modules)."""
    root = tmp_path / "home"
    for folder in ("policies", "playbooks", "terraform"):
        shutil.copytree(ROOT / folder, root / folder)
    monkeypatch.setenv(paths.ENV_HOME, str(root))
    return root


def planned(text: str) -> dict[str, Any]:
    """The ``plan`` object of ``opsgate plan TEXT --json``, built in this process."""
    printed = CliRunner().invoke(main, ["plan", text, "--json", "--requester", "alice"])
    assert printed.exit_code == 0, printed.output
    plan: dict[str, Any] = json.loads(printed.stdout)["plan"]
    assert plan["executor"]["image"] == IMAGE
    return plan


def write(path: Path, plan: dict[str, Any]) -> Path:
    path.write_text(json.dumps(plan, indent=2))
    return path


def execute(plan_file: Path, tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """``opsgate execute`` in this process: exit code, stdout lines as JSON, the termination log."""
    log = tmp_path / "termination-log"
    ran = CliRunner().invoke(main, ["execute", "--plan", str(plan_file), "--termination-log", str(log), *args])
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert lines, ran.output
    assert json.loads(log.read_text()) == lines[-1]
    return ran.exit_code, lines, lines[-1]


def test_a_planned_scale_runs_through_ansible_runner_as_a_plain_process(tmp_path: Path, kubectl_log: Path) -> None:
    plan_file = write(tmp_path / "plan.json", planned(SCALE))
    log = tmp_path / "termination-log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), str(ROOT)])}

    ran = subprocess.run(
        [sys.executable, "-m", "opsgate", "execute", "--plan", str(plan_file), "--termination-log", str(log)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    outcome = lines[-1]
    assert json.loads(log.read_text()) == outcome
    assert outcome["status"] == "succeeded"
    assert outcome["action"] == "provision.scale.deployment"
    assert outcome["digest"] == json.loads(plan_file.read_text())["digest"]
    assert outcome["dryRun"] is False
    assert outcome["counts"] == {"ok": 6, "changed": 1, "failed": 0, "skipped": 0, "unreachable": 0}
    assert outcome["summary"] == "Deployment default/checkout scaled from 1 to 3 replica(s)."
    assert outcome["durationSeconds"] > 0
    assert {"failedTask", "message", "reason"}.isdisjoint(outcome)
    # the catalog's validation ran after the change, and the way back was captured before it
    assert outcome["validation"]["state"] == "Passed"
    assert outcome["rollback"] == {
        "action": "provision.scale.deployment",
        "parameters": {"name": "checkout", "namespace": "default", "replicas": 1},
        "state": "Available",
    }
    tasks = [line for line in lines[:-1] if line["event"] == "task"]
    assert [t["task"] for t in tasks][:1] == ["Read the deployment's current replica count"]
    assert [t["task"] for t in tasks][-2:] == ["Wait for the rollout to complete", "Summarize"]
    assert {"task": "Scale the deployment", "host": "localhost", "status": "changed", "event": "task"} in tasks
    assert all(set(line) <= {"event", "task", "host", "status", "ignored"} for line in tasks)
    assert ["scale", "deployment/checkout", "-n", "default", "--replicas=3", "--dry-run=none"] in kubectl.calls(
        kubectl_log
    )


def test_a_scale_whose_rollout_never_settles_is_rolled_back_to_the_captured_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "kubectl.jsonl"
    kubectl.install(tmp_path / "bin", log=log, replicas=1, stuck=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    code, _lines, outcome = execute(write(tmp_path / "plan.json", planned(SCALE)), tmp_path)

    assert code == result.ExitCode.FAILED
    assert outcome["status"] == "failed"
    assert outcome["reason"] == "ValidationFailed"
    assert outcome["validation"]["state"] == "Failed"
    assert "timed out waiting for the condition" in outcome["validation"]["message"]
    assert outcome["rollback"]["state"] == "RolledBack"
    assert outcome["rollback"]["parameters"] == {"name": "checkout", "namespace": "default", "replicas": 1}
    assert outcome["summary"].startswith("validation failed: ")
    assert "rolled back" in outcome["summary"]
    # the inverse ran the scale playbook with the captured count (this fake keeps no state, so it
    # reads 1 replica again and leaves it; tests/e2e/test_rollback.py sees a real Deployment scaled back)
    assert outcome["summary"].endswith("rolled back: Deployment default/checkout already runs 1 replica(s).")
    assert [call[4] for call in kubectl.calls(log) if call[:1] == ["scale"]] == ["--replicas=3"]


FAILING_CAPTURE = """\
- name: Capture (the deployment is gone)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Read the deployment's current replica count
      ansible.builtin.fail:
        msg: 'deployments.apps "{{ name }}" not found'
"""


def test_a_change_whose_way_back_cannot_be_captured_is_not_run(tmp_path: Path, home: Path, kubectl_log: Path) -> None:
    (home / "playbooks/capture/deployment-replicas.yml").write_text(FAILING_CAPTURE)
    code, _lines, outcome = execute(write(tmp_path / "plan.json", planned(SCALE)), tmp_path)

    assert code == result.ExitCode.FAILED
    assert outcome["failedTask"] == "Read the deployment's current replica count"
    assert outcome["summary"] == (
        'could not capture the state to roll back to: task "Read the deployment\'s current replica count" '
        'failed: deployments.apps "checkout" not found; the change was not run'
    )
    assert kubectl.calls(kubectl_log) == []  # the scale playbook never started


def test_a_dry_run_runs_the_playbook_in_check_mode_and_kubectl_only_validates(
    tmp_path: Path, kubectl_log: Path
) -> None:
    code, _lines, outcome = execute(write(tmp_path / "plan.json", planned(SCALE)), tmp_path, "--dry-run")

    assert code == 0, outcome
    assert outcome["status"] == "succeeded"
    assert outcome["dryRun"] is True
    calls = kubectl.calls(kubectl_log)
    assert ["scale", "deployment/checkout", "-n", "default", "--replicas=3", "--dry-run=server"] in calls
    assert not [call for call in calls if "--dry-run=none" in call]
    assert not [call for call in calls if call[:2] == ["rollout", "status"]]  # nothing changed to wait for


@pytest.mark.parametrize(
    "change",
    [
        lambda plan: plan["parameters"].update(replicas=50),
        lambda plan: plan["parameters"].update(namespace="kube-system"),
        lambda plan: plan.update(action="provision.restart.deployment"),
    ],
    ids=["more-replicas", "another-namespace", "another-action"],
)
def test_a_plan_changed_after_planning_is_refused_naming_both_digests_and_nothing_runs(
    tmp_path: Path, kubectl_log: Path, change: Any
) -> None:
    plan = planned(SCALE)
    digest = plan["digest"]
    change(plan)

    code, lines, outcome = execute(write(tmp_path / "plan.json", plan), tmp_path)

    assert code == result.ExitCode.REFUSED
    assert len(lines) == 1  # no task ran
    assert outcome["status"] == "failed"
    assert outcome["reason"] == "DigestMismatch"
    message = outcome["message"]
    assert digest in message
    recomputed = message.split(" does not match ")[1].split(",")[0]
    assert recomputed.startswith("sha256:")
    assert recomputed != digest
    assert "nothing was run" in message
    assert outcome["summary"] == message  # what the request's status shows
    assert kubectl.calls(kubectl_log) == []


def test_a_valid_plan_that_is_not_the_approved_one_is_refused_and_nothing_runs(
    tmp_path: Path, kubectl_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Job pins the digest that was approved; a plan swapped in beside it (another valid,
    # self-consistent plan, e.g. through an edited pod annotation) is refused before anything runs.
    approved, other = planned(SCALE), planned("scale the checkout deployment to 30 replicas in staging")
    monkeypatch.setenv(execute_cli.ENV_APPROVED_DIGEST, approved["digest"])

    code, lines, outcome = execute(write(tmp_path / "plan.json", other), tmp_path)

    assert code == result.ExitCode.REFUSED
    assert len(lines) == 1  # no task ran
    assert outcome["reason"] == "DigestMismatch"
    assert outcome["message"] == (
        f"refusing to run: the plan's digest {other['digest']} is not the approved digest {approved['digest']} "
        "this Job was created for; nothing was run"
    )
    assert kubectl.calls(kubectl_log) == []
    # the approved plan itself runs
    code, _lines, outcome = execute(write(tmp_path / "approved.json", approved), tmp_path)
    assert code == result.ExitCode.SUCCEEDED, outcome
    assert kubectl.calls(kubectl_log)


def test_a_plan_is_refused_when_this_image_announces_another_image(
    tmp_path: Path, kubectl_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file = write(tmp_path / "plan.json", planned(SCALE))
    monkeypatch.setenv(execute_cli.ENV_EXECUTOR_IMAGE, "registry.test/opsgate/opsgate:other")

    code, _lines, outcome = execute(plan_file, tmp_path)

    assert code == result.ExitCode.REFUSED
    assert f"planned for image {IMAGE}" in outcome["message"]
    assert kubectl.calls(kubectl_log) == []


def test_a_plan_whose_playbook_changed_on_disk_is_refused(tmp_path: Path, home: Path, kubectl_log: Path) -> None:
    plan_file = write(tmp_path / "plan.json", planned(SCALE))
    playbook = home / SCALE_PLAYBOOK
    playbook.write_text(playbook.read_text() + "\n# one more line after the approval\n")

    code, _lines, outcome = execute(plan_file, tmp_path)

    assert code == result.ExitCode.REFUSED
    assert outcome["reason"] == "DigestMismatch"
    # the hash covers every file the run may execute; the message names them all, the executor first
    assert f"the content of {SCALE_PLAYBOOK}, playbooks/capture/" in outcome["message"]
    assert "changed since planning" in outcome["message"]
    assert kubectl.calls(kubectl_log) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot read the plan file"),
        ("[]", "expected a JSON object"),
        ('{"action": "provision.scale.deployment"}', "not a plan as `opsgate plan --json` prints it"),
    ],
    ids=["not-json", "not-an-object", "not-a-plan"],
)
def test_a_file_that_is_not_a_plan_is_refused(tmp_path: Path, content: str, problem: str) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(content)

    code, _lines, outcome = execute(plan_file, tmp_path)

    assert code == result.ExitCode.REFUSED
    assert outcome["reason"] == "InvalidPlan"
    assert problem in outcome["message"]


def test_parameters_the_schema_refuses_are_refused_even_with_a_matching_digest(
    tmp_path: Path, home: Path, kubectl_log: Path
) -> None:
    # A catalog whose schema tightened after planning: the digest (over the entry) changes too,
    # so build the plan on the tightened catalog's entry with an out-of-range value by hand.
    from opsgate import plan as plans

    plan = planned(SCALE)
    actions = catalog.load_catalog(home / "policies" / "actions.yaml")
    entry = actions.entries[plan["action"]]
    plan["parameters"]["replicas"] = 1000  # schema maximum is 100
    plan["digest"] = plans.compute_digest(
        action=plan["action"],
        parameters=plan["parameters"],
        entry=entry,
        content_hash=plan["executor"]["contentHash"],
        executor_image=IMAGE,
    )

    code, _lines, outcome = execute(write(tmp_path / "plan.json", plan), tmp_path)

    assert code == result.ExitCode.REFUSED
    assert outcome["reason"] == "InvalidPlan"
    assert "`replicas` must be ≤ 100" in outcome["message"]
    assert kubectl.calls(kubectl_log) == []


def test_a_failing_playbook_fails_the_run_naming_the_task(tmp_path: Path, home: Path, kubectl_log: Path) -> None:
    (home / SCALE_PLAYBOOK).write_text(FAILING_PLAYBOOK)
    plan_file = write(tmp_path / "plan.json", planned(SCALE))  # planned with the broken playbook's hash

    code, lines, outcome = execute(plan_file, tmp_path)

    assert code == result.ExitCode.FAILED
    assert outcome["status"] == "failed"
    assert outcome["reason"] == "TaskFailed"
    assert outcome["failedTask"] == "Check the quota allows it"
    assert outcome["message"] == "namespace default has no quota left for 3 replicas"
    assert (
        outcome["summary"]
        == "task 'Check the quota allows it' failed: namespace default has no quota left for 3 replicas"
    )
    assert outcome["counts"]["failed"] == 1
    assert outcome["counts"]["ok"] == 1
    assert {"event": "task", "task": "Check the quota allows it", "host": "localhost", "status": "failed"} in lines
    assert "Summarize" not in [line.get("task") for line in lines]
    # the capture step read the count before the change; the change itself failed before scaling
    assert [call[:2] for call in kubectl.calls(kubectl_log)] == [["get", "deployment"], ["get", "deployment"]]
    assert outcome["rollback"]["state"] == "Available"  # nothing was validated, nothing undone
    assert "validation" not in outcome


def test_secret_values_reach_the_playbook_but_nothing_the_executor_prints(
    tmp_path: Path, home: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / EMAIL_PLAYBOOK).write_text(SECRET_PLAYBOOK)
    plan = planned(EMAIL)
    out = tmp_path / "token.sha256"
    monkeypatch.setenv("OPSGATE_TEST_OUT", str(out))
    source = FakeSecretSource(values={("opsgate/mail", "token"): TOKEN})
    capfd.readouterr()

    outcome = run.execute(
        run.Request(document=plan, executor_image=IMAGE),
        run.Environment(
            actions=catalog.load_catalog(home / "policies" / "actions.yaml"),
            home=home,
            authorizer=None,
            secret_source=lambda: source,
            emit=execute_cli._emit,
        ),
    )
    rendered = result.render(outcome)
    print(rendered)
    printed = capfd.readouterr()

    assert outcome.status is result.Status.SUCCEEDED, rendered
    assert out.read_text() == hashlib.sha256(TOKEN.encode()).hexdigest()  # the playbook had the value
    assert [(ref.name, ref.path, ref.key) for ref in source.asked] == [("mail_api_token", "opsgate/mail", "token")]
    assert source.closed
    assert outcome.summary == f"Mailbox john@acme.org created using {scrub.MASK}."
    for text in (printed.out, printed.err, rendered):
        assert TOKEN not in text
    assert len(printed.out.splitlines()) == 4  # three task lines and the result


def test_a_secret_source_error_never_quotes_what_it_read(tmp_path: Path, home: Path) -> None:
    plan = planned(EMAIL)
    source = FakeSecretSource(values={("opsgate/mail", "token"): TOKEN}, fail=True)

    outcome = run.execute(
        run.Request(document=plan, executor_image=IMAGE),
        run.Environment(
            actions=catalog.load_catalog(home / "policies" / "actions.yaml"),
            home=home,
            authorizer=None,
            secret_source=lambda: source,
            emit=lambda line: None,
        ),
    )

    assert outcome.reason is result.Reason.SECRETS_UNAVAILABLE
    assert outcome.exit_code is result.ExitCode.FAILED
    assert "could not read the secrets mail_api_token (opsgate/mail#token): PermissionError" in str(outcome.message)
    assert TOKEN not in result.render(outcome)
    assert source.closed


def test_a_secret_the_source_does_not_have_fails_before_anything_runs(tmp_path: Path, kubectl_log: Path) -> None:
    plan = planned(EMAIL)
    source = FakeSecretSource(values={})

    outcome = run.execute(
        run.Request(document=plan, executor_image=IMAGE),
        run.Environment(
            actions=catalog.load_catalog(),
            home=paths.home(),
            authorizer=None,
            secret_source=lambda: source,
            emit=lambda line: pytest.fail(f"nothing may run: {line}"),
        ),
    )

    assert outcome.reason is result.Reason.SECRETS_UNAVAILABLE
    assert (
        outcome.message
        == "the secret source returned no value for mail_api_token (opsgate/mail#token); nothing was run"
    )


def test_declared_secrets_without_vault_fail_clearly_before_anything_runs(tmp_path: Path, kubectl_log: Path) -> None:
    code, lines, outcome = execute(write(tmp_path / "plan.json", planned(EMAIL)), tmp_path)

    assert code == result.ExitCode.FAILED
    assert len(lines) == 1
    assert outcome["reason"] == "SecretsUnavailable"
    assert (
        outcome["message"] == "this action needs secrets mail_api_token (opsgate/mail#token) from Vault; set VAULT_ADDR"
    )
    assert kubectl.calls(kubectl_log) == []


def test_a_vault_that_does_not_answer_fails_the_run_before_it_starts(
    tmp_path: Path, kubectl_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("a-service-account-jwt")
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("OPSGATE_VAULT_TOKEN_PATH", str(token))

    code, _lines, outcome = execute(write(tmp_path / "plan.json", planned(EMAIL)), tmp_path)

    assert code == result.ExitCode.FAILED
    assert outcome["reason"] == "SecretsUnavailable"
    assert "127.0.0.1:1" in outcome["message"]
    assert "a-service-account-jwt" not in json.dumps(outcome)
    assert kubectl.calls(kubectl_log) == []


def test_a_refusing_authorizer_stops_the_run_before_anything_runs(kubectl_log: Path) -> None:
    plan = planned(SCALE)
    authorizer = FakeAuthorizer(allowed=False, reason="RBAC: no rule allows execute on actions.opsgate.dev")

    outcome = run.execute(
        run.Request(document=plan, executor_image=IMAGE, namespace="shop"),
        run.Environment(
            actions=catalog.load_catalog(),
            home=paths.home(),
            authorizer=authorizer,
            secret_source=lambda: pytest.fail("no secret is read for an unauthorized run"),
            emit=lambda line: pytest.fail(f"nothing may run: {line}"),
        ),
    )

    # asked where the action acts: the plan's namespace parameter, not where the request was made
    assert authorizer.asked == [("alice", "provision.scale.deployment", plan["parameters"]["namespace"])]
    assert outcome.exit_code is result.ExitCode.REFUSED
    assert outcome.reason is result.Reason.UNAUTHORIZED
    assert outcome.message == (
        f"refusing to run: alice may not execute provision.scale.deployment in namespace "
        f"{plan['parameters']['namespace']}: RBAC: no rule allows execute on actions.opsgate.dev"
    )
    assert kubectl.calls(kubectl_log) == []


class _BrokenAuthorizer:
    def check(self, requester: str, action_key: str, namespace: str) -> tuple[bool, str]:
        raise ConnectionError("the API server did not answer")


def test_an_authorizer_that_cannot_answer_refuses(kubectl_log: Path) -> None:
    outcome = run.execute(
        run.Request(document=planned(SCALE), executor_image=IMAGE, namespace="shop"),
        run.Environment(
            actions=catalog.load_catalog(),
            home=paths.home(),
            authorizer=_BrokenAuthorizer(),
            secret_source=lambda: pytest.fail("unreachable"),
            emit=lambda line: pytest.fail(f"nothing may run: {line}"),
        ),
    )

    assert outcome.exit_code is result.ExitCode.REFUSED
    assert outcome.message == (
        "refusing to run: the authorization check failed (ConnectionError: the API server did not answer); "
        "nothing was run"
    )


def test_an_authorizer_without_the_requests_namespace_refuses(kubectl_log: Path) -> None:
    outcome = run.execute(
        run.Request(document=planned(SCALE), executor_image=IMAGE),
        run.Environment(
            actions=catalog.load_catalog(),
            home=paths.home(),
            authorizer=FakeAuthorizer(allowed=True),
            secret_source=lambda: pytest.fail("unreachable"),
            emit=lambda line: pytest.fail(f"nothing may run: {line}"),
        ),
    )

    assert outcome.exit_code is result.ExitCode.REFUSED
    assert "--namespace" in str(outcome.message)


def test_in_a_pod_the_subject_access_review_is_required_and_its_absence_refuses(
    tmp_path: Path, kubectl_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")  # a pod, but no credentials to ask with
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))

    code, _lines, outcome = execute(write(tmp_path / "plan.json", planned(SCALE)), tmp_path)

    assert code == result.ExitCode.REFUSED
    assert outcome["reason"] == "Unauthorized"
    assert "the SubjectAccessReview authorizer cannot start" in outcome["message"]
    assert kubectl.calls(kubectl_log) == []


def test_an_informational_action_runs_nothing_and_says_so(tmp_path: Path, kubectl_log: Path) -> None:
    code, lines, outcome = execute(write(tmp_path / "plan.json", planned("payments logs, last hour")), tmp_path)

    assert code == 0
    assert len(lines) == 1
    assert outcome["status"] == "succeeded"
    assert outcome["summary"] == (
        "observability.query.logs runs nothing (executor kind `none`): it is answered in the request's status"
    )
    assert kubectl.calls(kubectl_log) == []


def test_an_unwritable_termination_log_leaves_the_result_on_stdout(tmp_path: Path) -> None:
    plan_file = write(tmp_path / "plan.json", planned("payments logs, last hour"))

    ran = CliRunner().invoke(
        main, ["execute", "--plan", str(plan_file), "--termination-log", str(tmp_path / "missing" / "log")]
    )

    assert ran.exit_code == 0
    assert json.loads(ran.stdout.splitlines()[-1])["status"] == "succeeded"
    assert "cannot write the termination log" in ran.stderr


def test_a_failing_no_log_task_reports_ansible_runners_censored_text_not_its_message(
    tmp_path: Path, home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (home / EMAIL_PLAYBOOK).write_text(CENSORED_FAILURE_PLAYBOOK)
    source = FakeSecretSource(values={("opsgate/mail", "token"): TOKEN})

    outcome = run.execute(
        run.Request(document=planned(EMAIL), executor_image=IMAGE),
        run.Environment(
            actions=catalog.load_catalog(home / "policies" / "actions.yaml"),
            home=home,
            authorizer=None,
            secret_source=lambda: source,
            emit=execute_cli._emit,
        ),
    )

    assert outcome.failed_task == "Call the mail API"
    assert "no_log: true" in str(outcome.message)  # ansible's censored result, before any scrubbing
    assert scrub.MASK not in result.render(outcome)
    assert TOKEN not in capfd.readouterr().out


CENSORED_FAILURE_PLAYBOOK = """\
- name: Create a mailbox (test double)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Call the mail API
      ansible.builtin.fail:
        msg: "401 for Authorization: Bearer {{ mail_api_token }}"
      no_log: true
"""


def test_a_plan_read_back_from_status_without_its_null_environment_is_still_a_plan() -> None:
    # status is written with merge patches, which drop null fields: status.plan has no
    # `environment` when the request named none, and the Job's plan file is made from it
    from opsgate.plan import Plan

    document = {
        "action": "provision.create.email",
        "parameters": {"email": "j@acme.org", "quota": "1Gi"},
        "executor": {
            "kind": "ansible",
            "playbook": "playbooks/provision/create-email.yml",
            "image": "i",
            "contentHash": "sha256:" + "1" * 64,
        },
        "requester": "alice",
        "tags": {"owner": "alice"},
        "risk": "low",
        "requiresApproval": True,
        "privileged": False,
        "rateClass": "provision",
        "informational": False,
        "digest": "sha256:" + "0" * 64,
    }
    assert Plan.model_validate(document).environment is None
