"""Replies to the data subject and ops: bundle, attachment vs link, certificates, no PII to ops."""

from __future__ import annotations

import csv
import json
import tracemalloc
import wave
import zipfile
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer

from config.settings import Settings
from connectors.base import Action, Operation, Outcome, TaskResult
from dsr.core.ledger import paths
from dsr.core.replies.bundle import build_bundle
from dsr.core.replies.links import make_download_token, read_download_token
from dsr.core.replies.templates import (
    NoticeView,
    ReplyContext,
    StoreReport,
    render_acknowledgement,
    render_ops_alert,
    render_reminder,
    render_reply,
    render_verification,
)
from dsr.errors import InvalidInput

REQUEST_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
SHORT = "0a1b2c3d"
LABELS = {
    "crm": {"vi": "Hồ sơ khách hàng (CRM)", "en": "Customer records (CRM)"},
    "newsletter": {"vi": "Danh sách nhận bản tin", "en": "Newsletter list"},
    "orders": {"vi": "Đơn hàng", "en": "Orders"},
    "recordings": {"vi": "Ghi âm cuộc gọi hỗ trợ", "en": "Support call recordings"},
}
PARTNERS = ["Giao Hàng Nhanh (GHN)", "Viettel Post"]
LEGAL_BASIS = "Luật Kế toán 2015, Điều 41: chứng từ kế toán lưu trữ 10 năm"
HOLD_REASON = "Đang giải quyết tranh chấp hợp đồng TC-2026-07"
NAME = "Nguyễn Thị Hồng Nhung"
EMAIL = "hong.nhung@example.vn"
PHONE = "+84912345678"


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": "test-secret-key-0123456789",
        "public_base_url": "https://privacy.example.vn",
        "company_name": "Demo Company",
    }
    return Settings(**(values | overrides))


def _ctx(kind: str, language: str = "vi", **overrides: Any) -> ReplyContext:
    values: dict[str, Any] = {
        "request_id": REQUEST_ID,
        "kind": kind,
        "language": language,
        "company": "Demo Company",
        "received_at": datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        "due_at": datetime(2026, 3, 16, 16, 59, tzinfo=UTC),  # 23:59 in Hà Nội
        "changes": {},
        "subject_name": NAME,
    }
    return ReplyContext(**(values | overrides))


WAV = "recordings/files/cdr/2025/11/20/call-1.wav"  # a call's recording in the bundle


def _write_wav(path: Path, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * int(8000 * seconds))


