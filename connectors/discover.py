"""``dsr connectors discover``: a proposed ``connectors.yaml`` entry from a live database.

Read-only (``connectors.readonly``). Columns are recognised from their values
(``connectors.recognise``); tables are tied together by their foreign keys, declared or shown by
the values (``connectors.discover_links``); which table holds the customers, which reference
them and which are children is decided in ``connectors.discover_tables``. Every choice carries a
reason, printed beside it for the operator who reviews the proposal; nothing is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.commented import Node, comment_lines, items, plain, reasons
from connectors.discover_links import infer_links
from connectors.discover_schema import read_table
from connectors.discover_tables import Proposal, Skipped
from connectors.readonly import backend_of, connected, mask_url, open_read_only

OWN_PREFIX = "dsr_"  # tables this system keeps inside a store (the sweep's dsr_purge_log)


@dataclass
class Discovery:
    """The proposal: one ``connectors.yaml`` entry with reasons, and the tables left out."""

    url: str  # password masked
    backend: str
    region: str
    sample: int
    entry: Node
    skipped: list[Skipped] = field(default_factory=list)
    own_tables: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The same proposal as JSON: the entry, its reasons by path, the skipped tables."""
        return {
            "url": self.url,
            "backend": self.backend,
            "region": self.region,
            "sample": self.sample,
            "connector": plain(self.entry),
            "reasons": reasons(self.entry),
            "skipped": [{"table": s.table, "reason": s.reason} for s in self.skipped],
            "own_tables": self.own_tables,
        }

    def to_yaml(self) -> str:
        """The entry as YAML with a comment on each choice, for an operator to review."""
        head = (
            f"Proposed by `dsr connectors discover` from {self.url} ({self.backend}): review "
            f"every choice before pasting it under `connectors:`. Up to {self.sample} rows "
            f"sampled per table, spread along its key; phone numbers read for region "
            f"{self.region}. Not proposed (decide from what the product does): labels, "
            "recipients and shared, historical_when, defer_when, per-column anonymisation."
        )
        lines = comment_lines(head, 0) + items([self.entry], 0)
        if self.skipped:
            lines.append("# Skipped tables (no personal data to find a subject by):")
            lines += [f"#   {s.table}: {s.reason}" for s in self.skipped]
        if self.own_tables:
            lines.append(f"# The system's own tables here: {', '.join(self.own_tables)}")
        return "\n".join(lines) + "\n"


def discover(url: str, *, region: str, sample: int = 200) -> Discovery:
    """Read ``url``'s schema and a sample of its values; propose a ``kind: sql`` entry."""
    backend = backend_of(url)
    engine = open_read_only(url)
    try:
        with connected(engine, url) as conn:
            inspector = sa.inspect(conn)
            names = sorted(inspector.get_table_names())
            own = [n for n in names if n.startswith(OWN_PREFIX)]
            tables = {
                n: read_table(conn, inspector, n, region=region, sample=sample)
                for n in names
                if n not in own
            }
            infer_links(conn, tables)
    finally:
        engine.dispose()
    proposal = Proposal(tables)
    entry = Node(
        {
            "name": Node(_connector_name(url), why="from the database's name: choose your own"),
            "kind": Node("sql"),
            "url": Node(mask_url(url), why=_url_why(url)),
            "tables": Node([proposal.table_node(t) for t in proposal.order()]),
        }
    )
    return Discovery(mask_url(url), backend, region, sample, entry, proposal.skipped, own)


def _connector_name(url: str) -> str:
    parsed = sa.make_url(url)
    base = Path(parsed.database or "store").stem if backend_of(url) == "sqlite" else parsed.database
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base or "store")


def _url_why(url: str) -> str | None:
    if sa.make_url(url).password:
        return "password masked: write the real one, or keep it out of this file"
    return None
