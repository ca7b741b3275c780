"""Is there an ask for us? What a requester sees when the text reports, wishes, asks or replies.

Each decline is paired with an in-scope request of the same shape that must still be read.
"""

from __future__ import annotations

import pytest

from opsgate.catalog import Catalog, load_catalog
from opsgate.parsing import rules, speech
from opsgate.parsing.tokens import tokenize


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(check_executors=False)


@pytest.mark.parametrize(
    ("request_text", "declined_with"),
    [
        # a question after some context, with or without its question mark
        ("I have two user (basic-user for developer), I create one project. Now the project is not visible to "
         "other users. How to make a common project for all user", speech.NOTE_QUESTION),
        ("The app says \"check the logs for more information.\" How do I check the logs?", speech.NOTE_QUESTION),
        # a support reply to a requester, opening with the name it addresses
        ("Hi there Ian, is this request for access into the Openshift Cluster or that namespace specifically? If "
         "it is just for namespace do you know of any other project admins that can grant you access.",
         speech.NOTE_QUESTION),
        ("If it is for the namespace, another project admin can grant you access.", "reply to a requester"),
        # a wish about a thing, not a request
        ("It would be nice if the ci pipeline could generate a SBOM for the image.", "wish"),
        ("I received an email asking if he could please be deleted from that list.", ""),
        ("He wrote that he would like it if he could be deleted from the namespace list.", "wish"),
        ("Our team lead wants to know if we can get a namespace for every developer", speech.NOTE_QUESTION),
        ("the staging cluster has been deleted by terraform, can someone explain why?", ""),
        # a symptom or a standing rule
        ("user gets a 'quarantine' message every time she tries to access the VPN over the guest network.", ""),
        ("the platform should restart the api deployment every time it crashes", "recurring events (every time)"),
        ("make the pods restart unless they are stopped", "recurring events (unless)"),
        # a membership change, and things at an outside provider
        ("Remove the website from the Touchpoints inventory", "remove something from an inventory"),
        ("remove the github account afanrasool from all our github organizations", "organizations"),
        ("Create an email and a slack account for our intern", "outside provider (slack)"),
        ("I need to add the shared account to my outlook", "outside provider (outlook)"),
        ("I'd like to make an email account (something like volunteers@gmail.com) for our volunteers",
         "outside provider (gmail.com)"),
    ],
    ids=["how-to-after-context", "question-after-quote", "reply-question", "reply-grant-you", "wish-about-a-thing",
         "reported-conditional", "third-party-wish", "indirect-question",
         "perfect-passive", "symptom", "recurring", "standing-rule", "membership",
         "membership-at-a-provider", "provider-account", "my-provider",
         "public-mailbox"],
)  # fmt: skip
def test_a_text_with_no_ask_for_us_is_not_read_as_an_action(
    request_text: str, declined_with: str, catalog: Catalog
) -> None:
    intent = rules.parse(request_text, catalog)
    assert not intent.recognised
    said = " ".join((intent.declined or "", *intent.notes))
    assert declined_with in said


@pytest.mark.parametrize(
    ("request_text", "key"),
    [
        # the same shapes, asking us
        ("I created the project yesterday. Now please make the namespace team-blue", "provision.create.namespace"),
        ("hi there ian, please grant alice view access on namespace shop", "identity.grant.access"),
        ("It would be great if you could restart the api deployment", "provision.restart.deployment"),
        ("a robot token per namespace would be nice: create service account robot-deployer in namespace ci",
         "identity.create.service_account"),
        ("If possible, we want to restart the checkout deployment", "provision.restart.deployment"),
        ("The cert for api.acme.org expires unless renewed, please renew it", "security.issue.cert"),
        ("remove alice's access from namespace payments", "identity.revoke.access"),
        ("create a mailbox for ann@acme.org", "provision.create.email"),
        ("create user ann with email ann@gmail.com", "identity.create.user"),
        ("Please create user anna, she already has a github account", "identity.create.user"),
        ("Since we no longer use webmaster@acme.org, why don't we decommission that email address?",
         "provision.delete.email"),
        ("Another one to decommission: old.acme.org. There is currently a redirect to new.acme.org.",
         "provision.delete.website"),
    ],
    ids=["imperative-after-story", "greeting-then-ask", "addressed-wish", "wish-then-imperative",
         "if-possible", "unless-in-another-clause", "revoke-from-namespace", "our-mailbox",
         "user-with-outside-contact", "provider-in-another-clause", "why-dont-we",
         "statement-after-ask"],
)  # fmt: skip
def test_an_ask_of_the_same_shape_is_still_read(request_text: str, key: str, catalog: Catalog) -> None:
    assert rules.parse(request_text, catalog).key == key


