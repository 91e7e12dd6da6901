"""An access export opened as its subject and a program would: the demo stores end to end.

SQLite ledger, the demo stores, a real SMTP server; no broker: steps run inline.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dsr.core.ledger import paths
from tests.core.conftest import Core

LOCAL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+07:00")


def _export(core: Core, language: str) -> zipfile.ZipFile:
    request_id = core.submit("access", language=language)
    core.drain(times=3)
    assert core.status(request_id)["status"] == "completed"
    return zipfile.ZipFile(paths.bundle(core.rt.settings.resolved_export_dir, request_id))


def _csv(zf: zipfile.ZipFile, name: str) -> tuple[bytes, list[list[str]]]:
    raw = zf.read(name)
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.mark.parametrize("language", ["vi", "en"])
def test_an_export_a_person_can_read_and_a_program_can_parse(core: Core, language: str) -> None:
    """CSVs carry a BOM, headings in the subject's language and local times with their offset;
    summary.txt/html say per store what we hold, why, since when, who received it and until
    when; manifest.json's counts equal the rows in the files and the summary's total."""
    zf = _export(core, language)
    manifest: dict[str, Any] = json.loads(zf.read("manifest.json"))
    assert manifest["manifest_version"] == 1 and manifest["language"] == language
    assert manifest["timezone"] == "Asia/Ho_Chi_Minh"
    summary = zf.read("summary.txt").decode("utf-8")
    html = zf.read("summary.html").decode("utf-8")
    total = 0
    for store in manifest["stores"]:
        assert store["records"] == sum(t["records"] for t in store["tables"]), store
        for table in store["tables"]:
            raw, rows = _csv(zf, table["csv"])
            assert raw.startswith(b"\xef\xbb\xbf"), table["csv"]  # Excel reads UTF-8
            assert rows[0] == [c["label"] for c in table["columns"]]
            assert len(rows) - 1 == table["records"] == len(json.loads(zf.read(table["json"])))
            assert table["purpose"] and table["purpose"] in html
            wavs = [n for n in zf.namelist() if n.startswith(f"{store['connector']}/files/")]
            if table["files"]:
                assert len(wavs) == table["files"]
            assert f"{table['csv']}: {table['records']}" in summary
        total += store["records"]
    assert total == manifest["records"]
    assert re.search(rf"(Tổng số bản ghi|Records in total): {total}\b", summary)

    crm = next(s for s in manifest["stores"] if s["connector"] == "crm")
    [customers] = crm["tables"]
    _, rows = _csv(zf, "crm/customers.csv")
    header = dict(zip([c["name"] for c in customers["columns"]], rows[0], strict=True))
    assert header["full_name"] == ("Họ tên" if language == "vi" else "Full name")
    created = rows[1][list(header).index("created_at")]
    assert LOCAL.fullmatch(created), created  # local time, offset shown
    stored = json.loads(zf.read("crm/customers.json"))[0]["created_at"]
    assert "+07:00" not in stored  # the JSON keeps the value as stored (UTC)
    assert customers["retention"] == {"days": 1096, "after": "last_activity_at", "then": "delete"}
    kept = (
        "36 tháng sau Hoạt động gần nhất" if language == "vi" else "36 months after Last activity"
    )
    assert kept in summary and kept in html

    orders = next(s for s in manifest["stores"] if s["connector"] == "orders")
    assert orders["recipients"] == ["Giao Hàng Nhanh (GHN)", "Viettel Post"]
    assert "Giao Hàng Nhanh (GHN), Viettel Post" in summary
    anonymised = "được ẩn danh hóa" if language == "vi" else "anonymised"
    assert f"10 {'năm' if language == 'vi' else 'years'}" in summary and anonymised in summary
    since = "thu thập từ ngày" if language == "vi" else "collected since"
    assert since in summary
    card = "4 số cuối thẻ" if language == "vi" else "Card, last 4 digits"
    assert card in _csv(zf, "orders/orders.csv")[1][0]
    assert "card_last4" not in _csv(zf, "orders/orders.csv")[1][0]


def test_the_readme_documents_the_manifest_schema() -> None:
    """Every key manifest.json carries is named in the README's schema of it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    schema = readme.split("### manifest.json")[1].split("\n## ")[0]
    for key in (
        "manifest_version", "request_id", "language", "timezone", "generated_at", "records",
        "stores", "connector", "label", "collected_from", "recipients", "tables", "table",
        "files", "json", "csv", "columns", "purpose", "retention", "days", "after", "then",
    ):  # fmt: skip
        assert f"`{key}`" in schema, key
