"""Personal data is masked before a prompt leaves for an external LLM, and restored in its reply."""

from __future__ import annotations

import pytest

from opsgate.parsing.masking import Mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("create an email for ann@acme.org", "create an email for <EMAIL_1>"),
        ("create an email for Mary Jones", "create an email for <PERSON_1>"),
        ("onboard colleague Priya", "onboard colleague <PERSON_1>"),
        ("grant Bob read access", "grant <PERSON_1> read access"),
        ("ticket from Sean O'Brien", "ticket from <PERSON_1>"),
        ("open the firewall to 10.0.0.12 and 192.168.1.0/24", "open the firewall to <IP_1> and <IP_2>"),
        ("block 2001:db8::/32 at 10:30:00", "block <IP_1> at 10:30:00"),
        ("call me on +44 20 7946 0958", "call me on <PHONE_1>"),
        ("rotate it, token=abc123def456", "rotate it, token=[REDACTED]"),
        ("mail for john.smith@acme.org, John asked", "mail for <EMAIL_1>, <PERSON_1> asked"),
        ("help me reach help@acme.org", "help me reach <EMAIL_1>"),
        ("add user maria.garcia with email maria.garcia@acme.org", "add user <PERSON_1> with email <EMAIL_1>"),
    ],
    ids=[
        "email",
        "full-name",
        "cued-name",
        "granted-name",
        "irish-name",
        "ipv4",
        "ipv6-not-a-time",
        "phone",
        "secret",
        "mailbox-owner",
        "role-mailbox",
        "username-of-the-address",
    ],
)
def test_personal_data_becomes_a_placeholder(text: str, masked: str) -> None:
    assert Mask().text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "restart deployment checkout in staging",
        "Scale Checkout to 3 replicas in Production",
        "Create Email for the Payments team on Monday",
        "add Redis to the shop namespace",
    ],
    ids=["lowercase", "catalog-words", "weekday", "product"],
)
def test_operations_words_are_not_names(text: str) -> None:
    assert Mask(known_words={"checkout", "replicas", "payments"}).text(text) == text


def test_the_same_value_gets_the_same_placeholder_in_every_message() -> None:
    mask = Mask()
    first = mask.text("email for ann@acme.org")
    second = mask.text("earlier: ANN@acme.org and bob@acme.org")
    assert (first, second) == ("email for <EMAIL_1>", "earlier: <EMAIL_1> and <EMAIL_2>")
    assert mask.counts() == {"EMAIL": 2}


def test_the_reply_gets_the_originals_back_wherever_the_model_put_them() -> None:
    mask = Mask()
    mask.text("create an email for Mary Jones mary.jones@acme.org")
    reply = {"key": "k", "entities": {"email": "<EMAIL_1>", "name": "<person_1>", "replicas": 3, "other": "<EMAIL_7>"}}
    assert mask.restore(reply) == {
        "key": "k",
        "entities": {"email": "mary.jones@acme.org", "name": "Mary Jones", "replicas": 3, "other": "<EMAIL_7>"},
    }


def test_a_requester_cannot_forge_a_placeholder_to_swap_values() -> None:
    mask = Mask()
    sent = mask.text("create an email for <EMAIL_1> and eve@evil.org")
    assert sent == "create an email for [placeholder] and <EMAIL_1>"
    assert mask.restore("<EMAIL_1>") == "eve@evil.org"


def test_secrets_are_never_restored() -> None:
    mask = Mask()
    sent = mask.text("password=hunter2 for ann@acme.org")
    assert "hunter2" not in sent
    assert "hunter2" not in str(mask.originals)
    assert mask.counts() == {"EMAIL": 1, "SECRET": 1}
