"""Is there an ask directed at us? Telling a request from a report, a wish, a question or a reply.

People paste more than requests into a request box: a story of what happened ("I deleted this user
on March 1, and on August 21 I received an email…"), a symptom ("user gets a 'quarantine' message
every time she tries to access the VPN"), a feature wish ("it would be nice if the ci pipeline could
generate a SBOM"), a how-to question after some context ("… How to make a common project for all
users?"), or a support reply written *to* a requester ("Hi there Ian, is this request for access…").
Each uses the words of a catalog action without asking us to do it. This module reads the speech
act of the sentence that holds the verb the rules chose, and says why it is not a request:

- a **question** to be answered: the verb's sentence is one, or another sentence is one and the
  verb's sentence asks nothing (no imperative, no "please", no "can you", no "I need"), or it holds
  an indirect question ("wants to know if we can get …");
- a **wish about a thing**: a conditional whose subject is not the reader ("it would be nice if the
  pipeline could…", "if he could be deleted…"; "if you could restart it" is a polite request), or
  what a thing "should be able to" do;
- an issue's **genre** said at its opening ("Feature request:", "Bug:", "Proposed process …"), or a
  **plan for later** ("planning to", "at some point");
- a **standing rule or a symptom**: the change is tied to recurring events ("every time",
  "whenever", "unless") in its clause, which a one-off action cannot honour;
- a **report** of what the writer did ("I was able to create it myself") in a sentence that asks
  nothing;
- what an **operator writes to a requester**: the verb's receiver is "you" ("… can grant you
  access"), a promise or offer ("I'll delete it tomorrow", "we can create it for you"), advice ("You
  can request a namespace in the portal"), or "which namespace you want us to delete?";
- a **membership change**: removing someone from a list, inventory or organisation, which is not
  deleting the thing (the catalog has no membership action);
- a thing **at an outside provider**: a "slack account", a mailbox at gmail.com.

Negated verbs ("our team does not grant namespace access") and verbs after "fails to" ask for
nothing; the rule parser drops them before it pairs verbs with nouns (:func:`negated`). Pure
functions over tokens.
"""

from __future__ import annotations

import itertools
import re

from opsgate.catalog import Verb
from opsgate.parsing import extract, questions, vocabulary
from opsgate.parsing.tokens import Token

NOTE_QUESTION = "a question, not a request: answered from the documentation"
DECLINED_WISH = (
    "reads as a wish about how something should behave, not a request for one change: "
    "for an OpsGate change, ask for it directly"
)
DECLINED_STANDING = (
    "ties the change to recurring events ({words}): OpsGate makes one change when asked, it does not "
    "keep standing rules; report the problem to the platform team"
)
DECLINED_PROMISE = "reads as what the writer will do, not a request to OpsGate: for a change, ask for it"
DECLINED_ADVICE = "reads as advice to a reader (what you can do), not a request to OpsGate"
DECLINED_GENRE = (
    "reads as a feature request, proposal or bug report for the platform team, not a request for one change"
)
DECLINED_LATER = "reads as a plan for later, not a request to act now: ask when the change should be made"
DECLINED_DONE = (
    "reads as a report of what was already done (or tried), not a request: for an OpsGate change, ask for it directly"
)
DECLINED_SYMPTOM = (
    "reads as a report of a problem (what is wrong), not a request for one change: report it to the platform "
    "team, or ask OpsGate for what to do (e.g. show the logs of a service)"
)
DECLINED_OTHERS = "reads as a description of what others do, not a request to OpsGate: for a change, ask for it"
DECLINED_REPLY = 'reads as a reply to a requester (the change is for "you"), not a request to OpsGate'
DECLINED_MEMBERSHIP = (
    "asks to remove something from {collection}: membership of lists and organisations is not a catalog action"
)
DECLINED_PROVIDER = "asks for {thing} at an outside provider ({provider}), which OpsGate does not manage"

