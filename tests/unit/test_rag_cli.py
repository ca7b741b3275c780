"""``opsgate index`` and ``opsgate search`` as a user runs them (embedded store in a temp folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsgate.cli import main
from opsgate.rag.store import Store


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "playbooks" / "security").mkdir(parents=True)
    (root / "docs" / "rotate.md").write_text("# Rotate Vault secrets\nUse the rotate-secret playbook.\n")
    (root / "playbooks" / "security" / "rotate-secret.yml").write_text(
        "- name: Rotate a service's secret in Vault\n  hosts: localhost\n  tasks: []\n"
    )
    (root / "playbooks" / "security" / "broken.yml").write_text("- name: [unclosed\n")
    return root


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.delenv("OPSGATE_EMBED_MODEL", raising=False)
    return CliRunner()


def test_index_reports_what_it_did_and_names_the_broken_file(repo: Path, runner: CliRunner) -> None:
    first = runner.invoke(main, ["index", "--root", str(repo), "docs", "playbooks"])
    again = runner.invoke(main, ["index", "--root", str(repo), "docs", "playbooks"])
    assert first.exit_code == 0, first.output
    assert "indexed 2 files, skipped 0 unchanged, removed 0, failed 1;" in first.output
    assert "; 2 chunks (2 embedded) in" in first.output
    assert "failed: playbooks/security/broken.yml: invalid YAML" in first.output
    assert "indexed 0 files, skipped 2 unchanged" in again.output


def test_search_prints_sources_with_scores_and_json_on_request(repo: Path, runner: CliRunner) -> None:
    runner.invoke(main, ["index", "--root", str(repo), "docs", "playbooks"])
    text = runner.invoke(main, ["search", "rotate the vault secret", "-k", "2"])
    as_json = runner.invoke(main, ["search", "rotate the vault secret", "--type", "playbook", "--json"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert len(lines) == 2
    assert any("docs/rotate.md#Rotate Vault secrets  (lines 1-2)" in line for line in lines)
    rows = json.loads(as_json.output)
    assert [row["path"] for row in rows] == ["playbooks/security/rotate-secret.yml"]
    assert rows[0]["source"] == "playbooks/security/rotate-secret.yml#Rotate a service's secret in Vault"


def test_search_before_indexing_tells_the_user_to_run_index(runner: CliRunner) -> None:
    result = runner.invoke(main, ["search", "rotate the vault secret"])
    assert result.exit_code == 1
    assert "run `opsgate index`" in result.output


def test_index_while_another_process_holds_the_embedded_store_says_so(
    repo: Path, runner: CliRunner, tmp_path: Path
) -> None:
    holder = Store.open(path=str(tmp_path / "qdrant"))
    holder.ensure("opsgate-held-4", dim=4)  # a collection open in the holder: its files are locked
    try:
        result = runner.invoke(main, ["index", "--root", str(repo), "docs"])
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "is open in another process" in result.output
    assert "QDRANT_URL" in result.output
