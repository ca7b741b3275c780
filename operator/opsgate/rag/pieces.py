"""A structural piece of a file (a section, a play, a block, a rule) before the token budget applies.

Format-specific splitters return pieces; ``chunking`` turns them into budgeted chunks.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Piece:
    title: str
    kind: str
    start_line: int  # 1-based, inclusive
    lines: list[str]

    @property
    def end_line(self) -> int:
        return self.start_line + len(self.lines) - 1


def piece(source_lines: list[str], *, title: str, kind: str, start: int, end: int) -> Piece:
    """The piece covering 0-based lines ``start`` to ``end`` (exclusive), trailing blanks dropped."""
    while end > start + 1 and not source_lines[end - 1].strip():
        end -= 1
    return Piece(title=title, kind=kind, start_line=start + 1, lines=source_lines[start:end])
