"""Plain ``kubectl explain`` documents the OpsGate API, from the descriptions the CRDs publish.

The API server turns each CRD's schema into OpenAPI; kubectl reads it back. What a requester or
an approver learns there is what these tests read.
"""

from __future__ import annotations

import re

import pytest
from tests.e2e.cluster import Kubectl, wait_for


def explain(kubectl: Kubectl, field: str) -> str:
    """``kubectl explain FIELD``, once the API server has published the CRD's OpenAPI (a few seconds)."""

    def published() -> str:
        result = kubectl("explain", field, check=False)
        return result.stdout if result.returncode == 0 and "DESCRIPTION" in result.stdout else ""

    text: str = wait_for(published, timeout=60, what=f"kubectl explain {field}")
    return text


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("opsrequest.spec", ["request\t<string> -required-", "What you want done, in plain language."]),
        ("opsrequest.spec.requester", ["refuses any other value"]),
        ("opsrequest.spec.intent.entities", ["validated", "JSON schema"]),
        ("opsrequest.status.phase", ["AwaitingApproval ends Approved, Rejected or Expired"]),
        ("opsrequest.status.plan.digest", ["An approval counts only for this digest"]),
        ("opsrequest.status.policy.results.result", ["pass, deny, or approval"]),
        ("approval.spec", ["planDigest\t<string> -required-", "decisions\t<[]Object>"]),
        ("approval.spec.decisions", ["kubectl opsgate approve|reject", "not the requester's"]),
        ("approval.spec.decisions.digest", ["must equal spec.planDigest"]),
        ("approval.status.state", ["Pending, Approved, Rejected or Expired"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_kubectl_explain_describes_the_field(kubectl: Kubectl, field: str, says: list[str]) -> None:
    text = " ".join(explain(kubectl, field).split())
    for words in says:
        assert " ".join(words.split()) in text, text


@pytest.mark.parametrize("kind", ["opsrequest.spec", "opsrequest.status", "approval.spec", "approval.status"])
def test_every_field_kubectl_lists_has_a_description(kubectl: Kubectl, kind: str) -> None:
    fields = described_fields(explain(kubectl, kind))
    assert fields, "kubectl listed no fields"
    assert [name for name, description in fields.items() if not description or description == "<empty>"] == []


def described_fields(text: str) -> dict[str, str]:
    """The FIELDS section of ``kubectl explain``: each field's name and its description."""
    fields: dict[str, str] = {}
    current = None
    for line in text.split("FIELDS:", 1)[1].splitlines():
        field = re.match(r"^  (\S+)\t<", line)
        if field:
            current = field.group(1)
            fields[current] = ""
        elif current and line.startswith("    "):
            fields[current] = (fields[current] + " " + line.strip()).strip()
    return fields
