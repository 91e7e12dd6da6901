"""A configuration tree whose every choice carries the reason it was made.

``dsr connectors discover`` proposes a ``connectors.yaml`` entry for an operator to review, so
each value comes with why it was chosen. One tree gives both outputs: YAML with the reasons as
comments, and JSON (the plain values, and the reasons by dotted path). PyYAML writes no comments,
hence this small emitter; scalars it cannot write plainly are JSON strings, which YAML reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

Scalar = str | int | float | bool | None
WIDTH = 100  # a trailing comment that would pass this goes on its own line above
_COMMENT_AT = 34
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


@dataclass
class Node:
    """A value (scalar, flow list of scalars, mapping or list of mappings) and why it is so."""

    value: Scalar | tuple[Scalar, ...] | dict[str, Node] | list[Node]
    why: str | None = None


def scalar(value: Scalar) -> str:
    """``value`` as a YAML scalar that reads back as the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)


def plain(node: Node) -> Any:
    """The tree's values without reasons (what the YAML reads back as)."""
    value = node.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return list(value)
    return value


def _label(node: Node, index: int) -> str:
    """A list item's name in a reason's path: its ``name`` value, else its position."""
    if isinstance(node.value, dict):
        name = node.value.get("name")
        if name is not None and isinstance(name.value, str):
            return name.value
    return str(index)


def reasons(node: Node, path: str = "") -> dict[str, str]:
    """Every reason in the tree, by dotted path (``tables.orders.match.customer_id``)."""
    out: dict[str, str] = {}
    if node.why:
        out[path or "."] = node.why
    if isinstance(node.value, dict):
        for key, child in node.value.items():
            out.update(reasons(child, f"{path}.{key}" if path else key))
    elif isinstance(node.value, list):
        for i, child in enumerate(node.value):
            out.update(reasons(child, f"{path}.{_label(child, i)}"))
    return out


def comment_lines(text: str, indent: int) -> list[str]:
    """``text`` as YAML comment lines at ``indent``, wrapped to WIDTH."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > WIDTH - indent - 2:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [f"{' ' * indent}# {ln}" for ln in [*lines, line] if ln]


def _with_comment(line: str, why: str | None, indent: int) -> list[str]:
    if not why:
        return [line]
    pad = max(_COMMENT_AT, len(line) + 2)
    if pad + 2 + len(why) <= WIDTH:
        return [f"{line.ljust(pad)}# {why}"]
    return [*comment_lines(why, indent), line]


def _entries(mapping: dict[str, Node], indent: int, first_prefix: str = "") -> list[str]:
    """A mapping's lines; the first key may follow a list item's ``- `` on the same line."""
    lines: list[str] = []
    for i, (key, child) in enumerate(mapping.items()):
        lead = first_prefix if i == 0 and first_prefix else " " * indent
        head = f"{lead}{scalar(key)}:"
        value = child.value
        if isinstance(value, dict):
            lines += _with_comment(head, child.why, indent)
            lines += _entries(value, indent + 2)
        elif isinstance(value, list) and value:
            lines += _with_comment(head, child.why, indent)
            lines += items(value, indent + 2)
        elif isinstance(value, list):
            lines += _with_comment(f"{head} []", child.why, indent)
        elif isinstance(value, tuple):
            flow = ", ".join(scalar(v) for v in value)
            lines += _with_comment(f"{head} [{flow}]", child.why, indent)
        else:
            lines += _with_comment(f"{head} {scalar(value)}", child.why, indent)
    return lines


def items(nodes: list[Node], indent: int) -> list[str]:
    """A block list of mappings (or scalars), each item's reason on the lines above it."""
    lines: list[str] = []
    for node in nodes:
        if node.why:
            lines += comment_lines(node.why, indent)
        if isinstance(node.value, dict):
            lines += _entries(node.value, indent + 2, first_prefix=f"{' ' * indent}- ")
        elif isinstance(node.value, list | tuple):
            raise TypeError("a list of lists has no place in connectors.yaml")
        else:
            lines.append(f"{' ' * indent}- {scalar(node.value)}")
    return lines