def test_a_report_of_what_was_done_is_not_a_request(catalog: Catalog) -> None:
    intent = rules.parse("Thanks, I was able to create the namespace myself.", catalog)
    assert "already done" in (intent.declined or "")
    assert not rules.parse("Hi Sam, I have granted you view access, let me know if it works.", catalog).recognised
    # an attempt told before the ask, an obligation, and a courtesy after it still ask
    tried = "I tried to delete namespace foo but got forbidden, please delete namespace foo"
    assert rules.parse(tried, catalog).key == "provision.delete.namespace"
    obliged = "We have to create a namespace for the new team: team-x"
    assert rules.parse(obliged, catalog).entities == {"name": "team-x"}
    assert rules.parse("restart api, and let me know when done", catalog).key == "provision.restart.deployment"


@pytest.mark.parametrize(
    ("request_text", "declined_with"),
    [
        ("Feature request: OpsGate should be able to delete namespaces in bulk.", "feature request"),
        ("Suggestion: allow users to create their own namespaces without approval.", "feature request"),
        ("Proposed process for removing access from the org - please review", "proposal"),
        ("The portal should be able to restart deployments by itself", "wish"),
        ("I think we should delete the staging cluster at some point next quarter.", "plan for later"),
        ("We are planning to create a new website for the conference next year.", "plan for later"),
        ("Our CI fails to create the namespace because the service account lacks permissions.", ""),
        ("User alice cannot log in to the cluster since this morning", ""),
    ],
    ids=["feature-request", "suggestion", "proposal", "ability-wish", "some-point", "planning", "failure", "symptom"],
)
def test_a_feature_request_a_plan_or_a_failure_report_is_not_a_change(
    request_text: str, declined_with: str, catalog: Catalog
) -> None:
    intent = rules.parse(request_text, catalog)
    assert not intent.recognised
    assert declined_with in (intent.declined or "")


def test_requests_titled_as_requests_still_ask(catalog: Catalog) -> None:
    assert rules.parse("Request: dev namespace billing-exp for the billing team", catalog).recognised
    access = "Access request: please give rohant read access to namespace smo"
    assert rules.parse(access, catalog).key == "identity.grant.access"
    assert rules.parse("show logs for api, alice cannot log in", catalog).key == "observability.query.logs"
    assert rules.parse("please create the website news.acme.org now", catalog).key == "provision.create.website"
    # "eventually" in another clause is about the thing, not a plan for the change
    later = "the cert for api.acme.org will eventually expire, please renew it"
    assert rules.parse(later, catalog).key == "security.issue.cert"


def test_a_request_followed_by_a_question_about_it_still_asks(catalog: Catalog) -> None:
    noun_first = "namespace team-x-dev for the x team. is this the right place?"
    assert rules.parse(noun_first, catalog).key == "provision.create.namespace"
    wondering = "Was wondering if you could restart the api deployment. Is that ok?"
    assert rules.parse(wondering, catalog).key == "provision.restart.deployment"
    # a story with no ask, then a how-to, stays a question
    assert not rules.parse("The api deployment restarts all the time. How do I check the logs?", catalog).recognised


def test_a_courtesy_clause_before_the_ask_does_not_make_a_question(catalog: Catalog) -> None:
    courtesy = "When you get a chance, restart the worker deployment."
    assert rules.parse(courtesy, catalog).key == "provision.restart.deployment"
    assert not rules.parse("When you create a namespace, is it empty?", catalog).recognised
    assert not rules.parse("When did we last rotate the key, can you check", catalog).recognised


