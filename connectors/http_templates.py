"""Reading JSON answers by path and filling request templates from a record.

A JSON path here is the plain dotted kind (``entries``, ``data.items``, ``$`` for the whole
answer): enough for the APIs we meet, and nothing to evaluate. A template is a Python format
string over names only (``members/{member_id}``); an attribute or index in it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any
from urllib.parse import quote

from dsr.errors import ConfigError, FatalStoreError

ROOT = "$"


def at(document: Any, path: str) -> Any:
    """The value at ``path`` (None when any step is missing)."""
    if path in (ROOT, ""):
        return document
    value = document
    for step in path.removeprefix("$.").split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def records_at(
    document: Any, path: str, *, store: str, total: str | None = None, later: bool = False
) -> list[dict[str, Any]]:
    """The records at ``path``: a list of objects, or one object at ``$`` (FatalStoreError when
    the answer has another shape: the configuration no longer fits the API).

    A list left out of the answer is empty only when the answer's ``total`` says 0 (Mailman
    leaves ``entries`` out of an empty collection): a mistyped path must never read as "no
    records here". A page after the first may leave it out: past the end, it is empty."""
    value = at(document, path)
    if value is None and path not in (ROOT, ""):
        if later or (total is not None and at(document, total) == 0):
            return []
        raise FatalStoreError(f"{store}: the answer holds no records at {path!r}")
    if isinstance(value, Mapping):
        return [dict(value)]
    if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        return [dict(v) for v in value]
    raise FatalStoreError(f"{store}: the answer holds no records at {path!r}")


def names(template: str) -> set[str]:
    """The names a template reads."""
    return {f for _, f, _, _ in Formatter().parse(template) if f is not None and f != ""}


def render(template: str, values: Mapping[str, Any], *, quoted: bool) -> str:
    """Fill ``template`` from ``values`` (each URL-quoted in full when ``quoted``, except a
    link that starts the template)."""
    out: list[str] = []
    for literal, name, spec, conversion in Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if not name.isidentifier() or conversion or spec:
            raise ConfigError(f"template {template!r}: only plain names like {{key}} are allowed")
        if name not in values or values[name] is None:
            raise FatalStoreError(f"a request template needs {name!r}, which the record lacks")
        text = str(values[name])
        # A link the store gave (a record's self_link) goes in whole; the client then checks
        # it stays on the store's host. Anything else is one quoted path segment.
        is_link = text.startswith(("http://", "https://")) and not "".join(out)
        out.append(quote(text, safe="") if quoted and not is_link else text)
    return "".join(out)


def render_body(body: Any, values: Mapping[str, Any]) -> Any:
    """A JSON body with every string template filled (a string that is exactly one ``{name}``
    keeps the value's own type)."""
    if isinstance(body, str):
        only = names(body)
        if len(only) == 1 and body == "{" + next(iter(only)) + "}":
            name = next(iter(only))
            if name not in values:
                raise FatalStoreError(f"a request template needs {name!r}, which it lacks")
            return values[name]
        return render(body, values, quoted=False)
    if isinstance(body, list):
        return [render_body(v, values) for v in body]
    if isinstance(body, dict):
        return {k: render_body(v, values) for k, v in body.items()}
    return body