# Openers and fillers before the body of a sentence: "hi there ian, …", "ok so please …".
_GREETINGS = frozenset({"hi", "hello", "hey", "dear", "greetings", "morning", "ok", "okay", "so", "well", "also"})
_FILLERS = frozenset({"please", "pls", "plz", "kindly", "just", "quickly", "now", "then", "and", "also"})
_GROUP_ADDRESSES = frozenset({"there", "all", "team", "folks", "everyone", "guys"})
_PLEASE = frozenset({"please", "pls", "plz", "kindly"})
_ADDRESSEES = frozenset({"you", "u", "someone", "somebody", "anyone", "anybody", "y'all", "yall", "ya"})
_FIRST_PERSON = frozenset({"i", "we", "i'd", "we'd", "id", "i'm", "im", "we're", "us"})
_MODALS = frozenset({"can", "could", "would", "will", "may", "might"})
_DESIRES = frozenset({"need", "want", "like", "wanted", "requesting", "request", "require"})
# "does not grant", "don't delete", "never restart": a verb under negation asks for nothing
_NEGATIONS = frozenset(
    {"not", "don't", "dont", "doesn't", "doesnt", "didn't", "didnt", "won't", "wont", "can't", "cant", "cannot",
     "never", "shouldn't", "shouldnt", "mustn't", "isn't", "aren't", "wasn't", "weren't"}
)  # fmt: skip
# Subjects that make a conditional a wish about a thing or a person other than the reader.
_THIRD_SUBJECTS = frozenset({"he", "she", "they", "it", "the", "this", "that", "our", "their", "his", "her", "its"})
_CONDITIONALS = frozenset({"if", "whether"})
# "we can create", "I will restart": a modal after the subject states; before it ("can we") asks
_PROMISES = frozenset({"will", "can", "could", "shall", "may"})
# "can we …", "how can I …", "if we could …": the modal comes first, so the sentence asks
_ASKING_WORDS = frozenset({"can", "could", "would", "will", "may", "if", "how", "whether", "so", "chance"})
_HELP = frozenset({"help", "helping", "allow", "let", "enable"})
_FAILED = frozenset({"fails", "failed", "failing", "unable", "fail"})
_WH_WORDS = frozenset({"how", "what", "where", "why", "when", "which"})
# An issue template's headings that say it reports a bug: "Desired behavior:", "Steps to reproduce"
_BUG_TEMPLATE = re.compile(
    r"\b(?:desired|expected|actual|current|observed)\s+behaviou?r\s*:|\bsteps\s+to\s+reproduce\b"
)
# An issue's genre, said at its opening: "Feature request: …", "Bug: …", "Proposed process for …"
_GENRES = re.compile(
    r"^(?:feature\s+request|feature|suggestion|proposal|idea|enhancement|bug(?:\s+report)?|rfc|discussion|docs?)\s*:"
    r"|^(?:proposed|proposal\s+(?:for|to))\b"
    # an issue titled with the capability it wants: "Be able to delete a mail user without ssh"
    r"|^(?:be\s+able\s+to|ability\s+to)\b"
)
# A plan for later, not an ask to act now: "we are planning to create …", "at some point"
_LATER = re.compile(
    r"\b(?:planning|plan|plans|intend|intending)\s+to\b|\bat\s+some\s+point\b|\beventually\b|\bsomeday\b"
    r"|\bin\s+the\s+(?:future|long\s+run)\b"
)
# "OpsGate should be able to delete …": what a thing should be able to do is a feature wish
_ABLE = re.compile(r"\b(?:should|could|would|must)\s+(?:also\s+)?be\s+able\s+to\b")
# What before a verb says the speaker did (or tried) it: "I was able to", "we've already", "I managed to"
_DONE_MARKERS = frozenset(
    {"was", "were", "had", "have", "i've", "we've", "already", "managed", "tried", "did", "just", "able", "been"}
)
_WISH = re.compile(
    r"\b(?:would|'d|will)\s+be\s+(?:really\s+|very\s+|so\s+)?(?:nice|great|good|cool|helpful|awesome|useful|ideal|"
    r"handy|neat|lovely|better)\b|\bi\s+wish\b"
)
# A feature asked of the tool: "make it easier to bounce a service", "make it possible to delete users"
_FEATURE = re.compile(r"\bmake\s+it\s+(?:easier|simpler|possible|quicker|faster)\s+(?:for\s+\w+\s+)?to\b")
_HOPING = re.compile(
    r"\b(?:hoping|hope|looking|wanting|wishing)\s+(?:to|for)\b|\bwould\s+love\b|\bwondering\s+if\s+(?:you|someone)\b"
)
# An indirect question: "wants to know if we can …", "I'd like to ask whether …" ("wondering if you
# could …" asks the reader to do it)
_INDIRECT = re.compile(
    r"\b(?:know|ask|asking|wonder|wondering|curious)\s+(?:if|whether|how|why|what|when)\s+(?!you\b|u\b|someone\b)"
)
# Asking for the command rather than the change: "can you help me with the command to create a mailbox"
_HOW_TO = re.compile(
    r"\bhelp\s+(?:me|us)\s+(?:with|find|out\s+with)\s+(?:the\s+|a\s+)?(?:commands?|syntax|script|steps)\b"
    # asking to be shown the way: "please guide how to add the CNAME record", "advise us how to rotate it"
    r"|\b(?:guide|advise|teach|show|tell|explain\s+to)\s+(?:me\s+|us\s+)?(?:on\s+)?how\s+(?:to|i|we|can|do)\b"
)
# What a thing is for or what someone used to do: "a worker which is used to restart the demo container"
_USED_TO = re.compile(r"\bused\s+to\s+(?:\w+ly\s+)?\S+$")
# What an act will bring about, said of it rather than asked: "Deleting the hub pod should bring it back up"
_PREDICTING = frozenset({"should", "will", "would", "might", "may"})
_RECURRING = re.compile(
    r"\b(?:every|each)\s+time\b|\bwhenever\b|\bunless\b"
    r"|\b(?:after|before|following)\s+(?:every|each)\s+(?!one\b)\w+"  # "a report after every incident"
)
# A documentation question inside a sentence: "Namespace, how to create, there is no example"
_HOW_TO_CLAUSE = re.compile(r"(?:^|, )how\s+(?:to|do\s+i|do\s+we|can\s+i|can\s+we)\s+\w+")
# A symptom stated of a thing: "service logs are missing", "the metrics are empty since …"
_SYMPTOM = re.compile(
    r"\b(?:is|are|was|were|seem|seems|look|looks|appear|appears)\s+(?:still\s+|now\s+|all\s+)?"
    r"(?:missing|empty|gone|blank|broken|wrong|stuck|not\s+\w+ing|not\s+there|unavailable|failing|down)\b"
    r"|\b(?:does\s+not|doesn't|do\s+not|don't|is\s+not|isn't)\s+work(?:ing)?\b"
)
# What says a change was asked for, not made: "namespace creation requested for x"
_HEADLINE_ASKS = _PLEASE | _MODALS | {"should", "must", "need", "needs", "needed", "want", "wants"}
_HEADLINE_OPENERS = frozenset({"new", "the", "a", "an", "our", "your", "my"})
_ASKED_PARTICIPLES = frozenset({"requested", "needed", "required", "wanted", "desired", "proposed"})
# What a removal takes something out of without deleting it.
_COLLECTIONS = frozenset(
    {"list", "lists", "inventory", "organization", "organizations", "organisation", "organisations", "org",
     "orgs", "roster", "directory", "registry", "mailing", "distribution"}
)  # fmt: skip
# Services whose accounts and mailboxes belong to someone else.
_PROVIDERS = frozenset(
    {"slack", "github", "gitlab", "bitbucket", "google", "gmail", "microsoft", "outlook", "office365", "yahoo",
     "hotmail", "zoom", "jira", "confluence", "discord", "dropbox", "facebook", "twitter", "linkedin", "icloud",
     "apple", "teams", "atlassian", "salesforce", "notion", "figma", "trello", "aws", "azure", "gcp"}
)  # fmt: skip
_HOSTED = frozenset({"pages", "page", "site", "sites", "portfolio", "blog"})
_ACCOUNT_WORDS = frozenset({"account", "accounts", "workspace", "mailbox", "org", "organization", "organisation"})
_PUBLIC_MAIL = frozenset(
    {"gmail.com", "googlemail.com", "yahoo.com", "outlook.com", "hotmail.com", "live.com", "icloud.com", "me.com",
     "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.net", "mail.com", "yandex.com", "zoho.com"}
)  # fmt: skip