@pytest.mark.parametrize(
    ("request_text", "declined_with"),
    [
        ("I'll delete the old namespace tomorrow morning.", "what the writer will do"),
        ("We can create the namespace for you once you confirm the name.", "what the writer will do"),
        ("Could you confirm which namespace you want us to delete?", "reply to a requester"),
        ("You can request a namespace through the portal.", "advice to a reader"),
        ("Hey, your namespace has been created, let us know if you need anything else.", ""),
        ("Note that deleting a namespace removes all its resources.", ""),
    ],
    ids=["promise", "offer", "what-you-want-us-to-do", "advice", "done-and-courtesy", "statement-with-s-form"],
)
def test_what_an_operator_writes_to_a_requester_is_not_a_request(
    request_text: str, declined_with: str, catalog: Catalog
) -> None:
    intent = rules.parse(request_text, catalog)
    assert not intent.recognised
    assert declined_with in (intent.declined or "")


def test_the_same_modals_asking_us_still_ask(catalog: Catalog) -> None:
    for request_text, key in (
        ("Please you can scale the worker to 2 replica", "provision.scale.deployment"),
        ("any chance you could restart the ingest deployment?", "provision.restart.deployment"),
        ("can we delete the namespace qa-7?", "provision.delete.namespace"),
        ("please help us to create namespace team-x", "provision.create.namespace"),
    ):
        assert rules.parse(request_text, catalog).key == key, request_text


def test_a_hedge_or_an_exclamation_before_the_ask_keeps_it(catalog: Catalog) -> None:
    assert rules.parse("Can't wait! please create namespace launch-2026", catalog).key == "provision.create.namespace"
    hedge = "not sure if this is the right place, but please delete namespace tmp-9"
    assert rules.parse(hedge, catalog).key == "provision.delete.namespace"
    assert not rules.parse("I'd like to know whether we can delete namespace x", catalog).recognised


def test_a_generic_how_to_stays_a_question(catalog: Catalog) -> None:
    assert not rules.parse("can it be done with helm?", catalog).recognised
    assert not rules.parse("We use two clusters. How to restart a deployment without downtime?", catalog).recognised


def test_a_negated_verb_asks_for_nothing(catalog: Catalog) -> None:
    assert not rules.parse("do not delete namespace prod", catalog).recognised
    assert not rules.parse("Our team typically does not grant namespace access", catalog).recognised
    assert rules.parse("don't wait, delete namespace tmp-1", catalog).key == "provision.delete.namespace"


def test_sentences_end_at_full_stops_and_quoted_sentences() -> None:
    tokens = tokenize('The app says "it went wrong." How do I fix it? Thanks')
    assert [tuple(t.low for t in tokens[s:e]) for s, e in speech.sentences(tokens)] == [
        ("the", "app", "says", "\x00"),
        ("how", "do", "i", "fix", "it"),
        ("thanks",),
    ]


def test_a_wish_that_is_over_creates_nothing(catalog: Catalog) -> None:
    for request_text in (
        "we no longer need uigearup.uiowa.edu to be live. Can I deactivate it for now?",
        "We don't need the namespace legacy-tools anymore.",
    ):
        assert rules.parse(request_text, catalog).action != "create", request_text
    assert rules.parse("we no longer need the site promo.acme.org, please take it down", catalog).action == "delete"


def test_what_others_do_or_what_will_happen_asks_for_nothing(catalog: Catalog) -> None:
    for request_text in (
        "Deleting the hub pod should bring it back up in a minute.",
        "Our cron worker, which is used to automatically restart the demo container, broke. I restarted it.",
        "Not one of them removes former employee accounts. They all either delete the AD account or disable it.",
        "When a new staffer logs in for the first time, their account is automatically created but their email "
        "is not set.",
        "Be able to delete a mail user without needing to ssh, in the panel",
        "The endpoint returns subjects for any namespace without an admin check.",
    ):
        assert not rules.parse(request_text, catalog).recognised, request_text
    # the same verbs asked for are still read
    assert rules.parse("please restart the hub deployment", catalog).key == "provision.restart.deployment"
    assert rules.parse("Ramon would like to have 2 accounts for interns.", catalog).declined
    assert rules.parse("we need a new user account for jdoe", catalog).key == "identity.create.user"
    assert rules.parse("the site promo.acme.org should be taken down", catalog).key == "provision.delete.website"


