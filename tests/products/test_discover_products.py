"""``dsr connectors discover`` on the four products' real schemas (issue 21, item 5): run on
each fixture store, it proposes every identifier column the hand-written entry searches by, in
every table the entry searches (its ``match``), and every table the entry uses.

Each product is surveyed in a database of its own (``fresh``): the session's shared fixtures
put two products in each database, and ``discover`` reads a whole database. The proposal may
say more than the entry (an operator reviews it and removes what does not fit: FreePBX's
``did`` and ``outbound_cnum`` hold the company's own number), never less.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.discover import discover
from tests.products.fresh import fresh_store
from tests.products.stores import STORES

SAMPLE = 200  # rows per table (the CLI's default)


def _columns(match: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, column) pairs of a ``match`` block (a column, or a list of them)."""
    return {
        (kind, column)
        for kind, columns in match.items()
        for column in ([columns] if isinstance(columns, str) else columns)
    }


@pytest.fixture(scope="module", params=STORES)
def surveyed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, Any], dict[str, dict[str, Any]]]]:
    """(store, its entry, discover's proposal by table) for each fixture store."""
    name = str(request.param)
    with fresh_store(name, Path(tmp_path_factory.mktemp(f"discover-{name}"))) as store:
        found = discover(store.url, region="VN", sample=SAMPLE).to_json()
        tables = {t["name"]: t for t in found["connector"]["tables"]}
        yield name, store.entry, tables


def test_every_column_the_entry_matches_is_proposed(
    surveyed: tuple[str, dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    """For every table the entry searches, each (kind, column) of its ``match`` is in the
    proposal's ``match`` for that table."""
    name, entry, proposed = surveyed
    missing = {}
    for spec in entry["tables"]:
        if not spec.get("match"):
            continue
        got = _columns(proposed.get(spec["name"], {}).get("match", {}))
        lacking = _columns(spec["match"]) - got
        if lacking:
            missing[spec["name"]] = sorted(lacking)
    assert not missing, f"{name}: not proposed: {missing}"


def test_every_table_the_entry_uses_is_proposed_with_its_key(
    surveyed: tuple[str, dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    """Each table of the entry, searched or reached through its parent, is in the proposal (not
    skipped) with the key the entry addresses its rows by."""
    name, entry, proposed = surveyed
    keys = {t: proposed[t]["key"] for t in proposed}
    assert keys == {**keys, **{t["name"]: t.get("key", "id") for t in entry["tables"]}}, name
