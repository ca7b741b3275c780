"""The operator docs: complete for the catalog, and pointing only at things that exist.

The RAG index serves these pages to requesters and approvers, so a runbook that names a
playbook which was renamed, or a link that leads nowhere, is a wrong answer given with
confidence. Headings are what the indexer chunks by: one title per page, first.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsgate import catalog

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))
REQUIRED_PAGES = [
    "runbooks/rotate-vault-secrets.md",
    "runbooks/scale-deployment.md",
    "runbooks/restart-deployment.md",
    "runbooks/provision-email.md",
    "runbooks/create-website.md",
    "runbooks/dns-records.md",
    "runbooks/certificates.md",
    "runbooks/grant-access.md",
    "runbooks/namespaces.md",
    "runbooks/clusters.md",
    "runbooks/incident-response.md",
    "runbooks/vulnerability-scanning.md",
    "runbooks/sbom.md",
    "runbooks/access-audit.md",
    "guides/approvals.md",
    "guides/policies.md",
    "guides/writing-requests.md",
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
REPO_PATH = re.compile(r"(?:playbooks|terraform/modules|charts/opsgate/argocd)/[\w./-]*[\w/]")


def _text(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


@pytest.mark.parametrize("page", REQUIRED_PAGES)
def test_every_required_page_exists(page: str) -> None:
    assert (DOCS / page).is_file()


@pytest.mark.parametrize("key", sorted(catalog.load_catalog(ROOT / "policies" / "actions.yaml").keys))
def test_every_catalog_action_is_documented(key: str) -> None:
    assert [page for page in PAGES if key in _text(page)] != []


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_leads_to_a_page(page: str) -> None:
    targets = [target for target in LINK.findall(_text(page)) if "://" not in target]

    assert [target for target in targets if not (DOCS / page).parent.joinpath(target).exists()] == []


@pytest.mark.parametrize("page", PAGES)
def test_every_repository_path_a_page_names_exists(page: str) -> None:
    assert [path for path in REPO_PATH.findall(_text(page)) if not (ROOT / path).exists()] == []


@pytest.mark.parametrize("page", PAGES)
def test_each_page_opens_with_its_only_title(page: str) -> None:
    lines = _text(page).splitlines()
    outside_code = [line for line in _lines_outside_code(lines) if line.startswith("# ")]

    assert lines[0].startswith("# ")
    assert outside_code == [lines[0]]


def _lines_outside_code(lines: list[str]) -> list[str]:
    kept, fenced = [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return kept