@pytest.mark.parametrize(
    "request_text",
    [
        # asking for the command is a how-to question
        "Can you please help me with command to create mailbox\n\nThanks in advance",
        # a question announced as one
        "Hi, this is more of a question,\nWhat happens if I delete the user after a month?",
        # a how-to inside a sentence asks for documentation
        "Namespace, how to create, there is no example, do you have any documentation?",
    ],
)
def test_a_question_in_its_many_forms_asks_for_no_change(catalog: Catalog, request_text: str) -> None:
    intent = rules.parse(request_text, catalog)
    assert not intent.recognised
    assert speech.NOTE_QUESTION in intent.notes


def test_a_symptom_with_no_ask_is_a_problem_report(catalog: Catalog) -> None:
    intent = rules.parse("Service logs are missing since the last deployment. The dashboard shows nothing.", catalog)
    assert intent.declined == speech.DECLINED_SYMPTOM
    # a terse ask for the same logs is still read
    assert rules.parse("payments logs, last hour", catalog).key == "observability.query.logs"


def test_after_every_event_is_a_standing_rule(catalog: Catalog) -> None:
    intent = rules.parse("I want a complete report after every incident so I can explain it to my users.", catalog)
    assert intent.declined
    assert "after every incident" in intent.declined


def test_a_headline_telling_a_change_is_a_report(catalog: Catalog) -> None:
    assert rules.parse("New email created for Living Streets program", catalog).declined == speech.DECLINED_DONE
    # an ask put the same way is still read
    intent = rules.parse("Namespace creation requested for laa-data-dev.", catalog)
    assert intent.key == "provision.create.namespace"


def test_terminating_access_and_turning_off_email_are_two_changes(catalog: Catalog) -> None:
    intent = rules.parse(
        "I let go of an employee today and would like to have his access terminated and email turned off.", catalog
    )
    assert intent.declined
    assert "more than one change" in intent.declined


def test_a_verb_in_a_time_clause_or_done_already_is_background(catalog: Catalog) -> None:
    intent = rules.parse(
        "Before we offboard amyknox (UX Lead) - what access does she actually have? need the list", catalog
    )
    assert intent.key == "compliance.audit.access"
    intent = rules.parse(
        "As a program manager I want to view a list of the users who have some access to namespace terra-billing, "
        "so that I know who I've given resource creation permissions to.",
        catalog,
    )
    assert (intent.key, intent.entities) == ("compliance.audit.access", {"namespace": "terra-billing"})
    # the same verb asked for is still read
    assert rules.parse("please offboard amyknox", catalog).key == "identity.delete.user"


def test_a_forms_heading_or_prompt_is_no_question(catalog: Catalog) -> None:
    intent = rules.parse(
        "## What\n\nWe'd like to request the creation of a namespace named `app-comconv-earthlab` for the Maneki team.",
        catalog,
    )
    assert (intent.key, intent.entities) == ("provision.create.namespace", {"name": "app-comconv-earthlab"})
    intent = rules.parse("What is it? We need a sandbox namespace learning-sandbox for new tools.", catalog)
    assert (intent.key, intent.entities.get("name")) == ("provision.create.namespace", "learning-sandbox")
    # a question is still a question
    assert not rules.parse("What is a namespace? How do I create one?", catalog).recognised


def test_a_scan_the_writer_ran_is_a_report(catalog: Catalog) -> None:
    intent = rules.parse(
        "I ran CVE scan on the latest image and found some vulnerabilities. Could you please help us to resolve "
        "this? Please publish a new build to fix vulnerabilities",
        catalog,
    )
    assert not intent.recognised
    assert rules.parse("please run a CVE scan on nginx:1.25", catalog).key == "compliance.scan.vulnerabilities"


def test_a_numbered_procedure_is_several_steps(catalog: Catalog) -> None:
    intent = rules.parse(
        "A scan found an API credential committed. What is needed, in order: 1. Rotate the credential first. "
        "2. Remove the value from the tree. "
        "3. Purge history (git filter-repo). 4. Audit the dashboard for activity on that credential.",
        catalog,
    )
    assert intent.declined == rules.DECLINED_STEPS


