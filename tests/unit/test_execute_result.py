"""The result an execution reports fits a termination message, and the pieces it is built from
(runner events, PLAY RECAP stats, secret scrubbing) read the way the controller expects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opsgate.controller import jobs
from opsgate.execute import events, result, scrub

DIGEST = "sha256:" + "ab" * 32


def _result(**changes: Any) -> result.Result:
    base: dict[str, Any] = {
        "status": result.Status.SUCCEEDED,
        "action": "provision.scale.deployment",
        "digest": DIGEST,
        "dry_run": False,
        "summary": "Deployment shop/checkout scaled from 1 to 3 replica(s).",
        "counts": result.Counts(ok=7, changed=1),
        "duration_seconds": 12.3456,
    }
    return result.Result(**{**base, **changes})


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        ("x" * 100_000, None),
        ("é" * 5000, "ü" * 5000),  # two bytes per character
        ("ok", "m" * 50_000),
        ("🙂" * 3000, "🙂" * 3000),
    ],
    ids=["huge-summary", "multibyte", "huge-message", "emoji"],
)
def test_the_result_stays_within_the_termination_message_limit(summary: str, message: str | None) -> None:
    failed = _result(status=result.Status.FAILED, summary=summary, message=message, failed_task="t" * 300)

    text = result.render(failed)

    assert len(text.encode("utf-8")) <= result.MAX_BYTES
    document = json.loads(text)
    assert document["summary"]  # the summary keeps what fits; it is what the request shows
    assert document["action"] == "provision.scale.deployment"
    assert document["digest"] == DIGEST
    assert document["counts"]["ok"] == 7


def test_a_cut_summary_ends_in_an_ellipsis_and_keeps_its_beginning() -> None:
    document = json.loads(result.render(_result(summary="Deployment scaled. " + "detail " * 2000)))

    assert document["summary"].startswith("Deployment scaled. detail")
    assert document["summary"].endswith(result.ELLIPSIS)


def test_a_small_result_is_printed_whole_and_in_the_documented_shape() -> None:
    document = json.loads(result.render(_result()))

    assert document == {
        "status": "succeeded",
        "action": "provision.scale.deployment",
        "digest": DIGEST,
        "dryRun": False,
        "counts": {"ok": 7, "changed": 1, "failed": 0, "skipped": 0, "unreachable": 0},
        "summary": "Deployment shop/checkout scaled from 1 to 3 replica(s).",
        "durationSeconds": 12.346,
    }


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (result.Status.SUCCEEDED, None, result.ExitCode.SUCCEEDED),
        (result.Status.FAILED, result.Reason.TASK_FAILED, result.ExitCode.FAILED),
        (result.Status.FAILED, result.Reason.SECRETS_UNAVAILABLE, result.ExitCode.FAILED),
        (result.Status.FAILED, result.Reason.PROVIDER_MISSING, result.ExitCode.FAILED),
        (result.Status.FAILED, result.Reason.DIGEST_MISMATCH, result.ExitCode.REFUSED),
        (result.Status.FAILED, result.Reason.UNAUTHORIZED, result.ExitCode.REFUSED),
        (result.Status.FAILED, result.Reason.INVALID_PLAN, result.ExitCode.REFUSED),
    ],
    ids=["succeeded", "task-failed", "no-secrets", "no-provider", "digest", "unauthorized", "bad-plan"],
)
def test_the_exit_code_tells_success_failure_and_refusal_apart(
    status: result.Status, reason: result.Reason | None, code: result.ExitCode
) -> None:
    assert _result(status=status, reason=reason).exit_code is code


@pytest.mark.parametrize(
    ("job_condition", "state"),
    [("Complete", jobs.JobState.SUCCEEDED), ("Failed", jobs.JobState.FAILED)],
    ids=["complete", "failed"],
)
def test_the_controller_reads_the_summary_back_from_the_termination_message(
    job_condition: str, state: jobs.JobState
) -> None:
    reported = _result(summary="Deployment shop/checkout scaled from 1 to 3 replica(s).")
    job = {"status": {"conditions": [{"type": job_condition, "status": "True"}]}}
    pod = {"status": {"containerStatuses": [{"state": {"terminated": {"message": result.render(reported)}}}]}}

    outcome = jobs.outcome(job, [pod])

    assert outcome.state is state
    assert outcome.message == "Deployment shop/checkout scaled from 1 to 3 replica(s)."
    assert outcome.result["counts"]["changed"] == 1


def _event(name: str, task: str, res: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"event": name, "event_data": {"task": task, "host": "localhost", "res": res, **data}}


def test_task_lines_carry_task_host_and_status_never_the_result() -> None:
    tracker = events.Tracker()
    lines = [
        tracker.observe(_event("runner_on_ok", "Read", {"changed": False, "stdout": "3"})),
        tracker.observe(_event("runner_on_ok", "Scale", {"changed": True, "stdout": "scaled"})),
        tracker.observe(_event("runner_on_skipped", "Wait", {})),
        tracker.observe(_event("playbook_on_task_start", "Summarize", {})),
        tracker.observe(_event("runner_on_ok", "Summarize", {"msg": "Deployment\n  scaled."})),
    ]

    assert lines == [
        {"event": "task", "task": "Read", "host": "localhost", "status": "ok"},
        {"event": "task", "task": "Scale", "host": "localhost", "status": "changed"},
        {"event": "task", "task": "Wait", "host": "localhost", "status": "skipped"},
        None,
        {"event": "task", "task": "Summarize", "host": "localhost", "status": "ok"},
    ]
    assert tracker.summary == "Deployment scaled."
    assert tracker.failed_task is None


def test_the_first_failure_not_ignored_is_the_failed_task() -> None:
    tracker = events.Tracker()
    ignored = tracker.observe(_event("runner_on_failed", "Probe", {"msg": "absent"}, ignore_errors=True))
    tracker.observe(_event("runner_on_failed", "Apply", {"stderr": "error: forbidden", "rc": 1}))
    tracker.observe(_event("runner_on_failed", "Later", {"msg": "also"}))

    assert ignored == {"event": "task", "task": "Probe", "host": "localhost", "status": "failed", "ignored": True}
    assert (tracker.failed_task, tracker.failure) == ("Apply", "error: forbidden")


def test_the_counts_are_the_play_recap_summed_over_hosts() -> None:
    stats = {
        "ok": {"localhost": 5, "web": 2},
        "changed": {"localhost": 1},
        "failures": {"web": 1},
        "skipped": {"localhost": 2},
        "dark": {"db": 1},
        "ignored": {},
    }

    assert events.counts(stats) == result.Counts(ok=7, changed=1, failed=1, skipped=2, unreachable=1)
    assert events.counts(None) == result.Counts()


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("token abc123 used", ["abc123"], f"token {scrub.MASK} used"),
        ("abc123abc", ["abc", "abc123"], f"{scrub.MASK}{scrub.MASK}"),  # longest first
        ("nothing here", ["abc"], "nothing here"),
        ("empty values are ignored", [""], "empty values are ignored"),
    ],
    ids=["replaced", "longest-first", "absent", "empty-value"],
)
def test_scrub_masks_every_secret_value(text: str, values: list[str], expected: str) -> None:
    assert scrub.scrub(text, values) == expected


@pytest.mark.parametrize(
    ("res", "message"),
    [
        (
            {"msg": "non-zero return code", "stderr": "warn\nerror: unknown flag: --dry-run"},
            "non-zero return code: error: unknown flag: --dry-run",
        ),
        ({"msg": "invalid parameters"}, "invalid parameters"),
        ({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified"}, "the output"),
        ({"rc": 3}, "exit code 3"),
    ],
    ids=["a-command-says-why-on-stderr", "a-message", "no-log-stays-hidden", "only-an-exit-code"],
)
def test_a_failed_task_is_described_by_what_it_said(res: dict[str, object], message: str) -> None:
    assert events.failure_message(res).startswith(message)
