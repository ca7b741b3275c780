"""An OpenAI-compatible provider parses requests through the same validated path, with personal data masked.

Against the OpenAI-API test server (tests/fakes/openai_server.py), which refuses - and records -
any request carrying an e-mail address, an IP address or a name a test forbids: every success
below is also a proof that masking let nothing through. Every failure ends in the rule reading
with a note a human understands.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakes.openai_server import Behaviour, FakeOpenAI, strict_violations

from opsgate.adapters import llm_provider
from opsgate.adapters.openai_parser import ApiKey, OpenAIParser, retry_delay, strict_schema
from opsgate.audit import exchanges
from opsgate.catalog import Catalog, load_catalog
from opsgate.intent import Parser
from opsgate.parsing import parse_request, prompt
from opsgate.settings import Settings

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(check_executors=False)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, forbidden=("Mary", "Jones", "Priya")) as fake:
        yield fake


def _llm(
    server: FakeOpenAI, catalog: Catalog, *, key: str = KEY, model: str = "gpt-4o-mini", timeout: float = 5.0
) -> tuple[OpenAIParser, list[exchanges.Exchange]]:
    seen: list[exchanges.Exchange] = []
    parser = OpenAIParser(
        base_url=server.url, model=model, catalog=catalog, api_key=ApiKey(key), timeout=timeout, on_exchange=seen.append
    )
    return parser, seen


async def test_the_provider_fills_the_schema_and_the_rules_agree(server: FakeOpenAI, catalog: Catalog) -> None:
    llm, _seen = _llm(server, catalog)
    intent = await parse_request("please create an email for ann@acme.org", catalog=catalog, llm=llm)
    assert (intent.key, intent.parser) == ("provision.create.email", Parser.LLM_RULES)
    assert intent.entities == {"email": "ann@acme.org"}  # restored from the placeholder the model copied
    assert server.leaks == []
    sent = server.requests[-1]
    assert sent["temperature"] == 0
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert "<EMAIL_1>" in sent["messages"][-1]["content"]


async def test_names_emails_and_addresses_never_reach_the_provider(server: FakeOpenAI, catalog: Catalog) -> None:
    llm, seen = _llm(server, catalog)
    text = "create an email for Mary Jones mary.jones@acme.org, she sits at 10.1.2.3 next to colleague Priya"
    intent = await parse_request(text, catalog=catalog, llm=llm)
    assert server.leaks == []
    assert intent.key == "provision.create.email"
    assert intent.entities["email"] == "mary.jones@acme.org"
    user = server.requests[-1]["messages"][-1]["content"]
    assert "<PERSON_1>" in user
    assert "<EMAIL_1>" in user
    assert "<IP_1>" in user
    assert "<PERSON_2>" in user
    recorded = seen[-1]
    assert "mary.jones" not in recorded.prompt
    assert "Mary" not in recorded.prompt
    assert recorded.outcome == "ok"


async def test_without_masking_the_server_would_have_caught_the_leak(server: FakeOpenAI) -> None:
    """The guard in the test server is real: an unmasked body is refused and recorded."""
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{server.url}/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "email for Mary at m@acme.org"}]},
        )
    assert response.status_code == 400
    assert server.leaks == ["email m@acme.org", "forbidden 'Mary'"]


async def test_the_strict_schema_sent_is_one_strict_mode_accepts(catalog: Catalog) -> None:
    plain = prompt.output_schema(catalog)
    assert strict_violations(plain)  # the catalog schema as Ollama takes it would be refused
    assert strict_violations(strict_schema(plain)) == []


@pytest.mark.parametrize(
    ("behaviour", "note"),
    [
        (Behaviour.GARBAGE, "the model's reply is not JSON"),
        (Behaviour.OFF_SCHEMA, "reply violates the schema"),
        (Behaviour.ERROR, "answered HTTP 500: The server had an error while processing your request."),
        (Behaviour.MALFORMED_BODY, "sent a body that is not JSON"),
        (Behaviour.REFUSAL, "the model refused: I'm sorry, I can't help with that request."),
    ],
    ids=["garbage", "off-schema", "server-error", "malformed-body", "refusal"],
)
async def test_a_bad_answer_leaves_the_rule_reading_with_a_note_saying_why(
    server: FakeOpenAI, catalog: Catalog, behaviour: Behaviour, note: str
) -> None:
    server.behaviour = behaviour
    llm, seen = _llm(server, catalog)
    intent = await parse_request("scale the checkout deployment to 4 replicas in staging", catalog=catalog, llm=llm)
    assert intent.parser is Parser.RULES
    assert intent.entities["replicas"] == 4
    assert any(note in n and "used the rule parser" in n for n in intent.notes), intent.notes
    assert seen[-1].outcome != "ok"
    assert note in seen[-1].detail


async def test_a_wrong_api_key_is_said_without_showing_the_key(server: FakeOpenAI, catalog: Catalog) -> None:
    llm, seen = _llm(server, catalog, key="sk-wrong-key-987")
    intent = await parse_request("restart deployment checkout in dev", catalog=catalog, llm=llm)
    note = intent.notes[-1]
    assert "refused our API key (HTTP 401)" in note
    assert "sk-wrong-key-987" not in note
    assert "sk-wrong-key-987" not in json.dumps(seen[-1].to_json())


async def test_an_unknown_model_says_so(server: FakeOpenAI, catalog: Catalog) -> None:
    llm, _seen = _llm(server, catalog, model="gpt-9")
    intent = await parse_request("restart deployment checkout in dev", catalog=catalog, llm=llm)
    assert "answered HTTP 404: The model `gpt-9` does not exist" in intent.notes[-1]


async def test_a_slow_provider_times_out_within_the_budget(server: FakeOpenAI, catalog: Catalog) -> None:
    server.behaviour, server.delay = Behaviour.SLOW, 3.0
    llm, seen = _llm(server, catalog, timeout=0.5)
    intent = await parse_request("restart deployment checkout in dev", catalog=catalog, llm=llm)
    assert intent.parser is Parser.RULES
    assert "did not answer within 0.5s" in intent.notes[-1]
    assert (seen[-1].outcome, seen[-1].reply) == ("timeout", None)


async def test_an_unreachable_provider_says_where_it_was_looked_for(catalog: Catalog) -> None:
    with FakeOpenAI(api_key=KEY) as gone:
        url = gone.url
    parser = OpenAIParser(base_url=url, model="gpt-4o-mini", catalog=catalog, api_key=ApiKey(KEY), timeout=2)
    intent = await parse_request("restart deployment checkout in dev", catalog=catalog, llm=parser)
    assert f"cannot reach the LLM provider at {url}" in intent.notes[-1]


async def test_a_short_rate_limit_is_waited_out_and_retried(server: FakeOpenAI, catalog: Catalog) -> None:
    server.behaviour, server.retry_after, server.rate_limited_times = Behaviour.RATE_LIMITED, 0.3, 1
    llm, _seen = _llm(server, catalog)
    intent = await parse_request("please create an email for ann@acme.org", catalog=catalog, llm=llm)
    assert intent.parser is Parser.LLM_RULES
    assert server.calls == 2


async def test_a_rate_limit_longer_than_the_budget_is_not_waited_for(server: FakeOpenAI, catalog: Catalog) -> None:
    server.behaviour, server.retry_after, server.rate_limited_times = Behaviour.RATE_LIMITED, 30, 5
    llm, seen = _llm(server, catalog, timeout=2)
    intent = await parse_request("restart deployment checkout in dev", catalog=catalog, llm=llm)
    assert intent.parser is Parser.RULES
    assert "is rate-limiting us (HTTP 429 after 1 attempt(s), and asked to wait 30s more" in intent.notes[-1]
    assert server.calls == 1
    assert seen[-1].outcome == "rate_limited"


async def test_a_model_naming_an_action_outside_the_catalog_changes_nothing(
    server: FakeOpenAI, catalog: Catalog
) -> None:
    server.replies = [json.dumps({"key": "shell.run.anything", "entities": {}})]
    llm, _seen = _llm(server, catalog)
    intent = await parse_request("restart deployment checkout in dev", catalog=catalog, llm=llm)
    assert intent.key == "provision.restart.deployment"
    assert "shell.run.anything" in intent.notes[-1]
    assert intent.parser is Parser.RULES


async def test_each_exchange_is_linked_to_the_request_being_planned(server: FakeOpenAI, catalog: Catalog) -> None:
    llm, seen = _llm(server, catalog)
    created = "2026-12-03T10:00:00Z"
    body = {"metadata": {"uid": "u-1", "name": "email", "namespace": "team-a", "creationTimestamp": created}}
    exchanges.CURRENT.set(exchanges.RequestRef.of(body))
    await parse_request("create an email for ann@acme.org", catalog=catalog, llm=llm)
    recorded = seen[-1]
    assert recorded.request == exchanges.RequestRef("u-1", "email", "team-a", "2026-12-03T10:00:00Z")
    assert (recorded.provider, recorded.model) == ("openai", "gpt-4o-mini")
    assert recorded.prompt_tokens
    assert recorded.reply_tokens
    assert json.loads(recorded.reply or "")["entities"]["email"] == "<EMAIL_1>"  # as received: masked
    assert exchanges.Exchange.from_json(json.loads(json.dumps(recorded.to_json()))) == recorded


async def test_the_api_key_is_never_logged(
    server: FakeOpenAI, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    server.behaviour, server.retry_after, server.rate_limited_times = Behaviour.RATE_LIMITED, 0.1, 1
    caplog.set_level(logging.DEBUG)
    llm, _seen = _llm(server, catalog)
    await parse_request("create an email for ann@acme.org", catalog=catalog, llm=llm)
    assert "retrying" in caplog.text
    assert KEY not in caplog.text
    assert KEY not in repr(ApiKey(KEY))
    assert KEY not in repr(vars(llm))


def test_the_provider_is_chosen_by_configuration(tmp_path: Path, catalog: Catalog) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text(KEY + "\n")
    env = {
        "OPSGATE_LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": "https://llm.internal/v1",
        "OPENAI_MODEL": "qwen2.5-7b",
        "OPENAI_API_KEY_FILE": str(key_file),
    }
    parser = llm_provider.from_settings(Settings.from_env(env), catalog, environ=env)
    assert isinstance(parser, OpenAIParser)
    assert (parser.endpoint, parser.model) == ("https://llm.internal/v1/chat/completions", "qwen2.5-7b")
    assert parser._api_key.header() == {"Authorization": f"Bearer {KEY}"}
    assert llm_provider.from_settings(Settings.from_env({}), catalog, environ={}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPSGATE_LLM_PROVIDER": "openai"}, "OPSGATE_LLM_PROVIDER=openai needs OPENAI_BASE_URL"),
        ({"OPSGATE_LLM_PROVIDER": "gpt"}, "OPSGATE_LLM_PROVIDER='gpt' is not a provider; use one of ollama, openai"),
        (
            {"OPSGATE_LLM_PROVIDER": "openai", "OPENAI_BASE_URL": "http://x/v1", "OPENAI_API_KEY_FILE": "/no/k"},
            "cannot read the LLM API key file /no/k",
        ),
    ],
    ids=["no-base-url", "unknown-provider", "missing-key-file"],
)
def test_a_provider_misconfigured_is_a_clear_error(env: dict[str, str], message: str, catalog: Catalog) -> None:
    with pytest.raises(llm_provider.ProviderConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        llm_provider.from_settings(Settings.from_env(env), catalog, environ=env)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "250", "Retry-After": "1"}, 0.25),
        ({"Retry-After": "Thu, 03 Dec 2026 12:00:30 GMT"}, 30.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
    ids=["seconds", "milliseconds-first", "http-date", "unreadable", "absent"],
)
def test_retry_after_is_read_in_each_of_its_forms(headers: dict[str, str], seconds: float | None) -> None:
    import datetime

    now = datetime.datetime(2026, 12, 3, 12, 0, 0, tzinfo=datetime.UTC)
    assert retry_delay(headers, now=now) == seconds


def test_opsgate_parse_uses_the_configured_external_provider(server: FakeOpenAI) -> None:
    from click.testing import CliRunner

    from opsgate.cli import main

    env = {"OPSGATE_LLM_PROVIDER": "openai", "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}
    result = CliRunner(env=env).invoke(main, ["parse", "create an email for Mary Jones mary.jones@acme.org"])
    assert result.exit_code == 0, result.output
    intent = json.loads(result.output)
    assert (intent["action"], intent["entities"]) == ("create", {"email": "mary.jones@acme.org"})
    assert server.requests  # the provider was asked
    assert server.leaks == []
    wrong = CliRunner(env={"OPSGATE_LLM_PROVIDER": "openai"}).invoke(main, ["parse", "x"])
    assert wrong.exit_code == 2
    assert "needs OPENAI_BASE_URL" in wrong.output


def test_a_rotated_key_file_is_used_without_a_restart(tmp_path: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text("sk-old\n")
    key = ApiKey.load(path=str(key_file), value=None)
    assert key.header() == {"Authorization": "Bearer sk-old"}
    replacement = tmp_path / "api-key.new"
    replacement.write_text("sk-new\n")
    replacement.replace(key_file)  # as the kubelet swaps a Secret volume's contents
    assert key.header() == {"Authorization": "Bearer sk-new"}
    key_file.unlink()
    assert key.header() == {"Authorization": "Bearer sk-new"}  # a file gone for a moment: the last key stands


async def test_a_question_s_answer_is_written_by_the_provider_with_the_passages_masked(
    server: FakeOpenAI, catalog: Catalog
) -> None:
    from opsgate.rag import answer as rag_answer
    from opsgate.rag.hits import Hit

    llm, seen = _llm(server, catalog)
    server.replies = ["Write to <EMAIL_1>; Mary's team owns it [1]."]
    hit = Hit(
        path="docs/runbooks/provision-email.md",
        heading="Who owns it",
        type="doc",
        score=0.9,
        text="Mailbox questions go to Mary Jones (mary.jones@acme.org), on call at 10.2.3.4.",
        start_line=1,
        end_line=3,
    )
    answered = await rag_answer.answer("who owns mailboxes?", [hit], llm=llm.write)
    assert answered.text == "Write to mary.jones@acme.org; Mary's team owns it [1]."
    assert server.leaks == []
    sent = server.requests[-1]
    assert "response_format" not in sent
    assert "<PERSON_1> (<EMAIL_1>)" in sent["messages"][0]["content"]
    assert (seen[-1].outcome, seen[-1].reply) == ("ok", "Write to <EMAIL_1>; Mary's team owns it [1].")


async def test_when_the_provider_fails_the_answer_quotes_the_passages(server: FakeOpenAI, catalog: Catalog) -> None:
    from opsgate.rag import answer as rag_answer
    from opsgate.rag.hits import Hit

    server.behaviour = Behaviour.ERROR
    llm, seen = _llm(server, catalog)
    hit = Hit(path="docs/x.md", heading="Rotate", type="doc", score=0.9, text="Rotate.", start_line=1, end_line=1)
    answered = await rag_answer.answer("how do I rotate?", [hit], llm=llm.write)
    assert answered.text.startswith(rag_answer.QUOTED_INTRO)
    assert seen[-1].outcome == "http"


def test_a_misconfigured_provider_stops_the_operator(catalog: Catalog) -> None:
    import kopf

    from opsgate import handlers

    own = Settings.from_env({"OPSGATE_LLM_PROVIDER": "openai"})
    with pytest.raises(kopf.PermanentError, match="needs OPENAI_BASE_URL"):
        handlers._llm(own, catalog)
