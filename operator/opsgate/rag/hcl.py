"""HCL (Terraform/OpenTofu) cut by top-level block: each ``resource``, ``variable``, ``module``,
``output``... with the comments right above it is one piece.

A small scanner, not a parser: it follows braces outside strings, comments and heredocs, which is
all it takes to find block boundaries, and reports unbalanced braces as a broken file.
"""

from __future__ import annotations

import re

from opsgate.rag.chunks import ChunkingError
from opsgate.rag.pieces import Piece, piece

_HEREDOC = re.compile(r"<<-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_BLOCK_HEADER = re.compile(r"^\s*([A-Za-z_][\w-]*)((?:\s+(?:\"[^\"]*\"|[A-Za-z_][\w-]*))*)\s*\{")

UNBALANCED = "unbalanced braces: a block opened on line {line} is never closed"
EXTRA_BRACE = "unexpected closing brace on line {line}"


def split(text: str, *, fallback_title: str) -> list[Piece]:
    lines = text.splitlines()
    pieces: list[Piece] = []
    depth = 0
    block_start = -1
    loose: list[int] = []  # top-level lines outside blocks (attributes of a .tfvars file)
    heredoc = ""
    in_comment = False
    for number, line in enumerate(lines):
        if heredoc:
            if line.strip() == heredoc:
                heredoc = ""
            continue
        opened_at_zero = depth == 0
        depth, in_comment, heredoc = _scan(line, depth=depth, in_comment=in_comment)
        if depth < 0:
            raise ChunkingError(EXTRA_BRACE.format(line=number + 1))
        if opened_at_zero and depth > 0:
            block_start = number
        elif opened_at_zero and depth == 0 and _BLOCK_HEADER.match(line):
            pieces.append(_block(lines, number, number + 1))  # a one-line block: `locals { a = 1 }`
            continue
        if depth == 0 and block_start >= 0:
            pieces.append(_block(lines, block_start, number + 1))
            block_start = -1
        elif depth == 0 and opened_at_zero and line.strip() and not _is_comment(line):
            loose.append(number)
    if depth > 0 or in_comment or heredoc:
        raise ChunkingError(UNBALANCED.format(line=block_start + 1))
    if loose:
        pieces.insert(0, piece(lines, title=fallback_title, kind="attributes", start=loose[0], end=loose[-1] + 1))
    return pieces


def _block(lines: list[str], start: int, end: int) -> Piece:
    match = _BLOCK_HEADER.match(lines[start])
    kind = match.group(1) if match else "block"
    labels = match.group(2).split() if match else []
    title = " ".join([kind, *(label.strip('"') for label in labels)])
    while start > 0 and _is_comment(lines[start - 1]):
        start -= 1
    return piece(lines, title=title, kind=kind, start=start, end=end)


def _is_comment(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(("#", "//", "/*", "*"))


def _scan(line: str, *, depth: int, in_comment: bool) -> tuple[int, bool, str]:
    """Brace depth after ``line``, whether a ``/* */`` comment is still open, and a heredoc marker."""
    position = 0
    in_string = False
    while position < len(line):
        pair = line[position : position + 2]
        char = line[position]
        if in_comment:
            if pair == "*/":
                in_comment = False
                position += 1
        elif in_string:
            if char == "\\":
                position += 1
            elif char == '"':
                in_string = False
        elif pair == "/*":
            in_comment = True
            position += 1
        elif char == "#" or pair == "//":
            break
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "<" and (match := _HEREDOC.search(line, position)):
            return depth, in_comment, match.group(1)
        position += 1
    return depth, in_comment, ""
