"""Personal data masked before a prompt leaves for an external LLM, and restored in its reply.

An external provider (OpenAI, a hosted vLLM…) is a third party: the request text, the retrieved
context and the corrected examples shown as few-shot examples may name people, their e-mail
addresses, IP addresses, phone numbers - and, despite :mod:`opsgate.redact`, a token. A
:class:`Mask` replaces each of these with a placeholder (``<EMAIL_1>``, ``<PERSON_1>``,
``<IP_1>``, ``<PHONE_1>``) that is the same for the same value across every message of one
exchange, so the model can still copy "the e-mail of the request" into the schema's ``email``
field; :meth:`Mask.restore` puts the originals back into the reply's values before the reply is
validated against the catalog, as any other reply is. Secrets get no placeholder: they are
replaced by ``[REDACTED]`` and never restored, since no catalog parameter may carry one.

Names of people are found by shape, not by a model: two or three capitalised words in a row, or
one after a word that introduces a person ("for", "named", "colleague"…), unless the word is
one the prompt itself uses (catalog words, environments) or a common capitalised non-name.
It errs on the side of masking: a masked word costs the model a little context, a leaked name
is a disclosure. Pure; no I/O.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from opsgate import redact


class Kind(enum.StrEnum):
    """What a placeholder stands for (its name in the placeholder: ``<EMAIL_1>``)."""

    EMAIL = "EMAIL"
    PERSON = "PERSON"
    IP = "IP"
    PHONE = "PHONE"


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:/\d{1,2})?\b")
# IPv6 candidates, kept only if the address parses ("10:30:00" is a time, not an address)
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:/\d{1,3})?(?![\w:])")
_PHONE = re.compile(r"(?<![\w+])\+?\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}[ .-]\d{2,4}[ .-]\d{2,5}\b")
_NAME_WORD = r"(?:[A-Z]['\u2019][A-Z][a-z]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)?)"  # Ann, O'Brien, Jean-Luc
# two or three capitalised words in a row: "Mary Jones", "Jean-Luc Picard"
_FULL_NAME = re.compile(rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}}\b")
# one capitalised word after a word that introduces a person: "for Bob", "colleague Priya"
_CUE = (
    r"(?:for|named|called|user|employee|colleague|contractor|intern|manager|owner|to|from|by|cc|ask|"
    r"onboard|offboard|hire|welcome|grant|give|add|invite|notify|assign|mr|mrs|ms|dr)"
)
_CUED_NAME = re.compile(rf"\b(?i:{_CUE})\.?\s+(?P<name>{_NAME_WORD})\b")  # the cue in any case, the name capitalised
MIN_NAME_LENGTH = 3  # "jo" in jo.li@… is too short to tell from other words
_PLACEHOLDER = re.compile(r"<\s*(EMAIL|PERSON|IP|PHONE)_(\d+)\s*>", re.IGNORECASE)
# what a requester could type to forge a placeholder (and have it "restored" to another value)
_PLACEHOLDER_LOOKALIKE = re.compile(r"<\s*(?:EMAIL|PERSON|IP|PHONE)_\d+\s*>", re.IGNORECASE)

# Capitalised words that are not names (sentence starts, days, products the catalog may not name).
_NOT_NAMES = frozenset(
    """
    a an the this that these those please and or but if when then also now today tomorrow yesterday
    hi hello hey thanks thank i we you he she they it my our your his her their me us
    create delete remove add grant revoke give make set scale restart rotate reset open close update
    enable disable deploy provision decommission show list get check run stop start need needs new
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december
    dev development staging stage production prod test qa uat
    kubernetes vault postgres postgresql mysql redis kafka nginx linux windows aws gcp azure slack
    jira github gitlab google microsoft office outlook okta ldap vpn dns tls ssl http https api
    cluster namespace deployment database email mailbox website user account team group service
    help helpdesk support admin info noreply sales ops billing contact security alerts root
    postmaster webmaster hr jobs careers marketing finance legal press office
    """.split()  # noqa: SIM905 - a word list reads better as words
)


class Mask:
    """One exchange's placeholders: the same value gets the same placeholder in every message.

    ``known_words`` are words that are not names in this exchange (the catalog's own words,
    taken from the system prompt), so "Create Email" in a request is not a person.
    """

    def __init__(self, *, known_words: Iterable[str] = ()) -> None:
        self.known = _NOT_NAMES | {w.lower() for w in known_words}
        self.originals: dict[str, str] = {}  # placeholder -> the value it hides
        self._placeholders: dict[tuple[Kind, str], str] = {}  # (kind, value) -> placeholder
        self.secrets = 0  # secrets replaced by [REDACTED] (never restored)

    def text(self, text: str) -> str:
        """``text`` with every piece of personal data replaced by its placeholder."""
        text = _PLACEHOLDER_LOOKALIKE.sub("[placeholder]", text)
        findings = redact.find_secrets(text)
        if findings:
            self.secrets += len(findings)
            text = redact.redact(text)
        text = self._replace(_EMAIL, Kind.EMAIL, text)
        text = self._replace(_IPV4, Kind.IP, text)
        text = _IPV6.sub(self._ipv6, text)
        text = self._replace(_PHONE, Kind.PHONE, text)
        text = _FULL_NAME.sub(self._full_name, text)
        text = _CUED_NAME.sub(self._cued_name, text)
        return self._mailbox_names(text)

    def restore(self, value: Any) -> Any:
        """``value`` (a reply's parsed JSON) with each placeholder in its strings put back."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(self._original, value)
        if isinstance(value, dict):
            return {key: self.restore(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.restore(item) for item in value]
        return value

    def counts(self) -> dict[str, int]:
        """How many values of each kind were masked (for logs and the audit store: no values)."""
        counts: dict[str, int] = {}
        for kind, _value in self._placeholders:
            counts[kind.value] = counts.get(kind.value, 0) + 1
        if self.secrets:
            counts["SECRET"] = self.secrets
        return counts

    # --- internals ------------------------------------------------------------------------------

    def placeholder(self, kind: Kind, value: str) -> str:
        key = (kind, value.lower() if kind in (Kind.EMAIL, Kind.PERSON) else value)
        found = self._placeholders.get(key)
        if found is None:
            number = 1 + sum(1 for k, _ in self._placeholders if k is kind)
            found = self._placeholders[key] = f"<{kind.value}_{number}>"
            self.originals[found] = value
        return found

    def _replace(self, pattern: re.Pattern[str], kind: Kind, text: str) -> str:
        return pattern.sub(lambda match: self.placeholder(kind, match.group()), text)

    def _mailbox_names(self, text: str) -> str:
        """The owner of a masked address named elsewhere: its local part ("maria.garcia", a username)
        or a word of it ("maria", "garcia"), in any case."""
        names: set[str] = set()
        for placeholder, value in self.originals.items():
            if not placeholder.startswith(f"<{Kind.EMAIL.value}_"):
                continue
            local = value.split("@")[0].lower()
            parts = [p for p in re.split(r"[._+-]", local) if len(p) >= MIN_NAME_LENGTH and p.isalpha()]
            names.update(p for p in parts if p not in self.known)
            if len(local) >= MIN_NAME_LENGTH and local not in self.known and (parts or not local.isalpha()):
                names.add(local)
        if not names:
            return text
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))  # longest first
        pattern = re.compile(rf"(?<![\w<@.-])(?:{alternatives})(?![\w>@-]|\.\w)", re.IGNORECASE)
        return pattern.sub(lambda match: self.placeholder(Kind.PERSON, match.group()), text)

    def _ipv6(self, match: re.Match[str]) -> str:
        try:
            ipaddress.ip_address(match.group().split("/")[0])
        except ValueError:
            return match.group()
        return self.placeholder(Kind.IP, match.group())

    def _is_name(self, words: list[str]) -> bool:
        return bool(words) and not any(word.lower() in self.known for word in words)

    def _full_name(self, match: re.Match[str]) -> str:
        words = match.group().split()
        if self._is_name(words):
            return self.placeholder(Kind.PERSON, " ".join(words))
        # "Create Mary Jones…": the name may follow a non-name word
        rest = words[1:]
        if len(rest) >= 2 and self._is_name(rest):
            return f"{words[0]} {self.placeholder(Kind.PERSON, ' '.join(rest))}"
        return match.group()

    def _cued_name(self, match: re.Match[str]) -> str:
        name = match.group("name")
        if not self._is_name([name]):
            return match.group()
        start = match.start("name") - match.start()
        return match.group()[:start] + self.placeholder(Kind.PERSON, name)

    def _original(self, match: re.Match[str]) -> str:
        key = f"<{match.group(1).upper()}_{match.group(2)}>"
        return self.originals.get(key, match.group())


NOTE_FOR_MODEL = (
    "Personal data in the request was replaced by placeholders such as <EMAIL_1> or <PERSON_1>. "
    "Copy a placeholder exactly as written wherever a parameter needs that value; never guess what it hides."
)


def words_of(text: str) -> set[str]:
    """The words of ``text`` (lowercase), for :class:`Mask`'s ``known_words``."""
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
