"""Writing a subject's records to the staging folder: one JSON and one CSV per table."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID


def json_value(value: object) -> Any:
    """A JSON-safe form of one stored value (dates ISO, decimals as exact strings)."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def json_row(row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    """The named columns of a row, JSON-safe, in column order."""
    return {name: json_value(row[name]) for name in columns}


def _replace_atomically(path: Path, write: Any) -> None:
    # A crashed worker must never leave a half-written export that a retry would then trust.
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        write(handle)
    os.replace(tmp, path)


def write_table(staging: Path, table: str, rows: list[dict[str, Any]]) -> list[Path]:
    """Write ``<table>.json`` (a list of objects) and ``<table>.csv`` (with a header row)."""
    staging.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = staging / f"{table}.json", staging / f"{table}.csv"
    _replace_atomically(
        json_path, lambda h: json.dump(rows, h, ensure_ascii=False, indent=2)
    )
    fields = list(rows[0]) if rows else []

    def write_csv(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    _replace_atomically(csv_path, write_csv)
    return [json_path, csv_path]


def earliest(values: Iterable[Any]) -> str | None:
    """The earliest of some ISO timestamps (None when there are none)."""
    present = [str(v) for v in values if v not in (None, "")]
    return min(present) if present else None
