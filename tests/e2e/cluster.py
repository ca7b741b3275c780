"""Handles on the e2e test cluster: where it is, and kubectl against it (optionally impersonating)."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    kubectl_path: str
    env: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Kubectl:
    """kubectl against the test cluster, optionally impersonating a user (``--as``/``--as-group``)."""

    cluster: Cluster
    user: str | None = None
    groups: tuple[str, ...] = ()

    def as_user(self, user: str, *groups: str) -> Kubectl:
        return Kubectl(self.cluster, user, groups)

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [self.cluster.kubectl_path, "--kubeconfig", self.cluster.kubeconfig]
        if self.user:
            argv += ["--as", self.user, *(f"--as-group={g}" for g in self.groups)]
        argv += list(args)
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=self.cluster.env, timeout=120, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{shlex.join(argv[3:])} failed ({result.returncode}):\n{result.stderr}")
        return result

    def apply(self, manifest: str | dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("apply", "-f", "-", stdin=text, check=check)

    def create(self, manifest: str | dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("create", "-f", "-", stdin=text, check=check)

    def get_json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json").stdout)


def exports_of(text: str) -> dict[str, str]:
    """The variables of ``hack/local-cluster.sh up``'s ``export NAME=VALUE`` lines."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
    return env
