"""What an access export says of each table, beside the data: why it is kept, under which
headings, since when and until when (purposes and retention: Law 91/2025, GDPR Art. 15).

Purposes and column headings come from ``connectors.yaml`` (``purpose``, ``labels``); how long a
table is kept from ``retention.yaml`` (already validated at start-up, read here as data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dsr import yamlconfig

FILES = " files"  # connectors.sql_files.FILES: the outcome of the files a table's rows name


@dataclass(frozen=True)
class Retention:
    """How long a table's rows are kept: ``days`` after ``column``, then ``action``."""

    column: str
    days: int
    action: str  # delete | anonymise
    only_when_set: str | None = None


@dataclass(frozen=True)
class TableNotes:
    """One table as the export describes it."""

    purpose: dict[str, str] = field(default_factory=dict)  # {vi, en}
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {vi, en}
    collected_at: str | None = None
    retention: Retention | None = None
    title: dict[str, str] = field(default_factory=dict)  # {vi, en}: what replies call the table

    def label(self, column: str, lang: str) -> str:
        """The column's heading in ``lang`` (its name when none is configured)."""
        names = self.labels.get(column) or {}
        return names.get(lang) or names.get("en") or column


def retention_rules(path: Path) -> Mapping[tuple[str, str], Retention]:
    """(connector, table) -> its retention rule, from ``retention.yaml``: parsed once per version
    of the file, since every reply asks and YAML parsing costs more than the rest of a reply."""
    try:
        version = path.stat().st_mtime_ns
    except OSError:
        version = None  # yamlconfig.read names the problem
    return _rules(path, version)


@lru_cache(maxsize=4)
def _rules(path: Path, version: int | None) -> Mapping[tuple[str, str], Retention]:
    doc = yamlconfig.read(path) or {}
    out = {}
    for rule in doc.get("rules") or []:
        out[(str(rule["connector"]), str(rule["table"]))] = Retention(
            column=str(rule["column"]),
            days=int(rule["days"]),
            action=str(rule.get("action", "delete")),
            only_when_set=rule.get("only_when_set"),
        )
    return MappingProxyType(out)


def for_store(
    connector: object, rules: Mapping[tuple[str, str], Retention]
) -> dict[str, TableNotes]:
    """The notes of every table of ``connector`` (a connector without them: none)."""
    notes = getattr(connector, "export_notes", None)
    name = str(getattr(connector, "name", ""))
    if not callable(notes):
        return {}
    tables: dict[str, dict[str, Any]] = notes()
    return {
        table: TableNotes(
            purpose=dict(n.get("purpose") or {}),
            labels=dict(n.get("labels") or {}),
            collected_at=n.get("collected_at"),
            title=dict(n.get("title") or {}),
            retention=rules.get((name, table)),
        )
        for table, n in tables.items()
    }


def span(days: int, lang: str) -> str:
    """A retention period as people say it: '10 năm', '36 months', '180 days'."""
    years, leap = divmod(days, 365)
    if years and leap <= years:  # written as the longest it can be: 3653 days = 10 years
        if years < 5:
            return f"{years * 12} tháng" if lang == "vi" else f"{years * 12} months"
        return f"{years} năm" if lang == "vi" else f"{years} years"
    return f"{days} ngày" if lang == "vi" else f"{days} days"


@dataclass(frozen=True)
class TableView:
    """One exported table as the summary lists it, in the subject's language."""

    name: str
    file: str  # the table's files in the bundle, without extension: "crm/customers"
    purpose: str
    records: int
    files: int  # files its rows name (call recordings), in ``<connector>/files/``
    kept: str | None  # how long rows are kept, e.g. "36 tháng sau Hoạt động gần nhất"
    action: str | None  # what happens then: delete | anonymise


def title(notes: Mapping[str, TableNotes], table: str, lang: str) -> str | None:
    """What the subject reads for ``table`` in ``lang`` (None: none configured)."""
    note = notes.get(table)
    return (note.title.get(lang) or None) if note is not None else None


def table_views(
    connector: str,
    outcomes: list[tuple[str, int]],
    notes: Mapping[str, TableNotes],
    lang: str,
) -> list[TableView]:
    """The tables an access task exported (``outcomes``: (table, count)), files beside the
    table that names them, so the counts add up to the store's records."""
    files = {t.removesuffix(FILES): n for t, n in outcomes if t.endswith(FILES)}
    out = []
    for table, count in outcomes:
        if table.endswith(FILES) or not count:
            continue
        note = notes.get(table) or TableNotes()
        rule = note.retention
        kept = None
        if rule is not None:
            after = note.label(rule.column, lang)
            kept = (
                f"{span(rule.days, lang)} sau {after}"
                if lang == "vi"
                else f"{span(rule.days, lang)} after {after}"
            )
        out.append(
            TableView(
                name=table,
                file=f"{connector}/{table}",
                purpose=note.purpose.get(lang) or note.purpose.get("en") or "",
                records=count,
                files=files.get(table, 0),
                kept=kept,
                action=rule.action if rule is not None else None,
            )
        )
    return out