def _stage(root: Path, connector: str, tables: dict[str, list[dict[str, Any]]],
           files: tuple[str, ...] = ()) -> Path:  # fmt: skip
    folder = root / "staging" / connector
    folder.mkdir(parents=True)
    for table, rows in tables.items():
        (folder / f"{table}.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
        with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    for name in files:  # the files a table's rows name, as the connector stages them
        _write_wav(folder / "files" / name)
    return folder


def _result(
    op: Operation, outcomes: list[Outcome], collected_from: str | None = None
) -> dict[str, Any]:
    records = sum(o.count for o in outcomes)
    return TaskResult(op, records, outcomes, collected_from=collected_from).to_json()


def _store(connector: str, status: str, result: dict[str, Any] | None, *,
           staging: Path | None = None, reason: str | None = None,
           recipients: list[str] | None = None) -> StoreReport:  # fmt: skip
    return StoreReport(
        connector=connector,
        labels=LABELS[connector],
        status=status,
        result=result,
        recipients=recipients or [],
        staging=staging,
        reason=reason,
    )


def _access_stores(root: Path) -> list[StoreReport]:
    crm = _stage(root, "crm", {"customers": [
        {"customer_id": "C001", "full_name": NAME, "email": EMAIL, "phone": PHONE},
    ]})  # fmt: skip
    orders = _stage(root, "orders", {
        "orders": [{"id": 1, "recipient_name": NAME, "total": 450000},
                   {"id": 2, "recipient_name": NAME, "total": 120000}],
        "order_items": [{"id": 10, "order_id": 1, "sku": "KH-01"}],
    })  # fmt: skip
    calls = _stage(root, "recordings", {"cdr": [
        {"uniqueid": "call-1", "src": PHONE, "recordingfile": "2025/11/20/call-1.wav"},
    ]}, files=("cdr/2025/11/20/call-1.wav",))  # fmt: skip
    return [
        _store("crm", "done", _result(Operation.ACCESS, [
            Outcome("customers", Action.EXPORTED, 1)], "2023-05-01T02:00:00+00:00"), staging=crm),
        _store("orders", "done", _result(Operation.ACCESS, [
            Outcome("orders", Action.EXPORTED, 2), Outcome("order_items", Action.EXPORTED, 1)],
            "2024-01-15T08:30:00+00:00"), staging=orders, recipients=PARTNERS),
        _store("recordings", "done", _result(Operation.ACCESS, [
            Outcome("cdr", Action.EXPORTED, 1)], "2025-11-20T01:00:00+00:00"), staging=calls),
        _store("newsletter", "skipped", None, reason="Không lưu số điện thoại"),
    ]  # fmt: skip


def _bodies(msg: EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def _access_reply(
    ctx: ReplyContext, stores: list[StoreReport], export_dir: Path, **kw: Any
) -> EmailMessage:
    """An access reply as the aggregator makes it: the bundle first, then the e-mail."""
    return render_reply(ctx, stores, bundle=build_bundle(ctx, stores, export_dir=export_dir), **kw)


def test_access_bundle_holds_every_store_file_audio_and_vietnamese_summary(tmp_path: Path) -> None:
    """The ZIP holds each store's JSON and CSV in its folder, the WAVs, a vi summary with counts."""
    stores = _access_stores(tmp_path)
    path = build_bundle(_ctx("access"), stores, export_dir=tmp_path / "exports")
    assert path == tmp_path / "exports" / REQUEST_ID / "bundle.zip"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {
            "crm/customers.json", "crm/customers.csv",
            "orders/orders.json", "orders/orders.csv",
            "orders/order_items.json", "orders/order_items.csv",
            "recordings/cdr.json", "recordings/cdr.csv", WAV,
            "summary.txt", "summary.html", "manifest.json",
        } == names  # fmt: skip
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
        assert json.loads(zf.read("crm/customers.json"))[0]["full_name"] == NAME
        wav = zf.read(WAV)
        assert wav == (tmp_path / "staging" / WAV).read_bytes()
        summary = zf.read("summary.txt").decode("utf-8")
        html = zf.read("summary.html").decode("utf-8")
    assert "TÓM TẮT DỮ LIỆU CÁ NHÂN" in summary
    assert "Hồ sơ khách hàng (CRM) (thư mục crm/): 1 bản ghi" in summary
    assert "thu thập từ ngày 01/05/2023" in summary
    assert "Đơn hàng (thư mục orders/): 3 bản ghi" in summary
    assert "orders/orders.csv: 2 bản ghi" in summary
    assert "Danh sách nhận bản tin: Không lưu số điện thoại" in summary
    assert "Tổng số bản ghi: 5" in summary
    assert '<html lang="vi">' in html and "Tóm tắt dữ liệu cá nhân" in html


def test_failed_store_is_never_described_as_empty(tmp_path: Path) -> None:
    """A failed store's partial files stay out of the ZIP; the summary says it was not searched."""
    stores = _access_stores(tmp_path)
    partial = _stage(tmp_path, "newsletter", {"subscribers": [{"email": EMAIL}]})
    stores[3] = _store("newsletter", "failed", None, staging=partial)
    path = build_bundle(_ctx("access"), stores, export_dir=tmp_path / "exports")
    with zipfile.ZipFile(path) as zf:
        assert not any(n.startswith("newsletter/") for n in zf.namelist())
        summary = zf.read("summary.txt").decode("utf-8")
    failed_part = summary.split("CHƯA tìm kiếm được")[1]
    assert "Danh sách nhận bản tin" in failed_part
    assert "không có nghĩa là không có dữ liệu" in failed_part
    searched_part = summary.split("Dữ liệu chúng tôi đang giữ về bạn:")[1].split("CHƯA")[0]
    assert "Danh sách nhận bản tin" not in searched_part


def test_rebuilding_the_bundle_replaces_it_atomically(tmp_path: Path) -> None:
    """A second build overwrites the first with the new contents and leaves no temporary file."""
    stores = _access_stores(tmp_path)
    export_dir = tmp_path / "exports"
    build_bundle(_ctx("access"), stores[:1], export_dir=export_dir)
    path = build_bundle(_ctx("access"), stores, export_dir=export_dir)
    assert sorted(p.name for p in path.parent.iterdir()) == ["bundle.zip"]
    with zipfile.ZipFile(path) as zf:
        assert WAV in zf.namelist()
    with pytest.raises(InvalidInput):
        paths.bundle(export_dir, "../elsewhere")


def test_small_bundle_is_attached_to_the_vietnamese_reply(tmp_path: Path) -> None:
    """Under the size limit the ZIP is attached as du-lieu-ca-nhan-<short id>.zip; stores listed."""
    stores = _access_stores(tmp_path)
    msg = _access_reply(_ctx("access"), stores, tmp_path / "exports", settings=_settings())
    assert msg["Subject"] == (
        f"[Demo Company] Yêu cầu truy cập dữ liệu cá nhân {SHORT}: dữ liệu của bạn"
    )
    attachments = list(msg.iter_attachments())
    assert len(attachments) == 1
    part = attachments[0]
    assert part.get_content_type() == "application/zip"
    assert part.get_filename() == f"du-lieu-ca-nhan-{SHORT}.zip"
    assert part.get_content() == paths.bundle(tmp_path / "exports", REQUEST_ID).read_bytes()
    text, html = _bodies(msg)
    assert f"Chào {NAME}," in text
    assert "Hồ sơ khách hàng (CRM): đã tìm kiếm, 1 bản ghi, thu thập từ ngày 01/05/2023" in text
    assert "Ghi âm cuộc gọi hỗ trợ: đã tìm kiếm, 1 bản ghi" in text
    assert "(5 bản ghi tổng cộng)" in text
    assert f"du-lieu-ca-nhan-{SHORT}.zip" in html
    assert "/exports/" not in text


def test_large_bundle_is_linked_with_a_signed_expiring_token(tmp_path: Path) -> None:
    """Over the size limit the reply carries a link whose token reads back to the request id."""
    stores = _access_stores(tmp_path)
    settings = _settings(attach_limit_bytes=10)
    now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    msg = _access_reply(_ctx("access"), stores, tmp_path / "exports",
                       settings=settings, now=now)  # fmt: skip
    assert list(msg.iter_attachments()) == []
    text, html = _bodies(msg)
    prefix = "https://privacy.example.vn/exports/"
    link = next(line for line in text.splitlines() if line.startswith(prefix))
    token = link.removeprefix(prefix)
    assert read_download_token(token, settings, now=now + timedelta(days=1)) == REQUEST_ID
    assert "liên kết hết hạn vào ngày 17/03/2026" in text  # 7 days after `now`
    assert f'href="{link}"' in html


def test_download_token_round_trips_and_refuses_tampering(tmp_path: Path) -> None:
    """A token reads back to its id; an altered one, another key's or another salt's is refused."""
    settings = _settings()
    token = make_download_token(REQUEST_ID, settings)
    assert read_download_token(token, settings) == REQUEST_ID
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged = URLSafeTimedSerializer(settings.keys.links.current, salt="verify").dumps(REQUEST_ID)
    other_key = make_download_token(REQUEST_ID, _settings(secret_key="another-secret-key-98765"))
    for bad in (tampered, forged, other_key, "not-a-token", ""):
        with pytest.raises(InvalidInput):
            read_download_token(bad, settings)


def test_expired_download_token_is_refused() -> None:
    """A token older than download_link_ttl_seconds is refused; one just inside is read."""
    settings = _settings(download_link_ttl_seconds=3600)
    now = datetime.now(UTC)
    old = make_download_token(REQUEST_ID, settings, now=now - timedelta(seconds=3601))
    with pytest.raises(InvalidInput, match="expired"):
        read_download_token(old, settings)
    fresh = make_download_token(REQUEST_ID, settings, now=now - timedelta(seconds=3500))
    assert read_download_token(fresh, settings) == REQUEST_ID


def test_english_access_reply_and_summary(tmp_path: Path) -> None:
    """An English request gets an English body, personal-data-<short id>.zip, English summary."""
    stores = _access_stores(tmp_path)
    msg = _access_reply(_ctx("access", "en"), stores, tmp_path / "exports",
                       settings=_settings())  # fmt: skip
    assert msg["Subject"] == f"[Demo Company] Your personal data access request {SHORT}"
    part = next(msg.iter_attachments())
    assert part.get_filename() == f"personal-data-{SHORT}.zip"
    text, _ = _bodies(msg)
    assert "Customer records (CRM): searched, 1 record, collected since 1 May 2023" in text
    assert "Newsletter list: not searched: Không lưu số điện thoại" in text
    with zipfile.ZipFile(paths.bundle(tmp_path / "exports", REQUEST_ID)) as zf:
        summary = zf.read("summary.txt").decode("utf-8")
    assert "PERSONAL DATA SUMMARY" in summary and "Orders (folder orders/): 3 records" in summary


def _rectify_stores() -> list[StoreReport]:
    return [
        _store("crm", "done", _result(Operation.RECTIFY, [
            Outcome("customers", Action.UPDATED, 1, fields=["phone", "address"])])),
        _store("newsletter", "done", _result(Operation.RECTIFY, [
            Outcome("subscribers", Action.UNCHANGED, 0, fields=["phone", "address"])]),
            recipients=["Mailchimp"]),
        _store("orders", "done", _result(Operation.RECTIFY, [
            Outcome("orders", Action.UPDATED, 1, fields=["phone", "address"]),
            Outcome("orders", Action.HISTORICAL, 3)]), recipients=PARTNERS),
        _store("recordings", "done", _result(Operation.RECTIFY, [
            Outcome("cdr", Action.HISTORICAL, 2)])),
    ]  # fmt: skip


SENT_AT = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
NOTICES = [
    NoticeView("Giao Hàng Nhanh (GHN)", "sent", SENT_AT, None, 1),
    NoticeView("Viettel Post", "not_needed", None, "no_records", 0),
]


def test_rectify_confirmation_names_historical_records_and_partners(tmp_path: Path) -> None:
    """The vi confirmation shows what changed where, what stayed as history, and whom we told."""
    changes = {"phone": "0987 654 321", "address": "12 Lê Lợi, Phường Bến Nghé, Quận 1"}
    msg = render_reply(_ctx("rectify", changes=changes), _rectify_stores(),
                       settings=_settings(), notices=NOTICES)  # fmt: skip
    assert msg["Subject"] == (
        f"[Demo Company] Yêu cầu chỉnh sửa dữ liệu cá nhân {SHORT}: xác nhận đã chỉnh sửa"
    )
    text, html = _bodies(msg)
    assert "số điện thoại: 0987 654 321" in text
    assert "địa chỉ: 12 Lê Lợi, Phường Bến Nghé, Quận 1" in text
    assert "Hồ sơ khách hàng (CRM), bảng customers: số điện thoại, địa chỉ (1 bản ghi)" in text
    assert "Đơn hàng, bảng orders: 3 bản ghi là hồ sơ lịch sử" in text
    assert "đơn hàng đã giao, ghi âm cuộc gọi" in text and "không được ghi đè" in text
    assert "Ghi âm cuộc gọi hỗ trợ, bảng cdr: 2 bản ghi là hồ sơ lịch sử" in text
    assert "Danh sách nhận bản tin, bảng subscribers: không thay đổi" in text
    told = text.split("Các bên thứ ba đã nhận dữ liệu của bạn:")[1]
    assert "Giao Hàng Nhanh (GHN): đã được chúng tôi thông báo ngày 05/03/2026" in told
    assert "Viettel Post: không cần thông báo" in told
    assert "sẽ được chúng tôi thông báo" not in text  # no promise of what nothing does
    assert "Mailchimp" not in text  # not a recipient of this request's notices
    assert "Giao Hàng Nhanh (GHN)" in html


def test_rectify_confirmation_in_english(tmp_path: Path) -> None:
    """The English confirmation says history was not rewritten and whom we told, and when."""
    msg = render_reply(_ctx("rectify", "en", changes={"phone": "0987654321"}), _rectify_stores(),
                       settings=_settings(), notices=NOTICES)  # fmt: skip
    assert msg["Subject"] == (
        f"[Demo Company] Your personal data correction request {SHORT}: confirmation"
    )
    text, _ = _bodies(msg)
    assert "phone number: 0987654321" in text
    assert "Orders, table orders: 3 records are historical records" in text
    assert "were not rewritten" in text
    told = text.split("Third parties that received your data:")[1]
    assert "Giao Hàng Nhanh (GHN): told by us on 5 March 2026 (1 record they received)" in told
    assert "Viettel Post: not told (it received none of the data that changed)" in told
    assert "will tell" not in text


def _erase_stores() -> list[StoreReport]:
    return [
        _store("crm", "done", _result(Operation.ERASE, [Outcome("customers", Action.ERASED, 1)])),
        _store("newsletter", "done", _result(Operation.ERASE, [
            Outcome("subscribers", Action.ERASED, 1)])),
        _store("orders", "done", _result(Operation.ERASE, [
            Outcome("orders", Action.ANONYMISED, 2, legal_basis=LEGAL_BASIS,
                    retained_until="2035-12-31"),
            Outcome("order_items", Action.RETAINED, 5, legal_basis=LEGAL_BASIS,
                    retained_until="2035-12-31")])),
        _store("recordings", "skipped", None, reason=HOLD_REASON),
    ]  # fmt: skip


def test_erase_certificate_lists_anonymised_orders_and_a_deferred_store(tmp_path: Path) -> None:
    """The vi certificate gives per-table results, legal basis, retention end and hold reason."""
    now = datetime(2026, 3, 12, 4, 0, tzinfo=UTC)
    msg = render_reply(_ctx("erase"), _erase_stores(), settings=_settings(), now=now)  # fmt: skip
    assert msg["Subject"] == (
        f"[Demo Company] Yêu cầu xóa dữ liệu cá nhân {SHORT}: giấy xác nhận xóa dữ liệu"
    )
    text, html = _bodies(msg)
    assert "GIẤY XÁC NHẬN XÓA DỮ LIỆU CÁ NHÂN" in text
    assert f"Mã yêu cầu: {REQUEST_ID}" in text
    assert "Ngày nhận yêu cầu: 02/03/2026" in text and "Ngày cấp giấy xác nhận: 12/03/2026" in text
    assert "bảng customers: đã xóa 1 bản ghi" in text
    assert "bảng orders: đã ẩn danh hóa 2 bản ghi" in text
    assert "bảng order_items: lưu giữ 5 bản ghi theo nghĩa vụ pháp lý" in text
    assert f"Căn cứ pháp lý: {LEGAL_BASIS}." in text
    assert "Thời hạn lưu giữ kết thúc ngày 31/12/2035" in text
    assert f"tạm hoãn, chưa xóa: {HOLD_REASON}" in text
    assert "danh sách chặn" in text
    assert "không thay đổi gì" not in text
    assert "31/12/2035" in html and HOLD_REASON in html


def test_erase_certificate_in_english_with_a_deferred_outcome(tmp_path: Path) -> None:
    """The English certificate shows a DEFERRED outcome (hold or open order) with its reason."""
    stores = _erase_stores()
    stores[3] = _store("recordings", "done", _result(Operation.ERASE, [
        Outcome("cdr", Action.DEFERRED, 2, reason="contract dispute TC-2026-07")]))  # fmt: skip
    msg = render_reply(_ctx("erase", "en"), stores, settings=_settings())
    assert msg["Subject"] == (
        f"[Demo Company] Your personal data erasure request {SHORT}: erasure certificate"
    )
    text, _ = _bodies(msg)
    assert "table orders: anonymised 2 records" in text
    assert "Retention ends on 31 December 2035" in text
    assert "table cdr: deferred, 2 records not yet erased" in text
    assert "reason: contract dispute TC-2026-07" in text
    assert "suppression list" in text and "nothing changed" not in text


def test_repeat_erasure_says_nothing_remained(tmp_path: Path) -> None:
    """An erasure that finds nothing anywhere says no personal data remained and nothing changed."""
    stores = [
        _store(name, "done", _result(Operation.ERASE, [Outcome(table, Action.NOT_FOUND, 0)]))
        for name, table in (("crm", "customers"), ("newsletter", "subscribers"),
                            ("orders", "orders"), ("recordings", "cdr"))
    ]  # fmt: skip
    msg = render_reply(_ctx("erase"), stores, settings=_settings())
    text, _ = _bodies(msg)
    assert "Không còn dữ liệu cá nhân nào của bạn" in text and "không thay đổi gì" in text
    assert "đã xóa" not in text
    text_en, _ = _bodies(render_reply(_ctx("erase", "en"), stores, settings=_settings()))
    assert "No personal data about you remained in our stores; nothing changed" in text_en


def test_html_part_escapes_the_subjects_own_values(tmp_path: Path) -> None:
    """A name or new value containing <script> is escaped in HTML, kept verbatim in plain text."""
    evil = "<script>alert('x')</script>"
    ctx = _ctx("rectify", subject_name=evil, changes={"address": f"{evil} 5 Hàng Bài"})
    msg = render_reply(ctx, _rectify_stores(), settings=_settings())
    text, html = _bodies(msg)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert evil in text
    for extra in (render_acknowledgement(ctx), render_verification(ctx, "123456", 24)):
        assert "<script>" not in _bodies(extra)[1]


def test_ops_alert_names_failed_connectors_without_personal_data(tmp_path: Path) -> None:
    """The needs-attention alert names the failed connector and request id, no name/email/phone."""
    ctx = _ctx("rectify", changes={"email": EMAIL, "phone": PHONE})
    stores = _access_stores(tmp_path)
    stores[0].reason = f"hold for {NAME} {EMAIL}"
    stores[3] = _store("newsletter", "failed", None, reason=f"timeout for {EMAIL}")
    msg = render_ops_alert(ctx, stores, "needs_attention")
    text, html = _bodies(msg)
    assert SHORT in msg["Subject"]
    assert (
        "Danh sách nhận bản tin" in text.split("Các kho dữ liệu bị lỗi:")[1].split("Trạng thái")[0]
    )
    assert REQUEST_ID in text and REQUEST_ID in html
    for body in (text, html, str(msg["Subject"])):
        for personal in (NAME, EMAIL, PHONE, "0912345678", "Nguyễn"):
            assert personal not in body
    en_text, _ = _bodies(render_ops_alert(ctx, stores, "needs_attention", language="en"))
    assert "Failed connectors:" in en_text and EMAIL not in en_text


def test_reminders_carry_dates_and_no_personal_data() -> None:
    """Watchdog reminders say due soon / overdue / acknowledgement overdue with ids only."""
    ctx = _ctx("erase", changes={"phone": PHONE})
    overdue = render_reminder(ctx, "overdue")
    assert overdue["Subject"] == f"[Demo Company] Nhắc hạn: yêu cầu {SHORT} đã quá hạn trả lời"
    text, html = _bodies(overdue)
    assert "Hạn trả lời: 16/03/2026" in text
    assert NAME not in text + html and PHONE not in text + html
    soon = render_reminder(ctx, "due_soon", language="en")
    assert soon["Subject"] == f"[Demo Company] Reminder: request {SHORT}: reply due soon"
    late_ack = render_reminder(ctx, "ack_overdue", language="en")
    assert "acknowledgement overdue" in _bodies(late_ack)[0]


def test_acknowledgement_and_verification_code() -> None:
    """The acknowledgement gives the due date as dd/mm/yyyy; verification carries code and TTL."""
    ack = render_acknowledgement(_ctx("access"))
    assert ack["Subject"] == f"[Demo Company] Đã nhận yêu cầu truy cập dữ liệu cá nhân {SHORT}"
    text, _ = _bodies(ack)
    assert "chậm nhất ngày 16/03/2026" in text and "vào ngày 02/03/2026" in text
    en_text, _ = _bodies(render_acknowledgement(_ctx("erase", "en")))
    assert "Reply due by: 16 March 2026" in en_text
    code = render_verification(_ctx("erase"), "482913", 24)
    assert SHORT in code["Subject"]
    text, html = _bodies(code)
    assert "Mã xác minh của bạn: 482913" in text and "24 giờ" in text and "482913" in html


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    """A reply for a kind that does not exist is bad input, not an empty e-mail."""
    with pytest.raises(InvalidInput):
        render_reply(_ctx("restrict"), [], settings=_settings())


def test_bundle_streams_a_large_store_file(tmp_path: Path) -> None:
    """Bundling a 50 MB recording keeps peak memory under 20 MB: files are copied in chunks."""
    staging = tmp_path / "staging" / "recordings"
    (staging / "files" / "cdr").mkdir(parents=True)
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with (staging / "files" / "cdr" / "long.wav").open("wb") as out:
        for _ in range(50):
            out.write(chunk)
    (staging / "cdr.json").write_text("[]", "utf-8")
    stores = [_store("recordings", "done", _result(Operation.ACCESS, [
        Outcome("cdr", Action.EXPORTED, 1)]), staging=staging)]  # fmt: skip
    tracemalloc.start()
    try:
        path = build_bundle(_ctx("access"), stores, export_dir=tmp_path / "exports")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("recordings/files/cdr/long.wav").file_size == 50 * 1024 * 1024


def test_certificate_says_what_was_searched_left_out_and_removed() -> None:
    """The certificate lists the identifiers searched (masked, with provenance), per store the
    kinds it was searched by and the records left out with the reason, the earlier exports
    deleted, and that unproven identifiers find nothing on their own; in vi and en."""
    from dsr.core.replies.templates import IdentifierView

    idents = [
        IdentifierView("email", "verified", "ng***@example.com"),
        IdentifierView("phone", "former", "+84 9** *** 678"),
        IdentifierView("customer_id", "derived", "KH****01"),
    ]
    stores = _erase_stores()
    result = _result(Operation.ERASE, [Outcome("cdr", Action.ERASED, 2)])
    result["searched"] = ["phone"]
    stores[3] = _store("recordings", "done", result)
    stores[3].excluded = [("shared_identifier", 1)]
    expected = {
        "vi": ("+84 9** *** 678 (thông tin cũ của tài khoản bạn)", "tìm theo số điện thoại",
               "1 bản ghi không được đưa vào (chỉ khớp với thông tin mà một tài khoản khác",
               "2 bản xuất dữ liệu trước đây", "chưa được xác minh (số điện thoại)"),
        "en": ("+84 9** *** 678 (a former detail of your account)", "searched by phone number",
               "1 record not included (found only through a detail another account also uses)",
               "2 earlier exports of your data", "not verified (phone number)"),
    }  # fmt: skip
    for lang, needles in expected.items():
        ctx = _ctx("erase", lang, identifiers=idents, unproven=["phone"], exports_removed=2)
        text, html = _bodies(render_reply(ctx, stores, settings=_settings()))
        for needle in needles:
            assert needle in text, (lang, needle)
        assert "ng***@example.com" in html and "nguyen" not in text.casefold()


def test_ops_alert_for_review_shows_no_identifier() -> None:
    """The needs_review alert to ops names the command, never an identifier or a count left out."""
    from dsr.core.replies.templates import IdentifierView

    ctx = _ctx("erase", identifiers=[IdentifierView("email", "verified", "ng***@example.com")])
    stores = _erase_stores()
    stores[0].excluded = [("other_account", 1)]
    text, html = _bodies(render_ops_alert(ctx, stores, "needs_review"))
    assert f"dsr review {REQUEST_ID}" in text
    assert "ng***" not in text + html and "other_account" not in text