def sentences(tokens: tuple[Token, ...]) -> list[tuple[int, int]]:
    """The sentences of a request as token ranges ``start..end`` (exclusive), in order."""
    found: list[tuple[int, int]] = []
    start = 0
    for i, token in enumerate(tokens):
        if token.end:
            found.append((start, i + 1))
            start = i + 1
    if start < len(tokens):
        found.append((start, len(tokens)))
    return found


def _sentence_of(tokens: tuple[Token, ...], at: int) -> tuple[int, int]:
    return next(((s, e) for s, e in sentences(tokens) if s <= at < e), (0, len(tokens)))


def _body(tokens: tuple[Token, ...], start: int, end: int) -> int:
    """Where a sentence's body starts, past a greeting and the name it addresses ("hi there ian, …")."""
    i = start
    if i < end and tokens[i].low in _GREETINGS:
        i += 1
        while i < end and not tokens[i - 1].stop and tokens[i].low in _GREETINGS | _GROUP_ADDRESSES:
            i += 1
        # "hi ian, …", "hello dts, …": a name closed by a comma is the one addressed
        if i + 1 < end and not tokens[i - 1].stop and tokens[i].stop and not tokens[i].end:
            i += 1
    while i < end and tokens[i].low in _FILLERS:
        i += 1
    return i


