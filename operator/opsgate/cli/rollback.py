"""``opsgate rollback NAME`` (also ``kubectl opsgate rollback NAME``): ask for the inverse of a change.

Reads the OpsRequest's recorded rollback (``status.result.rollback``: the inverse action and the
parameters captured before the change) and creates ``NAME-rollback``, a new OpsRequest for it as
you - the API server holds the requester to your identity - which is planned, judged by policy,
approved if policy asks, and executed like any other request.
"""

from __future__ import annotations

import click

from opsgate import kube, resources
from opsgate.controller import rollbacks


@click.command("rollback")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--as", "as_user", default=None, help="Impersonate this user (like kubectl --as).")
@click.option("--as-group", default=None, help="Impersonate this group (like kubectl --as-group).")
def rollback(name: str, namespace: str, as_user: str | None, as_group: str | None) -> None:
    """Request the inverse of OpsRequest NAME's change, through policy and approval."""
    kube.configure(as_user=as_user, as_group=as_group)
    try:
        me = kube.whoami()
        request = kube.get(resources.API_VERSION, "OpsRequest", namespace, name)
        manifest = rollbacks.inverse_request(
            request, requester=str(me["username"]), groups=tuple(me.get("groups") or ())
        )
        kube.create(manifest)
    except rollbacks.RollbackError as exc:
        raise click.ClickException(str(exc)) from exc
    except kube.ApiError as exc:
        if exc.conflict:
            raise click.ClickException(
                f"{name} has already been asked to roll back: see {name}{rollbacks.SUFFIX}"
            ) from exc
        raise click.ClickException(exc.message) from exc
    created = manifest["metadata"]["name"]
    click.echo(f"opsrequest/{created} created: {manifest['spec']['request']}")
    click.echo(f"Follow it with: kubectl get opsrequest {created} -n {namespace} -w")
