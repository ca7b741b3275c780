"""``opsgate approve|reject NAME`` (also ``kubectl opsgate approve``): record your decision.

Reads the Approval, shows what is being decided (parameters, environment, risk, executor, the
policies that asked, any warning), and appends your decision for the Approval's
own plan digest under your identity as the API server reports it. The API server still checks
everything (four-eyes, your groups, the digest); its refusal is printed as is.
"""

from __future__ import annotations

import click

from opsgate import kube, resources
from opsgate.controller import approvals
from opsgate.resources import Verdict


def _decide(
    verdict: Verdict, name: str, namespace: str, message: str, as_user: str | None, as_group: str | None
) -> None:
    kube.configure(as_user=as_user, as_group=as_group)
    try:
        me = kube.whoami()["username"]
        approval = kube.get(resources.API_VERSION, "Approval", namespace, name)
        click.echo("\n".join(approvals.describe(approval)))
        operations = approvals.decision_patch(approval, approver=me, verdict=verdict, message=message)
        kube.json_patch(resources.API_VERSION, "Approval", namespace, name, operations)
    except kube.ApiError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{verdict.value} recorded for {me}.")


_name = click.argument("name")
_namespace = click.option("-n", "--namespace", default="default", show_default=True)
_message = click.option("-m", "--message", default="", help="Why (kept on the Approval).")
_as = click.option("--as", "as_user", default=None, help="Impersonate this user (like kubectl --as).")
_as_group = click.option("--as-group", default=None, help="Impersonate this group (like kubectl --as-group).")


@click.command("approve")
@_name
@_namespace
@_message
@_as
@_as_group
def approve(name: str, namespace: str, message: str, as_user: str | None, as_group: str | None) -> None:
    """Approve the plan of Approval NAME."""
    _decide(Verdict.APPROVE, name, namespace, message, as_user, as_group)


@click.command("reject")
@_name
@_namespace
@_message
@_as
@_as_group
def reject(name: str, namespace: str, message: str, as_user: str | None, as_group: str | None) -> None:
    """Reject the plan of Approval NAME (any rejection rejects the request)."""
    _decide(Verdict.REJECT, name, namespace, message, as_user, as_group)
