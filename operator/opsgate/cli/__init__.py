"""The ``opsgate`` command line (also installed as the kubectl plugin ``kubectl-opsgate``).

Subcommands are imported lazily, so ``opsgate parse`` does not pay for the vector store or the
Kubernetes client. Each subcommand lives in its own module of this package.
"""

from __future__ import annotations

import importlib
import logging
import os

import click

from opsgate import __version__

# name -> "module:attribute" (relative to this package)
_COMMANDS: dict[str, str] = {
    "alerts": "alerts:alerts",
    "analytics": "audit:analytics",
    "approve": "approve:approve",
    "audit": "audit:audit",
    "dataset": "audit:dataset",
    "db": "audit:db",
    "execute": "execute:execute",
    "index": "rag:index",
    "learn": "audit:learn",
    "operator": "operator:operator",
    "parse": "parse:parse",
    "plan": "plan:plan",
    "reject": "approve:reject",
    "rollback": "rollback:rollback",
    "routes": "routes:routes_command",
    "search": "rag:search",
    "ui": "ui:ui",
    # the kubectl plugin's front door (kubectl opsgate …) and the MCP server for agents
    "ask": "frontdoor:ask",
    "status": "frontdoor:status",
    "approvals": "frontdoor:approvals",
    "explain": "frontdoor:explain",
    "feedback": "frontdoor:feedback",
    "mcp": "mcp:mcp",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="opsgate")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """OpsGate: plain-language operations requests, policy-checked and approved."""
    level = os.environ.get("OPSGATE_LOG_LEVEL") or ("DEBUG" if verbose > 1 else "INFO" if verbose else "WARNING")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