def _asks(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], start: int, end: int) -> bool:
    """Does the sentence ``start..end`` ask for something (imperative, "please", "can you", "we need")?"""
    lows = [t.low for t in tokens[start:end]]
    body = _body(tokens, start, end)
    if any(
        s.verbs
        and (s.start == body or (start < s.start < end and (tokens[s.start - 1].colon or tokens[s.start - 1].stop)))
        for s in spans
    ):
        return True  # "restart nginx", "hi team, please rotate …", "would be nice: create …", "when you can, restart x"
    if any(low in _PLEASE or low in ("let's", "lets") for low in lows):
        return True
    if _HOPING.search(" ".join(lows)):
        return True  # "hoping to get a namespace", "we would love a site for …"
    for i, low in enumerate(lows):
        nxt = lows[i + 1] if i + 1 < len(lows) else ""
        if low in _MODALS and nxt in _ADDRESSEES | {"we", "i"} and not (i and lows[i - 1] in _WH_WORDS):
            return True  # "can you …", "could we get …", "can i get …"; not "how can i trigger …"
        if low in _DESIRES and any(w in _FIRST_PERSON for w in lows[max(0, i - 3) : i]):
            return True  # "we need a namespace", "i'd like", "we are requesting"
        after = [w for w in lows[i + 1 : i + 4] if w not in ("also", "then", "now", "please", "really")]
        if low == "needs" or (low in ("should", "must", "can", "could") and after[:1] == ["be"]):
            return True  # "the key needs rotating", "the site should be taken down"
        if low == "why" and nxt in ("don't", "dont", "not"):
            return True  # "why don't we decommission that address?": a suggestion to do it
        if low in ("requesting", "request") and i == body - start:
            return True
    return False


def asks_at(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], at: int) -> bool:
    """Does the sentence holding token ``at`` ask for something?"""
    start, end = _sentence_of(tokens, at)
    return _asks(tokens, spans, start, end)


