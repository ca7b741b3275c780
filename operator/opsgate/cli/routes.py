"""``opsgate routes``: each alert route, its record, and whether it has earned running on its own.

Reads the same thing the operator does when it plans a route's request - the route's OpsRequests
on the API server (:mod:`opsgate.alerts.autonomy`) - so what a platform team sees here is what
the next alert will be judged by. "earned" means enough approved successes since the last
failure; the rule alert-route-autonomy (policies/autonomy.yaml) still has the last word.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from opsgate import catalog, kube, paths, resources
from opsgate.alerts import autonomy, routes

HEADER = ("ROUTE", "ACTION", "APPROVED-SUCCESSES", "PROMOTE-AFTER", "STANDING", "LAST-FAILURE")


def _standing_word(standing: autonomy.Standing) -> str:
    if standing.promote_after == 0:
        return "supervised (never promoted)"
    return "earned" if standing.eligible else "supervised"


@click.command("routes")
@click.option("--kubeconfig", default=None, help="Credentials (default: in-cluster, then $KUBECONFIG).")
@click.option("--routes", "routes_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per route.")
def routes_command(kubeconfig: str | None, routes_file: Path | None, as_json: bool) -> None:
    """List the alert routes with their approved successes, threshold and standing."""
    try:
        loaded = routes.load_routes(
            routes_file or paths.policies_dir() / routes.ROUTES_FILE, actions=catalog.default_catalog()
        )
    except routes.RoutesError as exc:
        raise click.ClickException(str(exc)) from exc
    kube.configure(kubeconfig)
    rows: list[tuple[str, ...]] = []
    for route in loaded.routes:
        selector = f"{routes.LABEL_ROUTE}={route.name}"
        try:
            runs = kube.list_objects(resources.API_VERSION, "OpsRequest", None, labels=selector)
        except kube.ApiError as exc:
            raise click.ClickException(exc.message) from exc
        standing = autonomy.standing(route, runs, requester=loaded.requester)
        if as_json:
            click.echo(json.dumps({**standing.to_status(), "action": route.action, "earned": standing.eligible}))
            continue
        rows.append(
            (
                route.name,
                route.action,
                str(standing.approved_successes),
                str(standing.promote_after or "-"),
                _standing_word(standing),
                standing.last_failure or "-",
            )
        )
    if not as_json:
        widths = [max(len(row[i]) for row in (HEADER, *rows)) for i in range(len(HEADER))]
        for row in (HEADER, *rows):
            click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
