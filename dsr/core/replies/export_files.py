"""The access export's files for people and for machines.

For people, each table's CSV is written from its JSON at bundle time: a UTF-8 byte-order mark
(so Excel on Windows reads Vietnamese), the column headings in the subject's language
(``labels`` in ``connectors.yaml``) and times on the subject's clock with their offset
(``DSR_TIMEZONE``). For machines, the JSON files stay as the store holds the values, and
``manifest.json`` lists every file with its counts, columns, purpose and retention (its schema
is in the README, "The access export").
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dsr.core.replies.export_notes import TableNotes, TableView

BOM = "\ufeff"
MANIFEST_VERSION = 1
# An ISO date-time as the stores' drivers write it; naive values are UTC (the stores' rule).
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def local_time(value: Any, zone: ZoneInfo) -> Any:
    """A date-time string on the subject's clock with its offset ('2026-03-02 10:00:00+07:00');
    anything else unchanged."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).isoformat(sep=" ", timespec="seconds")


def json_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a staged table file, one at a time (``TableWriter`` writes one per line)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            text = line.strip().rstrip(",")
            if text.startswith("{"):
                yield json.loads(text)


def write_csv(
    zf: zipfile.ZipFile,
    arcname: str,
    source: Path,
    notes: TableNotes,
    lang: str,
    zone: ZoneInfo,
) -> int:
    """The table's CSV for people, written into the archive from its JSON; the row count."""
    count = 0
    with zf.open(arcname, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as out:
        out.write(BOM)
        writer: Any = None  # csv.writer once the first row names the columns
        columns: list[str] = []
        for row in json_rows(source):
            if writer is None:
                columns = list(row)
                writer = csv.writer(out)
                writer.writerow([notes.label(c, lang) for c in columns])
            writer.writerow(["" if row[c] is None else local_time(row[c], zone) for c in columns])
            count += 1
    return count


def manifest(
    *,
    request_id: str,
    lang: str,
    timezone: str,
    stores: list[dict[str, Any]],
    now: datetime,
) -> str:
    """``manifest.json``: what the bundle holds, for a program (schema in the README)."""
    return json.dumps(
        {
            "manifest_version": MANIFEST_VERSION,
            "request_id": request_id,
            "language": lang,
            "timezone": timezone,
            "generated_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "records": sum(s["records"] for s in stores),
            "stores": stores,
        },
        ensure_ascii=False,
        indent=2,
    )


def table_entry(
    view: TableView, notes: TableNotes, columns: list[str], lang: str
) -> dict[str, Any]:
    """One table in the manifest."""
    rule = notes.retention
    return {
        "table": view.name,
        "records": view.records,
        "files": view.files,
        "json": f"{view.file}.json",
        "csv": f"{view.file}.csv",
        "columns": [{"name": c, "label": notes.label(c, lang)} for c in columns],
        "purpose": view.purpose or None,
        "retention": None
        if rule is None
        else {"days": rule.days, "after": rule.column, "then": rule.action},
    }


def columns_of(path: Path) -> list[str]:
    """The columns of a staged table file (those of its first row)."""
    for row in json_rows(path):
        return list(row)
    return []