def negated(tokens: tuple[Token, ...], at: int) -> bool:
    """Is the verb at ``at`` negated ("does not grant", "never delete", "don't restart")?"""
    if at >= 1 and tokens[at - 1].stop:
        return False
    lows = [t.low for t in tokens[max(0, at - 3) : at]]
    if len(lows) >= 2 and lows[-1] == "to" and lows[-2] in _FAILED:
        return True  # "our CI fails to create the namespace": a failure reported, not a change asked
    if lows[-2:] == ["no", "longer"] or lows[-2:] == ["no", "more"]:
        return True  # "we no longer need x.edu to be live": the wish is over
    if "without" in lows:
        return True  # "without an admin check", "without needing to ssh": what is left out is not asked for
    if any(low in _NEGATIONS for low in lows[-2:]):
        # "why don't we decommission it?", "why not restart it": a suggestion, not a negation
        return not (lows and lows[0] == "why") and "why" not in lows[-2:-1]
    return False


_TIME_CONJUNCTIONS = frozenset({"before", "after", "once", "until", "till"})
_SUBJECTS = frozenset({"we", "i", "you", "they", "he", "she"})
_PAST_DOING = frozenset({"ran", "did", "performed", "completed", "tried", "attempted", "executed"})
_PERFECT_SUBJECTS = frozenset({"i've", "we've", "they've", "you've", "ive", "weve"})


def backgrounded(tokens: tuple[Token, ...], at: int) -> bool:
    """Is the verb at ``at`` told as background, not asked: in a time clause ("before we offboard
    amyknox, what access does she have?") or done already ("who I've given permissions to")?"""
    lows = [t.low for t in tokens[max(0, at - 2) : at]]
    if at >= 1 and tokens[at - 1].stop:
        return False
    if len(lows) == 2 and lows[0] in _TIME_CONJUNCTIONS and lows[1] in _SUBJECTS and not tokens[at - 2].stop:
        return True
    if bool(lows) and lows[-1] in _PERFECT_SUBJECTS:
        return True
    # "I ran CVE scan on the latest image", "we did a restart": the act named after a past doing verb
    near = [t.low for t in tokens[max(0, at - 3) : at]]
    return any(a in _SUBJECTS and b in _PAST_DOING for a, b in itertools.pairwise(near))


