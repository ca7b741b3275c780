"""YAML cut by its structure: playbooks per play (per task group when a play is long),
policies and the catalog per rule or entry, manifests per document.

Splitting works on the composed node tree, not on loaded data, so every piece keeps exact line
numbers and Ansible's custom tags (``!vault``) need no constructor.
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from opsgate.rag import budget
from opsgate.rag.chunks import ChunkingError
from opsgate.rag.pieces import Piece, piece

_TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")
_NAME_KEYS = ("name", "id", "key", "title", "rule", "policy")

# libyaml's parser is several times faster than the pure-Python one, and it is what Ansible itself
# parses playbooks with. Both give the same start marks. They differ in the end mark of a collection
# that runs to the end of a file without a final newline: (last line, last column) in Python, (next
# line, column 0) in libyaml; ``_span`` turns both into the same end line. libyaml also accepts tabs
# between items of a flow collection, as YAML 1.2 does, and words its errors differently (one line,
# without the source excerpt).
LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


def compose(text: str) -> list[yaml.Node]:
    try:
        return [node for node in yaml.compose_all(text, Loader=LOADER) if node is not None]
    except yaml.YAMLError as error:
        raise ChunkingError(f"invalid YAML: {_one_line(error)}") from error


def split_playbook(text: str, *, fallback_title: str) -> list[Piece]:
    """Plays that fit the budget whole; a longer play as its header plus groups of tasks."""
    lines = text.splitlines()
    pieces: list[Piece] = []
    for document in compose(text):
        if not isinstance(document, yaml.SequenceNode):
            pieces.extend(split_collection_node(document, lines, fallback_title=fallback_title))
            continue
        for start, end, play in _items(document, lines):
            title = _name(play) or fallback_title
            whole = piece(lines, title=title, kind="play", start=start, end=end)
            if not isinstance(play, yaml.MappingNode) or budget.count_tokens("\n".join(whole.lines)) <= (
                budget.TOKEN_BUDGET
            ):
                pieces.append(whole)
                continue
            pieces.extend(_split_play(play, lines, title=title, start=start, end=end))
    return pieces


def split_collection(text: str, *, fallback_title: str) -> list[Piece]:
    """One piece per rule/entry of each list or keyed mapping; the remaining keys as a header."""
    lines = text.splitlines()
    pieces: list[Piece] = []
    for document in compose(text):
        pieces.extend(split_collection_node(document, lines, fallback_title=fallback_title))
    return pieces


def split_documents(text: str, *, fallback_title: str) -> list[Piece]:
    """One piece per YAML document, titled ``Kind/name`` when it is a Kubernetes object."""
    lines = text.splitlines()
    pieces: list[Piece] = []
    for document in compose(text):
        kind = _scalar(document, "kind")
        name = _scalar(_value(document, "metadata"), "name")
        title = "/".join(part for part in (kind, name) if part) or fallback_title
        start, end = _span(document, lines)
        pieces.append(piece(lines, title=title, kind=kind or "document", start=start, end=end))
    return pieces


def split_collection_node(document: yaml.Node, lines: list[str], *, fallback_title: str) -> list[Piece]:
    start, end = _span(document, lines)
    if isinstance(document, yaml.SequenceNode):
        return [
            piece(lines, title=_name(item) or fallback_title, kind="item", start=s, end=e)
            for s, e, item in _items(document, lines)
        ]
    if not isinstance(document, yaml.MappingNode):
        return [piece(lines, title=fallback_title, kind="document", start=start, end=end)]
    pieces: list[Piece] = []
    header: list[tuple[int, int]] = []
    entries = _entries(document, lines, end)
    for key, value, entry_start, entry_end in entries:
        if isinstance(value, yaml.SequenceNode) and _all_mappings(value.value):
            pieces.extend(
                piece(lines, title=_name(item) or f"{key}[{n}]", kind=key, start=s, end=e)
                for n, (s, e, item) in enumerate(_items(value, lines))
            )
        elif isinstance(value, yaml.MappingNode) and value.value and _all_mappings(v for _, v in value.value):
            pieces.extend(
                piece(lines, title=_titled(sub_key, sub_value), kind=key, start=s, end=e)
                for sub_key, sub_value, s, e in _entries(value, lines, entry_end)
            )
        else:
            header.append((entry_start, entry_end))
    if header:
        first, last = header[0][0], header[-1][1]
        # Leading comments belong to the header: they usually explain the whole file.
        pieces.insert(0, piece(lines, title=fallback_title, kind="header", start=min(first, start), end=last))
    return pieces


def _split_play(play: yaml.MappingNode, lines: list[str], *, title: str, start: int, end: int) -> list[Piece]:
    pieces: list[Piece] = []
    header_end = end
    groups: list[tuple[str, list[tuple[int, int, yaml.Node]]]] = []
    for key, value, entry_start, _ in _entries(play, lines, end):
        if key in _TASK_LISTS and isinstance(value, yaml.SequenceNode) and value.value:
            header_end = min(header_end, entry_start)
            groups.append((key, _items(value, lines)))
    pieces.append(piece(lines, title=title, kind="play", start=start, end=header_end))
    for key, items in groups:
        batch: list[tuple[int, int, yaml.Node]] = []
        used = 0
        for item in items:
            cost = budget.count_tokens("\n".join(lines[item[0] : item[1]]))
            if batch and used + cost > budget.TOKEN_BUDGET:
                pieces.append(_task_group(lines, title, key, batch))
                batch, used = [], 0
            batch.append(item)
            used += cost
        if batch:
            pieces.append(_task_group(lines, title, key, batch))
    return pieces


def _task_group(lines: list[str], play: str, key: str, batch: list[tuple[int, int, yaml.Node]]) -> Piece:
    names = [_name(node) for _, _, node in batch]
    first = next((name for name in names if name), key)
    title = f"{play} > {first}" + (f" (+{len(batch) - 1} more)" if len(batch) > 1 else "")
    return piece(lines, title=title, kind=key, start=batch[0][0], end=batch[-1][1])


def _items(sequence: yaml.SequenceNode, lines: list[str]) -> list[tuple[int, int, yaml.Node]]:
    """(start, end, node) per item; an item runs until the next one starts."""
    _, end = _span(sequence, lines)
    starts = [_item_start(node, lines) for node in sequence.value]
    return [
        (begin, starts[n + 1] if n + 1 < len(starts) else end, node)
        for n, (begin, node) in enumerate(zip(starts, sequence.value, strict=True))
    ]


def _entries(mapping: yaml.MappingNode, lines: list[str], end: int) -> list[tuple[str, yaml.Node, int, int]]:
    starts = [key.start_mark.line for key, _ in mapping.value]
    entries = []
    for n, (key, value) in enumerate(mapping.value):
        stop = starts[n + 1] if n + 1 < len(starts) else end
        entries.append((str(key.value), value, _with_comments(starts[n], lines), stop))
    return entries


def _item_start(node: yaml.Node, lines: list[str]) -> int:
    """The line of the ``-`` opening a sequence item (the node starts after it), with comments above."""
    line = node.start_mark.line
    while line > 0 and not lines[line].lstrip().startswith("-"):
        line -= 1
    return _with_comments(line, lines)


def _with_comments(line: int, lines: list[str]) -> int:
    while line > 0 and lines[line - 1].lstrip().startswith("#"):
        line -= 1
    return line


def _span(node: yaml.Node, lines: list[str]) -> tuple[int, int]:
    end = node.end_mark.line + (1 if node.end_mark.column > 0 else 0)
    return node.start_mark.line, max(min(end, len(lines)), node.start_mark.line + 1)


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key:
                return value  # type: ignore[no-any-return]
    return None


def _scalar(node: yaml.Node | None, key: str) -> str:
    value = _value(node, key)
    return str(value.value) if isinstance(value, yaml.ScalarNode) else ""


def _name(node: yaml.Node) -> str:
    return next((name for key in _NAME_KEYS if (name := _scalar(node, key))), "")


def _titled(key: str, value: yaml.Node) -> str:
    description = _scalar(value, "description") or _name(value)
    return f"{key}: {description}" if description else key


def _all_mappings(nodes: Iterable[yaml.Node]) -> bool:
    items = list(nodes)
    return bool(items) and all(isinstance(node, yaml.MappingNode) for node in items)


def _one_line(error: yaml.YAMLError) -> str:
    return " ".join(str(error).split())
