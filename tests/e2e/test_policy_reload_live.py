"""An edit of policies/ decides the next request without restarting the operator.

The chart mounts policies/ from a ConfigMap that the kubelet updates in place; here the operator's
own copy of policies/ is edited the same way (written aside, then renamed over the file). The MFA
rule is the change: with `require: approval`, admin (no MFA) asking for a mailbox is Denied; with
`require: never` the same request waits for an approver. A malformed edit leaves the last good
policies deciding.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.e2e.cluster import ROOT, Kubectl, Operator, decided, opsrequest, wait_for

EMAIL_TEXT = "create an email for john@acme.org"  # needs an approval, so MFA: admin has none


def edit(path: Path, text: str) -> None:
    aside = path.with_name(f".{path.name}.new")
    aside.write_text(text)
    aside.replace(path)


def test_an_edited_policy_decides_the_next_request_without_a_restart(
    kubectl: Kubectl, operator: Operator, namespace: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    for name in ("policies", "playbooks", "terraform"):
        shutil.copytree(ROOT / name, home / name)
    env = {
        **operator.env,
        "OPSGATE_HOME": str(home),
        "OPSGATE_POLICY_CHECK_SECONDS": "0.5",
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "OPSGATE_AUTOINDEX": "0",  # no context needed: the decision is the policies'
        "OPSGATE_AUDIT_SPOOL": str(tmp_path / "audit-spool.sqlite"),
    }
    own = Operator(kubectl.cluster, tmp_path / "operator.log", env)
    operator.stop()  # one operator at a time acts on the cluster
    try:
        own.start()
        assert own.process is not None
        pid = own.process.pid
        kubectl.apply(opsrequest("before", namespace, EMAIL_TEXT))
        assert decided(kubectl, namespace, "before")["phase"] == "Denied"

        config = home / "policies" / "config.yaml"
        good = config.read_text()
        relaxed, changed = re.subn(r"(?m)^(\s+require:) approval\b", r"\1 never", good)
        assert changed == 1
        edit(config, relaxed)
        wait_for(lambda: "policies reloaded" in own.log(), timeout=30, what="the policies reloaded")
        kubectl.apply(opsrequest("after", namespace, EMAIL_TEXT))
        assert decided(kubectl, namespace, "after")["phase"] == "AwaitingApproval"

        edit(config, "mfa: [unclosed\n")
        wait_for(lambda: "do not load" in own.log(), timeout=30, what="the malformed edit reported")
        kubectl.apply(opsrequest("broken", namespace, EMAIL_TEXT))
        assert decided(kubectl, namespace, "broken")["phase"] == "AwaitingApproval"  # the last good policies
        assert "config.yaml" in own.log().split("do not load", 1)[1].splitlines()[0]  # says which file
        assert own.process.pid == pid  # never restarted
        assert own.process.poll() is None
    finally:
        own.stop()
        operator.start()
