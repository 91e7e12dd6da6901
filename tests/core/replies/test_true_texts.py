"""Texts that tell the truth: an acknowledgement names partners only as a possibility."""

from __future__ import annotations

from datetime import UTC, datetime

from dsr.core.replies.templates import ReplyContext, render_acknowledgement


def _text(lang: str) -> str:
    ctx = ReplyContext(
        request_id="ab" * 16,
        kind="erase",
        language=lang,
        company="Demo Company",
        received_at=datetime(2026, 3, 2, 3, tzinfo=UTC),
        due_at=datetime(2026, 3, 31, 16, 59, 59, tzinfo=UTC),
        changes={},
        subject_name=None,
        status_url=None,
    )
    message = render_acknowledgement(ctx, ["Giao Hàng Nhanh"])
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_erasure_acknowledgement_speaks_of_partners_only_conditionally() -> None:
    """Sent before anything is searched, it says partners act *if* they received data, never
    that they did (an address we hold nothing on must not read that partners have it)."""
    vi, en = _text("vi"), _text("en")
    assert "Nếu chúng tôi đang giữ dữ liệu của bạn và đã chuyển" in vi
    assert "các bên thứ ba đã nhận dữ liệu của bạn" not in vi
    assert "If we hold data of yours that we passed on to partners (Giao Hàng Nhanh)" in en
    assert "third parties that received your data" not in en
