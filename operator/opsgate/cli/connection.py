"""The options every command that talks to the cluster as you takes, spelled as kubectl spells them.

``--kubeconfig``, ``--context``, ``-n/--namespace`` (default: the context's namespace, as kubectl),
``--as``/``--as-group`` (impersonation, which the API server checks) and ``-o json|yaml``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
import yaml

from opsgate import kube
from opsgate.frontdoor import calls, views

F = TypeVar("F", bound=Callable[..., Any])


def options(func: F) -> F:
    """Add the connection options; the command receives ``namespace`` already resolved."""

    @click.option("--kubeconfig", default=None, help="Path to the kubeconfig (default: $KUBECONFIG, like kubectl).")
    @click.option("--context", default=None, help="The kubeconfig context to use (like kubectl).")
    @click.option("-n", "--namespace", default=None, help="Namespace (default: the context's, else default).")
    @click.option("--as", "as_user", default=None, help="Impersonate this user (like kubectl --as).")
    @click.option("--as-group", default=None, help="Impersonate this group (like kubectl --as-group).")
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        kubeconfig: str | None,
        context: str | None,
        namespace: str | None,
        as_user: str | None,
        as_group: str | None,
        **kwargs: Any,
    ) -> Any:
        try:
            calls.connect(kubeconfig=kubeconfig, context=context, as_user=as_user, as_group=as_group)
        except calls.ConnectError as exc:
            raise click.ClickException(str(exc)) from exc
        resolved = namespace or kube.kubeconfig_namespace(kubeconfig, context=context)
        try:
            return func(*args, namespace=resolved, **kwargs)
        except kube.ApiError as exc:  # the API server's refusal, as kubectl prints it
            raise click.ClickException(f"{exc.message} ({exc.status} {exc.reason})") from exc

    return wrapper  # type: ignore[return-value]


output = click.option(
    "-o", "--output", type=click.Choice(["json", "yaml"]), default=None, help="Print JSON or YAML instead of a table."
)


def emit(document: Any, output_format: str | None, human: Callable[[], str]) -> None:
    """Print ``document`` as JSON/YAML when asked (without managedFields, as kubectl), else the human view."""
    document = views.without_managed_fields(document)
    if output_format == "json":
        click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    elif output_format == "yaml":
        click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True).rstrip())
    else:
        click.echo(human())


def as_list(items: list[Any]) -> dict[str, Any]:
    """Several objects as kubectl prints them with -o json: a v1 List."""
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {}}