def declines(
    tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None, anchor: int
) -> tuple[str | None, str | None]:
    """Why the request at ``anchor`` (the chosen verb, or the noun when no verb) is not a request for us.

    Returns ``(reason, note)``: a decline reason for the requester, or a note for an unrecognised
    reading (a question), or ``(None, None)`` when the sentence asks us for the change.
    """
    start, end = _sentence_of(tokens, anchor)
    all_sentences = sentences(tokens)
    asks = _asks(tokens, spans, start, end)
    words = " ".join(t.low for t in tokens[start:end])
    if not asks and _is_question(tokens, start, end, marked=False):
        return None, NOTE_QUESTION
    clause_start = anchor
    while clause_start > start and not tokens[clause_start - 1].stop:
        clause_start -= 1
    before_verb = " ".join(t.low for t in tokens[clause_start:anchor]) if verb_at is not None else ""
    whole = " ".join(t.low for t in tokens)
    if _HOW_TO.search(whole):
        return None, NOTE_QUESTION  # "Can you please help me with command to create mailbox"; "… please guide how to"
    if _FEATURE.search(whole):
        return DECLINED_GENRE, None  # "Make it easier to bounce a service if it's hung: add an app:restart command"
    with_commas = " ".join(t.low + ("," if t.stop and not t.end else "") for t in tokens[start:end])
    if not asks and _HOW_TO_CLAUSE.search(with_commas):
        return None, NOTE_QUESTION  # "Namespace, how to create, there is no example, any documentation?"
    if _SYMPTOM.search(words) and not any(_asks(tokens, spans, s, e) for s, e in all_sentences):
        return DECLINED_SYMPTOM, None  # "Service logs are missing since the last deployment."
    if _headline_done(tokens, spans, start, end):
        return DECLINED_DONE, None  # "New email created for Living Streets program"
    if _INDIRECT.search(words) and (not asks or _INDIRECT.search(before_verb)):
        return None, NOTE_QUESTION  # "our lead wants to know if we can get a namespace for every developer"
    # a noun that opens a request asks for the thing ("namespace for team x. Is this the right place?")
    others = (se for se in all_sentences if se != (start, end))
    if verb_at is not None and not asks and any(_is_question(tokens, s, e, marked=True) for s, e in others):
        return None, NOTE_QUESTION  # "… the project is not visible to other users. How to make one for all?"
    if _GENRES.match(" ".join(t.low + (":" if t.colon else "") for t in tokens[:4])):
        return DECLINED_GENRE, None
    if _BUG_TEMPLATE.search(" ".join(t.low + (":" if t.colon else "") for t in tokens)):
        return DECLINED_GENRE, None  # "… not being restarted. Desired behavior: the service should be restarted"
    if not asks and _WISH.search(words) and not _addressed_conditional(tokens, start, end):
        return DECLINED_WISH, None
    if verb_at is not None and _ABLE.search(" ".join(t.low for t in tokens[max(start, verb_at - 6) : verb_at + 1])):
        return DECLINED_WISH, None  # "OpsGate should be able to delete namespaces in bulk"
    if _LATER.search(_clause_words(tokens, anchor, start, end)):
        return DECLINED_LATER, None
    if verb_at is not None and _third_party_conditional(tokens, start, verb_at):
        return DECLINED_WISH, None
    if verb_at is not None and not asks and _done_by_the_speaker(tokens, start, verb_at):
        # "we have Trivy scan. Can you run it on x?": a read told of, asked again on a new target
        verbs = next((sp.verbs for sp in spans if sp.start == verb_at), frozenset())
        if not (verbs and verbs <= _READ_VERBS and _run_again(tokens, spans, all_sentences, end)):
            return DECLINED_DONE, None
    if verb_at is not None and _USED_TO.search(" ".join(t.low for t in tokens[max(start, verb_at - 4) : verb_at + 1])):
        return DECLINED_DONE, None  # "our cron worker, which is used to automatically restart the demo container"
    if verb_at is not None and (reason := _said_by_us(tokens, start, verb_at, asks=asks)) is not None:
        return reason, None
    if recurring := _RECURRING.search(_clause_words(tokens, anchor, start, end)):
        return DECLINED_STANDING.format(words=recurring.group(0)), None
    if verb_at is not None and not asks and _predicted(tokens, start, verb_at):
        return DECLINED_DONE, None
    if verb_at is not None and not asks and _done_by_others(tokens, start, verb_at):
        return DECLINED_OTHERS, None
    if verb_at is not None:
        verb_end = next((s.end for s in spans if s.start == verb_at), verb_at + 1)
        if verb_end < end and tokens[verb_end].low in ("you", "u"):
            return DECLINED_REPLY, None
        if collection := _removed_from(tokens, spans, verb_at, verb_end, end):
            return DECLINED_MEMBERSHIP.format(collection=collection), None
    clause_start, clause_end = anchor, anchor
    while clause_start > start and not tokens[clause_start - 1].stop:
        clause_start -= 1
    while clause_end < end - 1 and not tokens[clause_end].stop:
        clause_end += 1
    provider = _provider_account(
        tokens, clause_start, clause_end + 1
    )  # the verb's clause: not "she has a github account"
    if provider is not None:
        article = "an" if provider[0] in "aeiou" else "a"
        return DECLINED_PROVIDER.format(thing=f"{article} {provider} account", provider=provider), None
    return None, None


def _headline_done(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], start: int, end: int) -> bool:
    """A resource noun followed by its verb's past participle, as a headline tells news: "New email
    created for x", "namespace deleted"; not "namespace creation requested for x"."""
    body = _body(tokens, start, end)
    if any(t.low in _HEADLINE_ASKS for t in tokens[start:end]):
        return False  # "the site hosted at x can be deleted", "… created yesterday, please delete it"
    for span in spans:
        if not span.nouns or not start <= span.start < end or span.end >= end:
            continue
        if any(sp.verbs and sp.start > span.end for sp in spans if sp.start < end):
            continue  # another verb after the participle carries the sentence
        if any(t.low not in _HEADLINE_OPENERS for t in tokens[body : span.start]):
            continue  # the noun phrase opens the sentence: not "to have his access terminated"
        low = tokens[span.end].low
        if low in _ASKED_PARTICIPLES or not low.endswith("ed") or tokens[span.end].quoted:
            continue
        if low[:-1] in vocabulary.VERBS or low[:-2] in vocabulary.VERBS:
            return True
    return False


