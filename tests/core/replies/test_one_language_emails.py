"""One language per e-mail: every message the system writes, rendered in Vietnamese, holds no
English-only word of the interface (tables, actions, reasons, the certificate's parts), and its
dates are in the reader's format; the same messages render in English too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from config.settings import CONFIG_DIR
from connectors.base import Action, Operation, Outcome
from connectors.registry import read_entries
from connectors.sql_config import SqlConfig, parse_entry
from dsr.core.intake import complaints
from dsr.core.replies.bundle import build_bundle
from dsr.core.replies.export_notes import TableNotes
from dsr.core.replies.templates import (
    IdentifierView,
    StoreReport,
    render_acknowledgement,
    render_follow_up,
    render_notice,
    render_ops_alert,
    render_reminder,
    render_reply,
    render_summary,
    render_verification,
)
from tests.core.replies.test_replies import (
    NOTICES,
    PARTNERS,
    _access_stores,
    _ctx,
    _erase_stores,
    _rectify_stores,
    _result,
    _settings,
    _store,
)
from tests.one_language import ISO_TIME, english_on, visible

_COMMAND = re.compile(r"\bdsr [a-z][^\n<]*")  # a command ops type stays as the CLI spells it
IDENTS = [
    IdentifierView("email", "verified", "ng***@example.com"),
    IdentifierView("phone", "former", "+84 9** *** 678"),
    IdentifierView("customer_id", "derived", "KH****01"),
    IdentifierView("name", "asserted", "N***** T** M**"),
]


def _noted(stores: list[StoreReport], tmp: Path) -> list[StoreReport]:
    """The stores with their tables' titles, purposes and headings as connectors.yaml has them
    (as the pipeline's reports carry them)."""
    entries = read_entries(CONFIG_DIR / "connectors.yaml", data_dir=tmp)
    notes = {
        e["name"]: {
            t.name: TableNotes(purpose=dict(t.purpose), labels=dict(t.labels), title=dict(t.title))
            for t in parse_entry(SqlConfig, e).tables
        }
        for e in entries
        if e.get("kind") == "sql"
    }
    for store in stores:
        store.tables = notes[store.connector]
    return stores


def _messages(lang: str, tmp: Path) -> Iterator[tuple[str, EmailMessage | tuple[str, str]]]:
    """Every e-mail (and the export's summary) in ``lang``, named for the report."""
    links = {"status_url": "https://p.example/privacy/status/x", "not_me_url": "https://p/n"}
    for kind in ("access", "rectify", "erase", "complaint"):
        yield f"ack {kind}", render_acknowledgement(_ctx(kind, lang, **links), PARTNERS)
        yield f"code {kind}", render_verification(_ctx(kind, lang, **links), "123456", 24)
        yield f"code {kind} staff", render_verification(_ctx(kind, lang), "123456", 24)
    for when in ("due_soon", "overdue", "ack_overdue"):
        yield f"reminder {when}", render_reminder(_ctx("erase", lang), when)
    for what in ("needs_attention", "needs_review"):
        yield (
            f"alert {what}",
            render_ops_alert(_ctx("erase", lang), _noted(_erase_stores(), tmp), what),
        )
    for action in ("updated", "historical", "erased", "anonymised"):
        kind = "rectify" if action in ("updated", "historical") else "erase"
        yield f"notice {action}", render_notice(
            _ctx(kind, lang),
            recipient="Viettel Post",
            records=[{"label": "Mã đơn hàng" if lang == "vi" else "Order number",
                      "action": action, "references": ["DH00000002"]}],
            fields=["address", "phone", "name"],
            new_values={"address": "12 Lê Lợi"} if kind == "rectify" else {},
            reply_by=datetime(2026, 3, 7, 3, 0, tzinfo=UTC),
        )  # fmt: skip
    access = _ctx("access", lang, identifiers=IDENTS, unproven=["phone"])
    stores = _noted(_access_stores(tmp / lang), tmp)
    yield "summary", render_summary(access, stores)
    bundle = build_bundle(access, stores, export_dir=tmp / lang / "exports")
    yield "reply access attached", render_reply(access, stores, bundle=bundle, settings=_settings())
    linked = _settings(attach_limit_bytes=1)
    yield "reply access linked", render_reply(access, stores, bundle=bundle, settings=linked)
    yield "reply rectify", render_reply(
        _ctx("rectify", lang, changes={"phone": "0987654321"}, identifiers=IDENTS),
        _noted(_rectify_stores(), tmp), settings=_settings(), notices=NOTICES,
    )  # fmt: skip
    erase = _noted(_erase_stores(), tmp)
    checked = _result(Operation.ERASE, [Outcome("cdr", Action.ERASED, 2)])
    checked["searched"] = ["phone"]
    checked["remaining"] = [
        {"table": "cdr", "count": 1, "why": "review"},
        {"table": "cdr", "count": 1, "why": "kept"},
    ]
    erase[3] = _noted([_store("recordings", "done", checked)], tmp)[0]
    erase[3].excluded = [("shared_identifier", 1), ("other_account", 1), ("excluded", 1)]
    certificate = _ctx(
        "erase", lang, identifiers=IDENTS, unproven=["phone"], exports_removed=2,
        vouched_by="alice", approved_by="olga",
    )  # fmt: skip
    yield "reply erase", render_reply(certificate, erase, settings=_settings(), notices=NOTICES)
    yield "reply erase nothing", render_reply(
        _ctx("erase", lang), _noted([_store("crm", "done", _result(Operation.ERASE, [
            Outcome("customers", Action.NOT_FOUND, 0)]))], tmp), settings=_settings(),
    )  # fmt: skip
    erased = [  # as a sweep's follow-up batch holds them
        {"labels": {"vi": "Bán hàng", "en": "Shop"}, "table": "orders", "action": "anonymised",
         "count": 1, "titles": {"vi": "đơn hàng", "en": "orders"}}
    ]  # fmt: skip
    yield "follow-up erase", render_follow_up(_ctx("erase", lang), erased, NOTICES)  # fmt: skip
    for template in complaints.answer_templates():
        yield (
            f"answer {template}",
            complaints.render_answer(
                _ctx("complaint", lang), template, "Đã kiểm tra." if lang == "vi" else "Checked."
            ),
        )


def _texts(message: EmailMessage | tuple[str, str]) -> list[str]:
    if isinstance(message, tuple):
        return list(message)
    parts = [message.get_body(("plain",)), message.get_body(("html",))]
    return [str(message["Subject"])] + [str(p.get_content()) for p in parts if p is not None]


def test_every_email_in_vietnamese_has_no_english_word_and_reader_dates(tmp_path: Path) -> None:
    """Subject, plain text and HTML of every e-mail and the export's summary, in vi: no
    English-only token (commands for ops aside) and no ISO time; in en they render too."""
    problems: dict[str, list[str]] = {}
    for name, message in _messages("vi", tmp_path):
        for text in _texts(message):
            shown = _COMMAND.sub(" ", visible(text))
            found = english_on(shown) + ISO_TIME.findall(shown)
            if found:
                problems.setdefault(name, []).extend(found)
    assert problems == {}
    assert sum(1 for _ in _messages("en", tmp_path / "en")) > 20
