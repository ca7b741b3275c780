"""The token budget: keep chunks near what the embedder reads, splitting long ones with overlap.

Tokens are counted the way a WordPiece tokenizer roughly would (words and punctuation marks), which
is close enough to keep chunks under the budget without loading a tokenizer. Splits fall on line
boundaries so every window keeps an exact line range.
"""

from __future__ import annotations

import dataclasses
import re

TOKEN_BUDGET = 512
TOKEN_OVERLAP = 64

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    text: str
    start_line: int  # 1-based, inclusive, in the file
    end_line: int


def split_lines(
    lines: list[str], *, first_line: int, budget: int = TOKEN_BUDGET, overlap: int = TOKEN_OVERLAP
) -> list[Window]:
    """Cut ``lines`` (numbered from ``first_line``) into windows of at most ``budget`` tokens.

    Consecutive windows share trailing lines worth about ``overlap`` tokens. A single line longer
    than the budget becomes a window of its own (lines are never cut).
    """
    costs = [count_tokens(line) for line in lines]
    windows: list[Window] = []
    start = 0
    while start < len(lines):
        end, used = start, 0
        while end < len(lines) and (end == start or used + costs[end] <= budget):
            used += costs[end]
            end += 1
        windows.append(_window(lines, start, end, first_line))
        if end >= len(lines):
            break
        back, carried = end, 0
        while back - 1 > start and carried + costs[back - 1] <= overlap:
            back -= 1
            carried += costs[back]
        start = back
    return windows


def _window(lines: list[str], start: int, end: int, first_line: int) -> Window:
    return Window(text="\n".join(lines[start:end]), start_line=first_line + start, end_line=first_line + end - 1)
