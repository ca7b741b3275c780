"""``opsgate approve|reject NAME`` (also ``kubectl opsgate approve``): record your decision.

Reads the Approval, shows what is being decided (parameters, environment, risk, executor, the
policies that asked, any warning), and appends your decision for the Approval's
own plan digest under your identity as the API server reports it. The API server still checks
everything (four-eyes, your groups, the digest); its refusal is printed as is.
"""

from __future__ import annotations

import click

from opsgate.cli import connection
from opsgate.frontdoor import calls
from opsgate.resources import Verdict


def _decide(verdict: Verdict, name: str, namespace: str, message: str) -> None:
    lines, me = calls.decide(namespace, name, verdict=verdict, message=message)
    click.echo("\n".join(lines))
    click.echo(f"{verdict.value} recorded for {me}.")


_name = click.argument("name")
_message = click.option("-m", "--message", default="", help="Why (kept on the Approval).")


@click.command("approve")
@_name
@_message
@connection.options
def approve(name: str, namespace: str, message: str) -> None:
    """Approve the plan of Approval NAME (or of the OpsRequest NAME's Approval)."""
    _decide(Verdict.APPROVE, name, namespace, message)


@click.command("reject")
@_name
@_message
@connection.options
def reject(name: str, namespace: str, message: str) -> None:
    """Reject the plan of Approval NAME, or of OpsRequest NAME's (any rejection rejects the request)."""
    _decide(Verdict.REJECT, name, namespace, message)
