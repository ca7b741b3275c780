"""The chat page in a real browser: Debian's headless Chromium driven by Playwright.

Against ``opsgate ui`` on localhost (impersonation only, tests/e2e/ui_server.py), the local
control plane and the operator. The browser contexts play the auth proxy: each sends the
``X-Forwarded-User`` / ``X-Forwarded-Groups`` headers of its user, as oauth2-proxy would.
Screenshots of each state land in tests/artifacts/ui/ (git-ignored), kept for CI to upload.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from tests import required
from tests.e2e.cluster import REQUESTER_GROUPS, ROOT, Kubectl, Team
from tests.e2e.test_lifecycle import EXECUTION_TIMEOUT
from tests.e2e.ui_server import UiServer

ARTIFACTS = ROOT / "tests" / "artifacts" / "ui"
CHROMIUM = shutil.which("chromium-headless-shell") or "/usr/bin/chromium-headless-shell"
PHONE = {"width": 390, "height": 844}  # the page must read well on a phone
DECIDED_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        required.unavailable("Debian's chromium-headless-shell", hint="run hack/setup.sh (apt-get installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def signed_in(browser: Browser, user: str | None, *groups: str, **options: Any) -> BrowserContext:
    """A browser behind the auth proxy as ``user``; ``None``: a browser that reached the UI without it."""
    headers = {"X-Forwarded-User": user, "X-Forwarded-Groups": ",".join(groups)} if user else {}
    return browser.new_context(extra_http_headers=headers, **options)


def open_page(context: BrowserContext, ui: UiServer) -> Page:
    page = context.new_page()
    page.goto(ui.url + "/")
    return page


def record_phases(page: Page) -> None:
    """Keep every phase the page shows, in order (the page updates them from the event stream)."""
    page.evaluate(
        """() => {
          window.phasesSeen = [];
          new MutationObserver(() => {
            const phase = document.querySelector('#requests .card .phase');
            if (phase && window.phasesSeen.at(-1) !== phase.textContent) window.phasesSeen.push(phase.textContent);
          }).observe(document.getElementById('requests'), {subtree: true, childList: true, characterData: true});
        }"""
    )


def ask(page: Page, namespace: str, text: str) -> None:
    """Type the request and press Enter, as a keyboard user would."""
    page.fill("#namespace", namespace)
    page.fill("#request-text", text)
    page.press("#request-text", "Enter")


def test_ask_watch_it_live_approve_as_another_user_and_see_the_result(
    browser: Browser, kubectl: Kubectl, ui: UiServer, team: Team
) -> None:
    alice = open_page(signed_in(browser, team.user, *REQUESTER_GROUPS, viewport=PHONE), ui)
    expect(alice.locator("#who")).to_have_text(f"Signed in as {team.user}")
    record_phases(alice)
    ask(alice, team.namespace, "create an email for browser@acme.org")
    card = alice.locator("#requests .card").first
    expect(card.locator(".phase")).to_have_text("AwaitingApproval", timeout=DECIDED_TIMEOUT_MS)
    expect(card.locator(".facts")).to_contain_text("browser@acme.org")
    expect(alice.locator("#approvals-note")).to_have_text("Nothing is waiting for you.")  # not her own
    alice.screenshot(path=ARTIFACTS / "1-requester-awaiting-approval.png", full_page=True)
    name = card.locator(".name").text_content() or ""
    approval = kubectl.get_json("opsrequest", name.split("/")[1], "-n", team.namespace)["status"]["approval"]["name"]

    bob = open_page(signed_in(browser, "bob", "opsgate-approvers"), ui)
    waiting = bob.locator(f'#approvals .card[data-approval="{approval}"]')
    expect(waiting).to_contain_text("browser@acme.org")  # the validated parameters
    expect(waiting.locator(".policies li").first).to_be_visible()  # the policies that asked
    bob.screenshot(path=ARTIFACTS / "2-approver-sees-the-approval.png", full_page=True)
    waiting.locator("input[name=message]").fill("mailbox quota checked")
    waiting.locator("button.approve").press("Enter")  # from the keyboard
    expect(waiting.locator(".decide-result")).to_have_text("Approve recorded.")

    expect(card.locator(".phase")).to_have_text("Succeeded", timeout=EXECUTION_TIMEOUT * 1000)
    expect(card.locator(".facts")).to_contain_text("approval")
    expect(card.locator(".feedback")).to_be_visible()
    alice.screenshot(path=ARTIFACTS / "3-requester-sees-the-result.png", full_page=True)
    seen = alice.evaluate("window.phasesSeen")
    # live, without a reload: it waited for approval, then ran, then succeeded
    assert seen.index("AwaitingApproval") < seen.index("Succeeded"), seen
    assert kubectl.get_json("approval", approval, "-n", team.namespace)["spec"]["decisions"][0]["approver"] == "bob"
    alice.reload()  # the page lists her requests in the namespace she last used
    again = alice.locator("#requests .card").first
    expect(again.locator(".name")).to_have_text(name)
    expect(again.locator(".phase")).to_have_text("Succeeded")


def test_a_script_in_a_request_is_shown_as_text_and_never_runs(browser: Browser, ui: UiServer, team: Team) -> None:
    page = open_page(signed_in(browser, team.user, *REQUESTER_GROUPS), ui)
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> restart checkout'
    ask(page, team.namespace, hostile)
    card = page.locator("#requests .card").first
    expect(card.locator(".text")).to_have_text(hostile)
    expect(card.locator(".phase")).not_to_have_text("Pending", timeout=DECIDED_TIMEOUT_MS)
    assert page.evaluate("window.pwned") is None
    assert page.locator("#requests img, #requests script").count() == 0
    page.screenshot(path=ARTIFACTS / "4-script-shown-as-text.png", full_page=True)


def test_a_question_is_answered_with_its_sources_and_feedback_is_recorded(
    browser: Browser, kubectl: Kubectl, ui: UiServer, team: Team
) -> None:
    page = open_page(signed_in(browser, team.user, *REQUESTER_GROUPS), ui)
    ask(page, team.namespace, "how do I rotate vault secrets?")
    card = page.locator("#requests .card").first
    expect(card.locator(".phase")).to_have_text("Answered", timeout=DECIDED_TIMEOUT_MS)
    expect(card.locator(".answer-text")).to_contain_text("docs/runbooks/rotate-vault-secrets.md")
    expect(card.locator(".sources")).to_contain_text("docs/runbooks/rotate-vault-secrets.md")
    feedback = card.locator("form.feedback")
    feedback.locator("select[name=score]").select_option("5")
    feedback.locator("select[name=intentCorrect]").select_option("true")
    feedback.locator("button[type=submit]").click()
    expect(feedback.locator(".feedback-result")).to_have_text("Thank you: feedback recorded.")
    page.screenshot(path=ARTIFACTS / "5-answer-with-sources.png", full_page=True)
    name = (card.locator(".name").text_content() or "").split("/")[1]
    annotations = kubectl.get_json("opsrequest", name, "-n", team.namespace)["metadata"]["annotations"]
    assert annotations["opsgate.dev/feedback-score"] == "5"
    assert annotations["opsgate.dev/intent-correct"] == "true"


def test_past_three_live_requests_the_oldest_stops_streaming_and_offers_a_refresh(
    browser: Browser, ui: UiServer, team: Team
) -> None:
    """A browser keeps about six connections per server: four live streams would starve the page."""
    page = open_page(signed_in(browser, team.user, *REQUESTER_GROUPS), ui)
    cards = page.locator("#requests .card")  # newest first
    for n in range(4):
        ask(page, team.namespace, f"create an email for many{n}@acme.org")
        expect(cards).to_have_count(n + 1)
    oldest = cards.nth(3)
    expect(oldest.locator(".message")).to_have_text("No longer followed live (too many at once): press Refresh.")
    oldest.locator(".refresh").click()
    expect(oldest.locator(".refresh")).to_be_hidden()  # followed again; now the next oldest lets go
    expect(cards.nth(2).locator(".refresh")).to_be_visible()
    # live again: it reaches its decision (approvals expire after 40 s in these tests)
    expect(oldest.locator(".phase")).to_have_text(re.compile("AwaitingApproval|Expired"), timeout=DECIDED_TIMEOUT_MS)
    page.screenshot(path=ARTIFACTS / "6-many-requests.png", full_page=True)


def test_without_the_proxy_headers_the_page_says_so_and_nothing_can_be_written(
    browser: Browser, kubectl: Kubectl, ui: UiServer, team: Team
) -> None:
    page = open_page(signed_in(browser, None), ui)
    expect(page.locator("#signed-out")).to_be_visible()
    expect(page.locator("#signed-out-reason")).to_have_text(
        "not signed in: the auth proxy sent no X-Forwarded-User header"
    )
    expect(page.locator("#send")).to_be_disabled()
    page.screenshot(path=ARTIFACTS / "7-signed-out.png", full_page=True)
    status = page.evaluate(
        """async (namespace) => (await fetch('/api/requests', {method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({request: 'restart checkout', namespace})})).status""",
        team.namespace,
    )
    assert status == 401
    assert kubectl.get_json("opsrequests", "-n", team.namespace)["items"] == []
