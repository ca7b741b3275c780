"""``opsgate ui``: the chat front-end and its HTTP API (see :mod:`opsgate.ui.server`).

Run it behind an auth proxy that sets the user (and groups) headers, with credentials that may
impersonate users (``impersonate`` on users and groups): every call it makes is made as the user.
Replicas behind one load balancer share ``OPSGATE_UI_SECRET`` (it signs the CSRF tokens; without
it each process draws its own).
"""

from __future__ import annotations

import os

import click

from opsgate import kube, paths
from opsgate.adapters.auditdb import database_url
from opsgate.catalog import load_catalog


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--user-header", default="X-Forwarded-User", show_default=True, help="The auth proxy's user header.")
@click.option("--groups-header", default="X-Forwarded-Groups", show_default=True, help="The proxy's groups header.")
@click.option("--kubeconfig", default=None, help="Credentials that may impersonate (default: in-cluster/KUBECONFIG).")
def ui(host: str, port: int, user_header: str, groups_header: str, kubeconfig: str | None) -> None:
    """Serve the chat page and HTTP API; every write is made as the user the auth proxy names."""
    from aiohttp import web

    from opsgate.ui import server

    try:
        kube.configure(kubeconfig)
    except Exception as exc:  # the client's ConfigException, or a kubeconfig file that is not there
        raise click.ClickException(f"no Kubernetes credentials to impersonate users with: {exc}") from exc
    config = server.Config(
        catalog=load_catalog(paths.catalog_file(), check_executors=False),
        user_header=user_header,
        groups_header=groups_header,
        database_url=database_url(),
        **({"secret": os.environ["OPSGATE_UI_SECRET"].encode()} if os.environ.get("OPSGATE_UI_SECRET") else {}),
    )
    click.echo(f"opsgate ui on http://{host}:{port}/", err=True)
    web.run_app(server.create_app(config), host=host, port=port, print=None)
