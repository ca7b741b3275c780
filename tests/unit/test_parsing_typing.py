"""How people really type requests, read by the rules alone: the wording issue 22 lists (chat
commands, kubectl flags, shorthand, split phrasal verbs, context before the ask, non-native
English), and the requests that must still name no action."""

from __future__ import annotations

import pytest

from opsgate.catalog import Catalog, load_catalog
from opsgate.parsing import rules, shorthand


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(check_executors=False)


@pytest.mark.parametrize(
    ("request_text", "key", "entities"),
    [
        ("The old marketing site promo.acme.org should be taken down entirely", "provision.delete.website",
         {"domain": "promo.acme.org"}),
        ("take down events2021.acme.org at your earliest convenience", "provision.delete.website",
         {"domain": "events2021.acme.org"}),
        ("please go ahead and take https://old.acme.org/ down, it was archived", "provision.delete.website",
         {"domain": "old.acme.org"}),
        ("decommission legacy.acme.org, the new site is live", "provision.delete.website",
         {"domain": "legacy.acme.org"}),
        ("request: dev namespace billing-exp for the billing team", "provision.create.namespace",
         {"name": "billing-exp", "environment": "dev"}),
        ("scale cart 4 -n shop", "provision.scale.deployment", {"name": "cart", "replicas": 4, "namespace": "shop"}),
        ("kubectl scale deploy/cart --replicas=4 -n shop", "provision.scale.deployment",
         {"name": "cart", "replicas": 4, "namespace": "shop"}),
        ("/scale checkout 3 staging", "provision.scale.deployment",
         {"name": "checkout", "replicas": 3, "environment": "staging"}),
        ("/logs cart --last 30m", "observability.query.logs", {"service": "cart", "since": "30m"}),
        ("I would like to have a website on news.acme.org, with Enforce HTTPS on please", "provision.create.website",
         {"domain": "news.acme.org", "tls": True}),
        ("bump search to 5 replicas in stage", "provision.scale.deployment",
         {"name": "search", "replicas": 5, "environment": "staging"}),
        ("roll the ingest pods in prod", "provision.restart.deployment",
         {"name": "ingest", "environment": "production"}),
        ("nuke ns tmp-42", "provision.delete.namespace", {"name": "tmp-42"}),
        ("create sa deployer in ns ci", "identity.create.service_account", {"name": "deployer", "namespace": "ci"}),
        ("k8s: restart deploy/web -n frontend", "provision.restart.deployment",
         {"name": "web", "namespace": "frontend"}),
        ("plz creat namspace team-blue", "provision.create.namespace", {"name": "team-blue"}),
        ("the key for the reporting service leaked in a public gist, needs rotation asap", "security.rotate.secret",
         {"service": "reporting"}),
        ("we moved to the new domain last week, so please delete the mailbox info@oldco.com",
         "provision.delete.email", {"email": "info@oldco.com"}),
        ("the api in prod needs a restart after the migration", "provision.restart.deployment",
         {"name": "api", "environment": "production"}),
        ("initialize cab.acme.org as a new site", "provision.create.website", {"domain": "cab.acme.org"}),
    ],
    ids=["taken-down", "take-down-politely", "take-x-down", "decommission-domain", "request-colon",
         "positional-count", "kubectl", "slash-command", "slash-logs", "wish-with-setting", "bump-stage",
         "roll-prod", "nuke-ns", "sa-ns", "k8s-prefix", "typos", "action-as-noun", "context-first",
         "needs-a-restart", "initialize"],
)  # fmt: skip
def test_requests_as_people_type_them(
    catalog: Catalog, request_text: str, key: str, entities: dict[str, object]
) -> None:
    intent = rules.parse(request_text, catalog)
    assert intent.key == key
    assert intent.entities == entities


@pytest.mark.parametrize(
    "request_text",
    [
        "Could you please open a ServiceNow ticket for the shared email request?",
        "create a grafana dashboard for checkout latency",
        "can you purge the CDN cache for www.acme.org",
        "purge the CDN for shop.acme.org",
        "point status.acme.org at 203.0.113.9 and 203.0.113.10",
        "/rollback order-service production",
        "/deploy cart v1.2 production",
        "the website is down, can you check?",
        "/incident db-slow",
        "people keep asking how to create a namespace - please improve the docs",
        "rename the namespace legacy to archive",
        "my laptop needs a restart",
        "add a restart button for the service to the dashboard",
    ],
    ids=["ticket-about-a-request", "dashboard", "cdn-cache", "cdn-of-a-site", "record-not-site", "rollback",
         "deploy-version", "outage-report", "other-bots-command", "how-to", "rename", "own-laptop",
         "a feature-request"],
)  # fmt: skip
def test_what_the_catalog_cannot_do_still_names_no_action(catalog: Catalog, request_text: str) -> None:
    intent = rules.parse(request_text, catalog)
    assert intent.key is None, intent


def test_a_split_phrasal_verb_several_words_away_is_left_alone() -> None:
    assert shorthand.rewrite("take the old marketing site down") == "take the old marketing site down"
    assert shorthand.rewrite("take the site down") == "take down the site"


def test_a_positional_count_is_not_read_where_a_unit_follows_it() -> None:
    assert shorthand.rewrite("scale cart 4 -n shop") == "scale cart to 4 replicas -n shop"
    assert shorthand.rewrite("scale cart 40 percent") == "scale cart 40 percent"
    assert shorthand.rewrite("scale to 4") == "scale to 4"


def test_requesting_that_something_happen_is_not_a_request_to_create_it(catalog: Catalog) -> None:
    intent = rules.parse("requesting that kim's access to namespace hr be removed", catalog)
    assert intent.key != "provision.create.namespace"


def test_ns_records_are_dns_records_not_namespaces(catalog: Catalog) -> None:
    intent = rules.parse("add an NS record for sub.acme.org pointing to ns1.acme.org", catalog)
    assert intent.resource_type == "dns_record"
