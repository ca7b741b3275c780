"""``kubectl opsgate ask|status|approvals|explain|feedback``: OpsGate from kubectl, as yourself.

The plugin is the ``opsgate`` CLI itself (``kubectl-opsgate`` is the same entry point), so
``kubectl opsgate approve`` and ``opsgate approve`` are one command. Every call goes through
:mod:`opsgate.frontdoor.calls` with your kubeconfig's identity. Exit codes: 0 done (for
``ask --wait``: the request succeeded, was answered, or a dry run was allowed), 1 an error or a
refusal by the API server, 2 a usage error, 3 ``ask --wait`` saw the request end otherwise
(Denied, NeedsInfo, Rejected, Expired, Failed) or time out.
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

import click

from opsgate.cli import connection
from opsgate.frontdoor import calls, views

EXIT_NOT_DONE = 3
DEFAULT_WAIT_SECONDS = 300


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _progress(obj: dict[str, Any]) -> None:
    """One line on stderr per phase while ``--wait`` follows a request (stdout stays the result)."""
    s = views.summary(obj)
    approval = s["approval"] or {}
    detail = f"  approval {approval.get('name')} ({approval.get('state')})" if approval.get("name") else ""
    click.echo(f"{s['name']}: {s['phase']}{detail}  {s['message']}".rstrip(), err=True)


@click.command("ask")
@click.argument("text")
@click.option("--name", default=None, help="Name of the OpsRequest (default: generated, ask-xxxxx).")
@click.option("--environment", type=click.Choice(["dev", "staging", "production"]), default=None)
@click.option("--dry-run", is_flag=True, help="Decide only: no Approval, no Job.")
@click.option("--wait", "wait_", is_flag=True, help="Follow the request until it finishes.")
@click.option("--timeout", default=DEFAULT_WAIT_SECONDS, show_default=True, help="Seconds --wait waits at most.")
@connection.output
@connection.options
def ask(
    text: str,
    name: str | None,
    environment: str | None,
    dry_run: bool,
    wait_: bool,
    timeout: int,
    output: str | None,
    namespace: str,
) -> None:
    """Ask for TEXT as yourself: creates an OpsRequest (and with --wait, follows it)."""
    try:
        created = calls.submit(text, namespace=namespace, name=name, environment=environment, dry_run=dry_run)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="TEXT") from exc
    name = created["metadata"]["name"]
    if not wait_:
        connection.emit(created, output, lambda: f"opsrequest.opsgate.dev/{name} created")
        return
    click.echo(f"opsrequest.opsgate.dev/{name} created", err=True)
    final, in_time = calls.wait(namespace, name, timeout=timeout, on_change=_progress)
    connection.emit(final, output, lambda: views.render_explanation(views.explanation(final)))
    if not in_time:
        click.echo(f"timed out after {timeout}s; still {views.phase_of(final).value}", err=True)
    if not (in_time and views.succeeded(final)):
        sys.exit(EXIT_NOT_DONE)


@click.command("status")
@click.argument("name", required=False)
@click.option("-A", "--all-namespaces", is_flag=True, help="List the requests of every namespace.")
@connection.output
@connection.options
def status(name: str | None, all_namespaces: bool, output: str | None, namespace: str) -> None:
    """Show request NAME, or list the requests of the namespace."""
    if name:
        obj = calls.get(namespace, name)
        connection.emit(obj, output, lambda: views.table(views.REQUEST_HEADER, views.request_rows([obj], now=_now())))
        return
    items = calls.list_requests(None if all_namespaces else namespace)
    if not items and output is None:
        click.echo(f"No resources found in {'any' if all_namespaces else namespace} namespace.", err=True)
        return
    header, rows = views.REQUEST_HEADER, views.request_rows(items, now=_now())
    if all_namespaces:
        header = ("namespace", *header)
        rows = [[o["metadata"]["namespace"], *row] for o, row in zip(items, rows, strict=True)]
    connection.emit(connection.as_list(items), output, lambda: views.table(header, rows))


@click.command("approvals")
@click.option("-A", "--all-namespaces", is_flag=True, help="Look in every namespace.")
@connection.output
@connection.options
def approvals(all_namespaces: bool, output: str | None, namespace: str) -> None:
    """The approvals waiting for you: pending, in your groups, not your own request, not yet decided by you."""
    me = calls.whoami()
    waiting = calls.approvals_waiting(None if all_namespaces else namespace, me)
    if not waiting and output is None:
        click.echo(f"No approvals waiting for {me.username}.", err=True)
        return
    header, rows = views.APPROVAL_HEADER, views.approval_rows(waiting)
    if all_namespaces:
        header = ("namespace", *header)
        rows = [[a["metadata"]["namespace"], *row] for a, row in zip(waiting, rows, strict=True)]
    connection.emit(connection.as_list(list(waiting)), output, lambda: views.table(header, rows))


@click.command("explain")
@click.argument("name")
@connection.output
@connection.options
def explain(name: str, output: str | None, namespace: str) -> None:
    """Why request NAME was decided so: intent, context sources, plan, every policy result, approval, outcome."""
    document = calls.explain(namespace, name)
    connection.emit(document, output, lambda: views.render_explanation(document))


@click.command("feedback")
@click.argument("name")
@click.option("--score", type=click.IntRange(1, 5), default=None, help="How well it went, 1-5.")
@click.option("--intent-correct/--intent-wrong", default=None, help="Was the request understood right?")
@click.option("--correct-intent", default=None, metavar="KEY|JSON", help="The right catalog action (a key or JSON).")
@click.option("-m", "--message", default=None, help="Anything else (free text).")
@connection.options
def feedback(
    name: str,
    score: int | None,
    intent_correct: bool | None,
    correct_intent: str | None,
    message: str | None,
    namespace: str,
) -> None:
    """Rate request NAME; it lands as the annotations the audit store reads."""
    from opsgate.audit.feedback import FeedbackError  # with the catalog: only this command pays for it

    try:
        written = calls.feedback(
            namespace, name, score=score, intent_correct=intent_correct, corrected_intent=correct_intent, text=message
        )
    except FeedbackError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"opsrequest.opsgate.dev/{name} annotated: {json.dumps(written, sort_keys=True)}")