def test_a_wildcard_names_several_targets(catalog: Catalog) -> None:
    intent = rules.parse("please clean up the old namespaces, we no longer require the lclb-* set", catalog)
    assert intent.declined
    assert "lclb-*" in intent.declined


def test_a_symptom_told_with_a_catalog_idiom_is_still_a_report(catalog: Catalog) -> None:
    intent = rules.parse("The PeerAuthentication in titanium is in permissive mode, it does not work.", catalog)
    assert intent.declined == speech.DECLINED_SYMPTOM
    intent = rules.parse("the checkout pods are stuck, please restart them", catalog)
    assert (intent.key, intent.entities) == ("provision.restart.deployment", {"name": "checkout"})


def test_a_read_told_of_and_asked_again_on_a_target_is_asked(catalog: Catalog) -> None:
    intent = rules.parse(
        "As part of our gate for accepting container images we have Trivy scan. Can you run it on "
        "k8s.gcr.io/csi-secrets-store/driver:v1.2.3 and tell us the CRITICAL ones?",
        catalog,
    )
    assert (intent.key, intent.entities) == (
        "compliance.scan.vulnerabilities",
        {"image": "k8s.gcr.io/csi-secrets-store/driver:v1.2.3"},
    )
    # a change told of is not asked again by "do that": decline rather than guess the target
    assert not rules.parse("We deleted namespace old-x yesterday. Can you do that for old-y too?", catalog).recognised


@pytest.mark.parametrize(
    ("request_text", "key"),
    [
        ("The website hosted at foo.uiowa.edu can be deleted", "provision.delete.website"),
        ("The site hosted at foo.uiowa.edu should be taken down.", "provision.delete.website"),
        ("Namespace created for team-x yesterday, please delete it", "provision.delete.namespace"),
    ],
    ids=["can-be-deleted", "should-be-taken-down", "please-after"],
)
def test_a_participle_describing_the_noun_of_an_ask_is_no_headline(
    request_text: str, key: str, catalog: Catalog
) -> None:
    assert rules.parse(request_text, catalog).key == key


def test_what_access_i_need_is_a_documentation_question(catalog: Catalog) -> None:
    for request_text in ("what access do I need to create a namespace?", "what permissions do we need to deploy?"):
        intent = rules.parse(request_text, catalog)
        assert not intent.recognised, request_text
        assert speech.NOTE_QUESTION in intent.notes, request_text
    assert rules.parse("which roles does bob have in payments?", catalog).key == "compliance.audit.access"


@pytest.mark.parametrize(
    ("request_text", "declined_with"),
    [
        ("I set up an A record for www.acme.org. Adding the CNAME fails in the GUI. Please guide how to add the "
         "CNAME record.", speech.NOTE_QUESTION),
        ("Some users were created by the provider and their passwords are generated. How can I trigger a rotation "
         "of the passwords?", speech.NOTE_QUESTION),
        ("Workers not being restarted after deploy. Expected behavior: the workers should be restarted.",
         "bug report"),
        ("Make it easier to restart a deployment when it hangs - add a restart button", "feature request"),
    ],
    ids=["guide-how-to", "how-can-i", "bug-template", "make-it-easier"],
)  # fmt: skip
def test_guidance_questions_bug_reports_and_features_are_declined(
    request_text: str, declined_with: str, catalog: Catalog
) -> None:
    intent = rules.parse(request_text, catalog)
    assert not intent.recognised
    assert declined_with in " ".join((intent.declined or "", *intent.notes))


@pytest.mark.parametrize(
    ("request_text", "key"),
    [
        (
            "Passwords are generated by the provider. Can you rotate the db-password secret of billing?",
            "security.rotate.secret",
        ),
        ("the api is hung, please restart the api deployment", "provision.restart.deployment"),
    ],
)
def test_the_same_words_asking_outright_are_read(request_text: str, key: str, catalog: Catalog) -> None:
    assert rules.parse(request_text, catalog).key == key
