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

from dsr.files import open_private, private_dir


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


def json_row(row: Mapping[Any, Any], columns: Iterable[str]) -> dict[str, Any]:
    """The named columns of a row, JSON-safe, in column order."""
    return {name: json_value(row[name]) for name in columns}


class TableWriter:
    """Streams one table's rows to ``<table>.json`` and ``<table>.csv`` as they are read.

    A subject with 100,000 orders must not be held in memory. Files appear (atomically) only
    when the block ends without error and at least one row was written; they are the
    subject's data, so they are created 0600 in 0700 folders.
    """

    def __init__(self, staging: Path, table: str, columns: list[str]) -> None:
        private_dir(staging)
        self.paths = [staging / f"{table}.json", staging / f"{table}.csv"]
        self._tmp = [p.with_name(f".{p.name}.tmp") for p in self.paths]
        self._json = open_private(self._tmp[0], "w", encoding="utf-8")
        self._csv_handle = open_private(self._tmp[1], "w", encoding="utf-8", newline="")
        self._csv = csv.DictWriter(self._csv_handle, fieldnames=columns)
        self._csv.writeheader()
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self._json.write("[\n" if self.count == 0 else ",\n")
        self._json.write(json.dumps(row, ensure_ascii=False))
        self._csv.writerow(row)
        self.count += 1

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        keep = exc_type is None and self.count > 0
        try:
            try:
                self._json.write("[]" if self.count == 0 else "\n]\n")
            finally:
                self._json.close()  # a full disk fails here, when the last block is flushed
                self._csv_handle.close()
        except BaseException:
            keep = False
            raise
        finally:
            for tmp, final in zip(self._tmp, self.paths, strict=True):
                if keep:
                    os.replace(tmp, final)
                else:
                    tmp.unlink(missing_ok=True)  # never leave a half-written file behind


def earliest(values: Iterable[Any]) -> str | None:
    """The earliest of some ISO timestamps (None when there are none)."""
    present = [str(v) for v in values if v not in (None, "")]
    return min(present) if present else None