_RUN_IT = re.compile(r"\b(?:run|do|perform|execute)\s+(?:it|that|this|one)\s+(?:on|against|over|for)\b")
_READ_VERBS = frozenset({Verb.SCAN, Verb.QUERY, Verb.SUMMARIZE, Verb.GENERATE, Verb.AUDIT})


def _run_again(
    tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], all_sentences: list[tuple[int, int]], end: int
) -> bool:
    """Does the next sentence ask to run again what this one told of ("we have Trivy scan. Can you run it
    on x?")?"""
    following = next(((s, e) for s, e in all_sentences if s == end), None)
    if following is None or not _asks(tokens, spans, *following):
        return False
    return _RUN_IT.search(" ".join(t.low for t in tokens[following[0] : following[1]])) is not None


def _is_question(tokens: tuple[Token, ...], start: int, end: int, *, marked: bool) -> bool:
    """Is the sentence a question for the docs (with ``marked``, one that ends in "?" or opens with how/why)?"""
    body = " ".join(
        t.raw + ("," if t.stop and not t.end else ":" if t.colon else "")
        for t in tokens[_body(tokens, start, end) : end]
    )
    if not questions.is_question(body):
        return False
    return not marked or tokens[end - 1].asked or body.lower().startswith(("how ", "why "))


def public_mailbox(value: object) -> str | None:
    """The public mail provider an address or domain is at ("ann@gmail.com" -> "gmail.com"), if any."""
    if not isinstance(value, str):
        return None
    domain = value.rsplit("@", 1)[-1].lower()
    return domain if domain in _PUBLIC_MAIL else None


def outside_mailbox_reason(value: object) -> str | None:
    provider = public_mailbox(value)
    return None if provider is None else DECLINED_PROVIDER.format(thing=f"a mailbox {value}", provider=provider)


def _clause_words(tokens: tuple[Token, ...], at: int, start: int, end: int) -> str:
    """The words of the clause (between commas or stops) holding ``at``, within its sentence."""
    first = at
    while first > start and not tokens[first - 1].stop:
        first -= 1
    last = at
    while last < end - 1 and not tokens[last].stop:
        last += 1
    return " ".join(t.low for t in tokens[first : last + 1])


def _said_by_us(tokens: tuple[Token, ...], start: int, verb_at: int, *, asks: bool) -> str | None:
    """A sentence an operator writes to a requester: what we will do ("I'll delete it tomorrow", "we
    can create it for you"), what the reader can do ("you can request a namespace in the portal"),
    or what the reader wants us to do ("which namespace you want us to delete?")."""
    before = ["", "", "", *(t.low for t in tokens[max(start, verb_at - 3) : verb_at])]
    promised = before[-2] in ("i", "we") and before[-1] in _PROMISES and before[-3] not in _ASKING_WORDS
    if not asks and (before[-1] in ("i'll", "we'll", "ill") or promised):
        return DECLINED_PROMISE
    opens = verb_at - 2 == _body(tokens, start, verb_at + 1)
    if not asks and opens and before[-2] in ("you", "u") and before[-1] in {"can", "should", "must", "might", "may"}:
        return DECLINED_ADVICE  # "You can request a namespace through the portal"
    if before[-2:] in (["us", "to"], ["me", "to"]) and before[-3] not in _HELP:
        return DECLINED_REPLY
    return None


