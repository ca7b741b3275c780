"""Reading requests typed the way people type commands in chat ("/scale cart 4 -n shop").

ChatOps bots taught people a terse grammar: a slash before the verb, positional arguments
("/scale api-gateway 10 production"), ``--last 1h`` for a time window, and phrasal verbs split
around their object ("take the old site down"). As :mod:`opsgate.parsing.kubectl` does for
kubectl's spellings, these are rewritten into the words the rule parser already reads ("scale
cart to 4 replicas", "since 1h", "take down the old site"), so there is one grammar, not two.
Only these shapes are rewritten; anything else is left as written. Pure.
"""

from __future__ import annotations

import re

from opsgate import entities
from opsgate.parsing import vocabulary

# "/scale …", "/logs …" at the start: the slash of a chat command whose word is a verb we know
# ("/logs x" reads as kubectl's); "/incident x", "/oncall who" stay commands of other bots
_SLASH_COMMAND = re.compile(r"^\s*/([A-Za-z]+)\b")
_SLASH_LOGS = re.compile(r"^\s*/(?:get-|show-)?logs\s+(?=[a-z0-9])", re.I)
# "--since 5m": a time window as a flag
_SINCE = re.compile(r"--since(?:=|\s+)(\d+\s*[a-z]+)", re.I)
# "https://old.acme.org/path": the site a link points at
_URL = re.compile(r"\bhttps?://([a-z0-9][-a-z0-9.]*[a-z0-9])(?::\d+)?(?:/[^\s,;)]*)?", re.I)
# "--last 1h", "--last=30m": a ChatOps time window
_LAST = re.compile(r"--last(?:=|\s+)(\d+\s*[a-z]+)", re.I)
# "take the old site down", "shut blog.acme.org down": up to two words between verb and particle
_SPLIT_DOWN = re.compile(r"\b(take|taking|shut|shutting|tear|tearing)\s+((?:[^\s,.;]+\s+)?[^\s,;]+?)\s+down\b", re.I)
# "get it back up", "bring the site back online": running again, which is a restart
_BACK_UP = re.compile(
    r"\b(?:get|bring|getting|bringing)\s+((?:[^\s,.;]+\s+){0,2}?[^\s,.;]+)\s+back\s+(?:up|online)\b", re.I
)
# "take jadfoq's view access on namespace x away", "turn mtls on for orders": a phrasal verb's
# particle after a longer object, up to six words
_SPLIT_PARTICLE = re.compile(
    r"\b(?:(take|taking)\s+((?:[^\s,.;]+\s+){0,5}?[^\s,.;]+)\s+(away)"
    r"|(turn|turning|switch|switching)\s+((?:[^\s,.;]+\s+){0,5}?[^\s,.;]+)\s+(on))\b(?!\s+(?:the|a|an)\b)",
    re.I,
)
# "mTLS on for the rbndr service": a feature named, then "on for" its target
_FEATURE_ON = re.compile(r"^\s*([a-z][-a-z ]{1,20}?)\s+on\s+(?=for\b|in\b)", re.I)
# "ocoke needs to be admin in namespace x": a person who should hold a role is granted it
_TO_BE_ROLE = re.compile(
    r"\b([a-z0-9][-._a-z0-9]*)\s+(?:needs|need|should|must)\s+(?:to\s+)?be\s+(?:an?\s+)?("
    + "|".join(re.escape(word) for word in sorted(entities.ROLE_WORDS, key=len, reverse=True))
    + r")\b(?=\s+(?:in|on|of|for|to)\b)",
    re.I,
)
# "app=payments env=prod", "--namespace=shop": a chat command's settings, spelt as the words they stand for
_SETTING = re.compile(
    r"(?<![\w=])(?:--?)?(app|service|svc|deployment|deploy|env|environment|namespace|ns|since|last|image|replicas)=([^\s,;=]+)",
    re.I,
)
_SETTING_WORDS = {
    "app": "of", "service": "of", "svc": "of", "deployment": "of", "deploy": "of",
    "env": "in", "environment": "in", "namespace": "-n", "ns": "-n", "since": "since", "last": "since",
    "image": "image", "replicas": "to",
}  # fmt: skip
# "scale cart 4", "scale deployment cart 4": a bare count after the name is the replica count
_NOT_A_NAME = r"(?!(?:to|up|down|out|in|back|by|the|it|them|this|that|replicas?|pods?)\b)"
_POSITIONAL_SCALE = re.compile(
    r"\b(scale(?:\s+deployment)?)\s+" + _NOT_A_NAME + r"([a-z0-9][-a-z0-9]*)\s+(\d{1,3})\b"
    r"(?!\s*(?:%|percent|x\b|times|replicas?|pods?|instances?|nodes?|copies))",
    re.I,
)


def _verb_particle_object(match: re.Match[str]) -> tuple[str, str, str]:
    verb, middle, particle = match.group(1, 2, 3) if match.group(1) else match.group(4, 5, 6)
    return verb, particle, middle


def _setting_as_words(match: re.Match[str]) -> str:
    key, value = match.group(1).lower(), match.group(2)
    return f"to {value} replicas" if key == "replicas" else f"{_SETTING_WORDS[key]} {value}"


def rewrite(text: str) -> str:
    """``text`` with chat-command shorthand spelt as words (unchanged when it has none)."""
    text = _SLASH_LOGS.sub("logs of ", text)
    text = _SLASH_COMMAND.sub(lambda m: m.group(1) if m.group(1).lower() in vocabulary.VERBS else m.group(0), text)
    text = _URL.sub(r"\1", text)
    text = _SETTING.sub(_setting_as_words, text)
    text = _LAST.sub(r"since \1", text)
    text = _SINCE.sub(r"since \1", text)
    text = _SPLIT_DOWN.sub(r"\1 down \2", text)
    text = _BACK_UP.sub(r"restart \1", text)
    text = _SPLIT_PARTICLE.sub(lambda m: " ".join(p for p in _verb_particle_object(m) if p), text)
    text = _FEATURE_ON.sub(r"turn on \1 ", text)
    text = _TO_BE_ROLE.sub(r"make \1 \2", text)
    return _POSITIONAL_SCALE.sub(r"\1 \2 to \3 replicas", text)
