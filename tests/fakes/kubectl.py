"""A stand-in for the ``kubectl`` binary the playbooks call, for running them without a cluster.

It answers the calls ``playbooks/provision/scale-deployment.yml`` makes the way kubectl 1.34
does - ``get deployment NAME -o jsonpath={.spec.replicas}``, ``get horizontalpodautoscalers -o
json``, ``scale deployment/NAME --replicas=N [--dry-run=server|none]``, ``rollout status
deployment/NAME`` - and records every argv as one JSON line, so a test can assert what the
playbook asked the API server to do. Anything else fails as kubectl does for an unknown
resource. :func:`install` writes an executable ``kubectl`` into a directory to put on PATH.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_EMPTY_LIST = {"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}


def install(bin_dir: Path, *, log: Path, replicas: int = 1, stuck: bool = False) -> Path:
    """Write ``bin_dir/kubectl`` answering for deployments with ``replicas`` replicas; argv go to ``log``.

    ``stuck``: rollouts never complete (``rollout status`` times out, as for pods that never get ready).
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "kubectl"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.fakes.kubectl import main\n"
        f"sys.exit(main(sys.argv[1:], log={str(log)!r}, replicas={replicas}, stuck={stuck}))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def calls(log: Path) -> list[list[str]]:
    """The argv of every call so far, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def main(argv: Sequence[str], *, log: str, replicas: int, stuck: bool = False) -> int:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(list(argv)) + "\n")
    args = list(argv)
    dry_run = next((a.split("=", 1)[1] for a in args if a.startswith("--dry-run=")), "none")
    if args[:2] == ["get", "deployment"] and "jsonpath={.spec.replicas}" in args:
        sys.stdout.write(str(replicas))  # jsonpath output has no trailing newline
        return 0
    if args[:2] == ["get", "horizontalpodautoscalers"]:
        sys.stdout.write(json.dumps(_EMPTY_LIST, indent=4) + "\n")
        return 0
    if args[:1] == ["scale"] and len(args) > 1:
        suffix = " (server dry run)" if dry_run == "server" else ""
        sys.stdout.write(f"{args[1].replace('deployment/', 'deployment.apps/')} scaled{suffix}\n")
        return 0
    if args[:2] == ["rollout", "status"] and len(args) > 2:
        name = args[2].removeprefix("deployment/")
        if stuck:
            sys.stdout.write(
                f'Waiting for deployment "{name}" rollout to finish: 1 of 3 updated replicas are available...\n'
            )
            sys.stderr.write("error: timed out waiting for the condition\n")
            return 1
        sys.stdout.write(f'deployment "{name}" successfully rolled out\n')
        return 0
    resource = args[1] if len(args) > 1 else ""
    sys.stderr.write(f'error: the server doesn\'t have a resource type "{resource}"\n')
    return 1