def _done_by_the_speaker(tokens: tuple[Token, ...], start: int, verb_at: int) -> bool:
    """ "I was able to create the namespace myself", "we have already rotated…", "I tried to delete it":
    the speaker reports doing the change (a perfect, past or ability form before the verb)."""
    clause = [t.low for t in tokens[max(start, verb_at - 5) : verb_at]]
    if not any(low in _FIRST_PERSON for low in clause):
        return False
    if clause[-2:] in (["have", "to"], ["had", "to"]):
        return False  # "we have to create …": an obligation, which may ask
    return any(low in _DONE_MARKERS for low in clause)


_OTHERS = frozenset({"they", "he", "she", "people", "everyone", "everybody", "others", "most", "companies"})
_ADVERBS = frozenset(
    {"all", "either", "also", "usually", "always", "often", "just", "simply", "then", "typically", "normally",
     "both", "generally", "sometimes", "never"}
)  # fmt: skip


def _done_by_others(tokens: tuple[Token, ...], start: int, verb_at: int) -> bool:
    """ "They all either delete the AD account or disable it": a third person does it, as a habit or a story."""
    subject = [t.low for t in tokens[_body(tokens, start, verb_at + 1) : verb_at]]
    return bool(subject) and subject[0] in _OTHERS and all(low in _ADVERBS for low in subject[1:])


def _predicted(tokens: tuple[Token, ...], start: int, verb_at: int) -> bool:
    """ "Deleting the hub pod should bring it back up": a modal and an active verb, whose subject is
    neither the reader nor the writer, say what will happen; "the site should be taken down" asks."""
    if verb_at - 1 <= start or tokens[verb_at - 1].low not in _PREDICTING or tokens[verb_at].low in _DESIRES:
        return False  # "Ramon would like 2 accounts" wishes
    subject = [t.low for t in tokens[start : verb_at - 1]]
    return bool(subject) and not any(low in _ADDRESSEES | _FIRST_PERSON for low in subject)


def _addressed_conditional(tokens: tuple[Token, ...], start: int, end: int) -> bool:
    """ "it would be great if you could …", "… if we could get …": a wish that asks the reader."""
    for i in range(start, end - 1):
        if tokens[i].low in _CONDITIONALS:
            return tokens[i + 1].low in _ADDRESSEES | _FIRST_PERSON
    return False


def _third_party_conditional(tokens: tuple[Token, ...], start: int, verb_at: int) -> bool:
    """Is the verb inside an "if"/"whether" clause about someone or something else ("if he could be deleted")?"""
    i = verb_at - 1
    while i >= start and not tokens[i].stop:
        if tokens[i].low in _CONDITIONALS and i + 1 < verb_at:
            return tokens[i + 1].low in _THIRD_SUBJECTS
        i -= 1
    return False


def _removed_from(
    tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int, verb_end: int, end: int
) -> str | None:
    """The collection a removal takes something out of ("remove the site from the inventory"), if any."""
    verbs = next((s.verbs for s in spans if s.start == verb_at), frozenset())
    if not verbs & {Verb.DELETE, Verb.REVOKE}:
        return None
    for i in range(verb_end, end):
        if tokens[i].low != "from":
            continue
        j = i + 1
        while j < end and j - i <= 4:
            low = tokens[j].low
            if low in _COLLECTIONS:
                named = "mailing list" if low == "mailing" else low
                return f"an {named}" if named[0] in "aeiou" else f"a {named}"
            if tokens[j].stop:
                break
            j += 1
        return None
    return None


def _provider_account(tokens: tuple[Token, ...], start: int, end: int) -> str | None:
    """ "a slack account", "the github account afanrasool": an account that lives at a provider."""
    for i in range(start, end):
        if tokens[i].low not in _PROVIDERS:
            continue
        if i + 1 < end and tokens[i + 1].low in _HOSTED:
            continue  # "point x to my GitHub Pages portfolio": a site hosted there is where a record points
        if (i + 1 < end and tokens[i + 1].low in _ACCOUNT_WORDS) or (i > start and tokens[i - 1].low in ("my", "our")):
            return tokens[i].low  # "a slack account", "add the shared account to my outlook"
    return None
