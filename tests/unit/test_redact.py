"""Secrets in request text and parameters are found and never passed on."""

from __future__ import annotations

import pytest

from opsgate import redact

SECRET_TEXTS = [
    ("create user bob with password hunter2", "create user bob with password [REDACTED]", "password"),
    ("password=hunter2 please", "password=[REDACTED] please", "password"),
    ("the password is hunter2", "the password is [REDACTED]", "password"),
    ("token: abc123def", "token: [REDACTED]", "token"),
    ('{"api_key": "zzz-top"}', '{"api_key": [REDACTED]}', "api-key"),
    ("use key AKIAIOSFODNN7EXAMPLE now", "use key [REDACTED] now", "aws-access-key"),
    ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer [REDACTED]", "bearer-token"),
    (
        "connect postgres://app:s3cr3t@db:5432/x",
        "connect postgres://app:[REDACTED]@db:5432/x",
        "connection-string",
    ),
    (
        "key -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- end",
        "key [REDACTED] end",
        "private-key",
    ),
    ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", "jwt [REDACTED]", "jwt"),
]


@pytest.mark.parametrize(
    ("text", "redacted", "kind"),
    SECRET_TEXTS,
    ids=[case[2] + "-" + str(i) for i, case in enumerate(SECRET_TEXTS)],
)
def test_a_secret_is_found_and_replaced(text: str, redacted: str, kind: str) -> None:
    assert redact.redact(text) == redacted
    assert [f.kind.value for f in redact.find_secrets(text)] == [kind]


PLAIN_TEXTS = [
    "reset the password for bob",
    "Rotate the secret for payments",
    "rotate secrets of service payments in production",
    "create an email for x@acme.org",
    "issue a token rotation policy review",
    "Delete the production cluster payments-prod",
]


@pytest.mark.parametrize("text", PLAIN_TEXTS, ids=PLAIN_TEXTS)
def test_ordinary_requests_that_mention_credentials_are_left_alone(text: str) -> None:
    assert redact.find_secrets(text) == []
    assert redact.redact(text) == text


def test_redacting_twice_changes_nothing_more() -> None:
    once = redact.redact("with password hunter2 and token=xyz")
    assert redact.redact(once) == once
    assert redact.find_secrets(once) == []


def test_a_finding_records_where_the_secret_is_but_not_the_secret() -> None:
    [finding] = redact.find_secrets("password=hunter2")
    assert "hunter2" not in repr(finding)
    assert "password=hunter2"[finding.start : finding.end] == "hunter2"


def test_nested_values_are_redacted_by_key_and_by_content() -> None:
    value = {"username": "bob", "password": "hunter2", "notes": ["token=abc123", "fine"], "tls": True}
    assert redact.redact_value(value) == {
        "username": "bob",
        "password": "[REDACTED]",
        "notes": ["token=[REDACTED]", "fine"],
        "tls": True,
    }
    assert [f.path for f in redact.find_secrets_in_value(value, path="entities")] == [
        "entities.password",
        "entities.notes[0]",
    ]


def test_a_value_without_secrets_has_no_findings() -> None:
    assert redact.find_secrets_in_value({"email": "x@acme.org", "replicas": 3, "password": ""}) == []


KEYS_AROUND_A_KEYWORD = [
    ("db_password: hunter2hunter2", "db_password: [REDACTED]", "password"),
    ("X-Vault-Token: s.abcdef123", "X-Vault-Token: [REDACTED]", "token"),
    ('stripe.api-key = "sk-live-123"', "stripe.api-key = [REDACTED]", "api-key"),
]


@pytest.mark.parametrize(
    ("text", "redacted", "kind"), KEYS_AROUND_A_KEYWORD, ids=[case[0].split(":")[0] for case in KEYS_AROUND_A_KEYWORD]
)
def test_a_key_that_extends_a_credential_word_is_a_credential_key(text: str, redacted: str, kind: str) -> None:
    assert redact.redact(text) == redacted
    assert [f.kind.value for f in redact.find_secrets(text)] == [kind]


REFERENCES = [
    ("password: \"{{ lookup('hashi_vault', secret_path) }}\"", "jinja-lookup"),
    ('X-Api-Key: "{{ dependency_track_api_key }}"', "jinja-variable"),
    ("api_key = var.api_key", "hcl-variable"),
    ('token = "${data.vault_generic_secret.ci.data["token"]}"', "hcl-interpolation"),
    ("vault_token_path: secret/data/payments", "vault-path"),
    ("password: !vault |", "ansible-vault-tag"),
    ("automountServiceAccountToken: false", "boolean-setting"),
    ("password: <your password>", "placeholder"),
    ("secretName: api-acme-org-tls", "camel-case-key-names-a-secret-object"),
    ("when: current_secret.status == 200", "comparison"),
    ("security.rotate.secret:\n    description: Rotate a service's secrets", "yaml-key-ending-a-line"),
]


@pytest.mark.parametrize("source", list(redact.Source), ids=[s.value for s in redact.Source])
@pytest.mark.parametrize("text", [r[0] for r in REFERENCES], ids=[r[1] for r in REFERENCES])
def test_references_settings_and_names_are_kept_in_requests_and_files(text: str, source: redact.Source) -> None:
    assert redact.find_secrets(text, source=source) == []
    assert redact.redact(text, source=source) == text


FILE_TEXTS = [
    ("No password is generated: with an email, the user sets one", "prose"),
    ("# Secret: idp_token (an admin token for the realm, from Vault, never logged).", "variable-name"),
    ("# Mail provider (mailbox REST API). Token: `mail_api_token`, from Vault.", "quoted-variable-name"),
]


@pytest.mark.parametrize("text", [t[0] for t in FILE_TEXTS], ids=[t[1] for t in FILE_TEXTS])
def test_a_file_that_talks_about_credentials_is_indexed_as_it_is_but_a_request_saying_it_is_redacted(
    text: str,
) -> None:
    assert redact.redact(text, source=redact.Source.FILE) == text
    assert redact.REDACTED in redact.redact(text)  # typed by a requester, the same words may carry one


@pytest.mark.parametrize("source", list(redact.Source), ids=[s.value for s in redact.Source])
@pytest.mark.parametrize(
    "text",
    [
        "db_password: hunter2hunter2",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        "Authorization: Bearer abcdefghijklmnop",
        "ghp_" + "a" * 36,
    ],
    ids=["assignment", "pem-block", "bearer", "github-token"],
)
def test_literal_secrets_are_masked_the_same_way_in_requests_and_files(text: str, source: redact.Source) -> None:
    masked = redact.redact(text, source=source)
    assert redact.REDACTED in masked
    assert redact.find_secrets(masked, source=source) == []
