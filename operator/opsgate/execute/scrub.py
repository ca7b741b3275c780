"""The last guard against a secret value leaking into what the executor prints or reports.

The playbooks mark every task that reads a secret ``no_log`` and ansible-runner censors those
results, but a value can still surface elsewhere (an error echoing a URL, a debug task a
platform team adds). So every text the executor emits - event lines, the summary, messages -
goes through :func:`scrub` with the actual values of this run. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "********"


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each value replaced by :data:`MASK` (longest first)."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
