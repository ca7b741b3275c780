"""Chunking: structure first (headings, plays, tasks, rules, documents, blocks), then the budget."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest
import yaml

from opsgate.rag import budget, chunking, yamlsplit
from opsgate.rag.chunks import Chunk, ChunkingError, SourceType, point_id
from opsgate.redact import REDACTED as MASK
from opsgate.redact import Source, redact

REPO = Path(__file__).resolve().parents[2]
needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")


def chunks_of(path: str, text: str) -> list[Chunk]:
    return chunking.chunk_file(path, textwrap.dedent(text).lstrip("\n").encode())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("docs/runbooks/rotate.md", SourceType.DOC),
        ("README.md", SourceType.DOC),
        ("playbooks/security/rotate-secret.yml", SourceType.PLAYBOOK),
        ("terraform/modules/bucket/main.tf", SourceType.TERRAFORM),
        ("policies/change-windows.yaml", SourceType.POLICY),
        ("examples/opsrequest.yaml", SourceType.MANIFEST),
    ],
    ids=["runbook", "readme", "playbook", "module", "policy", "manifest"],
)
def test_the_source_type_comes_from_where_the_file_sits(path: str, expected: SourceType) -> None:
    assert chunking.source_type(path) is expected


def test_markdown_is_cut_at_headings_and_each_chunk_names_its_heading_trail() -> None:
    chunks = chunks_of(
        "docs/rotate.md",
        """
        # Rotating secrets
        Why rotation matters.

        ## Steps
        Run the playbook.
        ```bash
        # not a heading: a shell comment
        opsgate plan "rotate the secret"
        ```

        ## Rollback
        Restore the previous version.
        """,
    )
    assert [c.title for c in chunks] == [
        "Rotating secrets",
        "Rotating secrets > Steps",
        "Rotating secrets > Rollback",
    ]
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 2), (4, 9), (11, 12)]
    assert "# not a heading" in chunks[1].text
    assert {c.type for c in chunks} == {SourceType.DOC}


def test_a_short_play_is_one_chunk_with_its_name_and_group() -> None:
    chunks = chunks_of(
        "playbooks/security/rotate-secret.yml",
        """
        # Rotate a secret in Vault.
        - name: Rotate a service's secret
          hosts: localhost
          tasks:
            - name: Write the new version
              ansible.builtin.uri: {url: "https://vault/v1/secret"}
        """,
    )
    assert len(chunks) == 1
    assert chunks[0].title == "Rotate a service's secret"
    assert chunks[0].kind == "play"
    assert chunks[0].module == "security"
    assert chunks[0].start_line == 1  # the comment above the play belongs to it


def test_a_long_play_is_cut_into_its_header_and_groups_of_whole_tasks() -> None:
    tasks = "\n".join(
        f"    - name: Step {n}\n      ansible.builtin.debug:\n        msg: {' '.join(['word'] * 60)}" for n in range(20)
    )
    text = f"- name: Big play\n  hosts: localhost\n  vars:\n    a: 1\n  tasks:\n{tasks}\n"
    chunks = chunking.chunk_file("playbooks/provision/big.yml", text.encode())
    assert chunks[0].kind == "play"
    assert chunks[0].title == "Big play"
    groups = chunks[1:]
    assert len(groups) > 1
    assert all(c.kind == "tasks" and c.title.startswith("Big play > Step ") for c in groups)
    assert all(budget.count_tokens(c.text) <= budget.TOKEN_BUDGET for c in groups)
    assert all(c.text.lstrip().startswith("- name: Step") for c in groups)  # never cut inside a task
    assert [c.start_line for c in groups] == sorted(c.start_line for c in groups)


def test_policies_are_cut_per_rule_and_the_catalog_per_entry() -> None:
    rules = chunks_of(
        "policies/production.yaml",
        """
        rules:
          - name: no-production-deletion
            expression: "!(intent.action == 'delete' && request.environment == 'production')"
          - name: change-window
            expression: "now.getHours() >= 9"
        """,
    )
    catalog = chunks_of(
        "policies/actions.yaml",
        """
        version: 1
        actions:
          security.rotate.secret:
            description: Rotate a secret
          provision.scale.deployment:
            description: Scale a deployment
        """,
    )
    assert [c.title for c in rules] == ["no-production-deletion", "change-window"]
    assert [c.title for c in catalog] == [
        "actions",
        "security.rotate.secret: Rotate a secret",
        "provision.scale.deployment: Scale a deployment",
    ]
    assert catalog[1].start_line == 3
    assert catalog[1].end_line == 4


def test_manifests_are_cut_per_document_and_titled_kind_slash_name() -> None:
    chunks = chunks_of(
        "examples/requests.yaml",
        """
        apiVersion: opsgate.dev/v1alpha1
        kind: OpsRequest
        metadata: {name: rotate-payments}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: payments}
        """,
    )
    assert [(c.title, c.kind) for c in chunks] == [
        ("OpsRequest/rotate-payments", "OpsRequest"),
        ("Namespace/payments", "Namespace"),
    ]


def test_terraform_is_cut_per_top_level_block_with_the_comments_above_it() -> None:
    chunks = chunks_of(
        "terraform/modules/bucket/main.tf",
        """
        # The bucket itself.
        resource "aws_s3_bucket" "this" {
          bucket = var.name
          tags   = { owner = var.owner }
        }

        variable "name" {
          type = string
          validation {
            condition     = length(var.name) > 2
            error_message = "A bucket name needs 3 characters { at least."
          }
        }

        locals { policy = <<EOT
        { "Version": "2012-10-17"
        EOT
        }
        """,
    )
    assert [(c.title, c.kind, c.start_line, c.end_line) for c in chunks] == [
        ("resource aws_s3_bucket this", "resource", 1, 5),
        ("variable name", "variable", 7, 13),
        ("locals", "locals", 15, 18),
    ]
    assert {c.module for c in chunks} == {"bucket"}


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("playbooks/broken.yml", b"- name: x\n  tasks: [unclosed\n"),
        ("terraform/modules/x/main.tf", b'resource "a" "b" {\n  x = 1\n'),
        ("terraform/modules/x/extra.tf", b"}\n"),
        ("docs/latin1.md", "# Caf\u00e9".encode("latin-1")),
    ],
    ids=["invalid-yaml", "unclosed-block", "stray-brace", "not-utf8"],
)
def test_a_broken_file_raises_a_chunking_error_saying_why(path: str, data: bytes) -> None:
    with pytest.raises(ChunkingError):
        chunking.chunk_file(path, data)


def chunks_with(loader: type[yaml.SafeLoader | yaml.CSafeLoader], path: str, data: bytes) -> list[Chunk]:
    previous, yamlsplit.LOADER = yamlsplit.LOADER, loader
    try:
        return chunking.chunk_file(path, data)
    finally:
        yamlsplit.LOADER = previous


@needs_libyaml
def test_yaml_is_parsed_by_libyaml_when_pyyaml_has_it() -> None:
    assert yamlsplit.LOADER is yaml.CSafeLoader


@needs_libyaml
@pytest.mark.parametrize(
    "path",
    sorted(
        path.relative_to(REPO).as_posix()
        for folder in ("playbooks", "policies", "examples")
        for path in (REPO / folder).rglob("*.y*ml")
    ),
)
def test_libyaml_cuts_the_repository_yaml_at_the_same_lines_as_pure_python(path: str) -> None:
    data = (REPO / path).read_bytes()
    assert chunks_with(yaml.CSafeLoader, path, data) == chunks_with(yaml.SafeLoader, path, data)


@needs_libyaml
def test_libyaml_ends_a_file_without_a_final_newline_on_the_same_line_as_pure_python() -> None:
    # libyaml ends the last collection on the line after the text; the span must not grow by one.
    data = b"- name: First\n  hosts: all\n  tasks:\n    - name: one\n      ping:\n- name: Second\n  hosts: db"
    c_chunks = chunks_with(yaml.CSafeLoader, "playbooks/two.yml", data)
    assert c_chunks == chunks_with(yaml.SafeLoader, "playbooks/two.yml", data)
    assert [(c.title, c.start_line, c.end_line) for c in c_chunks] == [("First", 1, 5), ("Second", 6, 7)]


@pytest.mark.parametrize("loader", [yaml.SafeLoader, *([yaml.CSafeLoader] if yaml.__with_libyaml__ else [])])
def test_invalid_yaml_is_a_one_line_chunking_error_naming_the_line(
    loader: type[yaml.SafeLoader | yaml.CSafeLoader],
) -> None:
    with pytest.raises(ChunkingError) as raised:
        chunks_with(loader, "playbooks/broken.yml", b"- name: x\n  tasks: [unclosed\n")
    message = str(raised.value)
    assert message.startswith("invalid YAML: while parsing a flow sequence")
    assert "line 2, column 10" in message
    assert "\n" not in message


def test_a_section_over_the_budget_is_split_into_overlapping_windows_with_exact_lines() -> None:
    lines = [f"line {n} " + "alpha beta gamma delta " * 5 for n in range(200)]
    windows = budget.split_lines(lines, first_line=10)
    assert len(windows) > 2
    assert all(budget.count_tokens(w.text) <= budget.TOKEN_BUDGET for w in windows)
    assert windows[0].start_line == 10
    assert windows[-1].end_line == 209
    for before, after in itertools.pairwise(windows):
        assert after.start_line <= before.end_line  # overlap
        assert after.start_line > before.start_line  # progress
    assert windows[1].text.splitlines()[0] == lines[windows[1].start_line - 10]


def test_point_ids_depend_on_path_and_position_only() -> None:
    first = chunks_of("docs/a.md", "# A\ntext\n")
    again = chunks_of("docs/a.md", "# A\nother text\n")
    assert first[0].point_id == again[0].point_id == point_id("docs/a.md", 0)
    assert first[0].content_hash != again[0].content_hash
    assert point_id("docs/b.md", 0) != point_id("docs/a.md", 0)


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("db_password: hunter2hunter2", "db_password: ", "hunter2"),
        ('api_key = "sk-live-1234567890"', "api_key = ", "sk-live"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", MASK, "MIIE"),
    ],
    ids=["yaml-password", "hcl-api-key", "pem-block"],
)
def test_literal_secrets_are_masked_before_indexing(text: str, kept: str, gone: str) -> None:
    masked = redact(text, source=Source.FILE)
    assert kept in masked
    assert gone not in masked


@pytest.mark.parametrize(
    "text",
    [
        "password: \"{{ lookup('hashi_vault', secret_path) }}\"",
        "vault_token_path: secret/data/payments",
        "no_log: true",
    ],
    ids=["jinja-lookup", "vault-path", "plain-setting"],
)
def test_references_to_secrets_are_kept_as_they_are(text: str) -> None:
    assert redact(text, source=Source.FILE) == text
