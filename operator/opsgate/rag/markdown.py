"""Markdown cut by headings: each section (heading plus body) is one piece.

The title is the heading trail ("Rotating secrets > Rollback") so a hit names where it sits in the
document. Headings inside fenced code blocks are code, not structure.
"""

from __future__ import annotations

import re

from opsgate.rag.pieces import Piece, piece

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def split(text: str, *, fallback_title: str) -> list[Piece]:
    lines = text.splitlines()
    starts: list[tuple[int, int, str]] = []  # (line index, level, heading)
    in_fence = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            starts.append((number, len(match.group(1)), match.group(2)))
    pieces: list[Piece] = []
    if not starts or starts[0][0] > 0:
        end = starts[0][0] if starts else len(lines)
        if any(line.strip() for line in lines[:end]):
            pieces.append(piece(lines, title=fallback_title, kind="section", start=0, end=end))
    trail: list[tuple[int, str]] = []
    for position, (number, level, heading) in enumerate(starts):
        trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, heading)]
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        title = " > ".join(name for _, name in trail)
        pieces.append(piece(lines, title=title, kind="section", start=number, end=end))
    return pieces
