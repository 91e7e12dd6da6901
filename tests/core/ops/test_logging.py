"""Logging: one redacting chain for structlog and stdlib records, configured once per process."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import phonenumbers
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from dsr.core.ops.logs import RedactPII, configure_logging, get_logger

EMAILS = [
    "Nguyen.Van.A@Gmail.com",
    "NGUYEN.VAN.A@GMAIL.COM",
    "an.tran+dsr@gmail.com",
    "thu.nguyen@congty.com.vn",
    "lan@công-ty.vn",
    "ops_team@mail.example.co.uk",
]
PHONES = ["0912 345 678", "+84912345678", "84-912-345-678"]  # S8's three notations
DIGITS = "912345678"  # the national number all three share


@contextmanager
def rendered(fmt: str = "json", level: str = "DEBUG") -> Iterator[io.StringIO]:
    """Configure logging into a buffer, and put the root logger and structlog back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buf = io.StringIO()
    configure_logging(fmt, level, stream=buf)
    try:
        yield buf
    finally:
        for handler in root.handlers[:]:
            if handler not in saved_handlers:
                root.removeHandler(handler)
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
        logging.captureWarnings(False)
        structlog.reset_defaults()


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """JSON log output of the configured process, as text."""
    with rendered() as buf:
        yield buf


def lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def assert_clean(text: str) -> None:
    folded = text.casefold()
    for email in EMAILS:
        assert email.casefold() not in folded
        assert email.split("@")[0].casefold() not in folded
    assert DIGITS not in re.sub(r"[\s\-.()+]", "", text)


def boom(email: str, phone: str) -> None:
    raise ValueError(f"no customer {email} / {phone}")


@pytest.mark.parametrize("email", EMAILS)
def test_capture_logs_sees_emails_redacted(email: str) -> None:
    """With capture_logs(), an address in the event, a keyword value and a nested list is masked."""
    with capture_logs(processors=[RedactPII()]) as logs:
        get_logger("dsr.test").info(f"filed for {email}", to=email, cc=[{"addr": email}])
    assert logs[0]["event"] == "filed for [email]"
    assert logs[0]["to"] == "[email]"
    assert logs[0]["cc"] == [{"addr": "[email]"}]


@pytest.mark.parametrize("phone", PHONES)
def test_capture_logs_sees_phones_redacted(phone: str) -> None:
    """With capture_logs(), each S8 phone notation is masked wherever it appears."""
    with capture_logs(processors=[RedactPII()]) as logs:
        get_logger("dsr.test").info(f"call {phone} today", phone=phone, pair=("x", phone))
    assert logs[0]["event"] == "call [phone] today"
    assert logs[0]["phone"] == "[phone]"
    assert logs[0]["pair"] == ("x", "[phone]")


def test_structlog_output_has_no_pii(out: io.StringIO) -> None:
    """Every email and phone passed to a structlog logger is masked in the rendered JSON."""
    log = get_logger("dsr.core.intake.filing")
    for email in EMAILS:
        for phone in PHONES:
            log.info(f"submitted by {email}, phone {phone}", email=email, phones=[phone])
    assert_clean(out.getvalue())
    assert lines(out)[0]["event"] == "submitted by [email], phone [phone]"


@pytest.mark.parametrize("email", EMAILS)
@pytest.mark.parametrize("phone", PHONES)
def test_stdlib_dramatiq_logger_is_redacted(out: io.StringIO, email: str, phone: str) -> None:
    """A stdlib record from dramatiq's worker thread logger is masked, %-arguments included."""
    logging.getLogger("dramatiq.worker.WorkerThread").warning(
        "Failed to process message run_task(%s) for " + phone, email
    )
    [line] = lines(out)
    assert line["logger"] == "dramatiq.worker.WorkerThread"
    assert line["event"] == "Failed to process message run_task([email]) for [phone]"
    assert_clean(out.getvalue())


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_exception_tracebacks_are_redacted(fmt: str) -> None:
    """A traceback whose exception message holds an email and a phone is masked in either format."""
    with rendered(fmt) as buf:
        for phone in PHONES:
            try:
                boom(EMAILS[0], phone)
            except ValueError:
                logging.getLogger("apscheduler.executors.default").exception("job failed")
                get_logger("dsr.deliver").exception("send failed")
    text = buf.getvalue()
    assert text.count("Traceback (most recent call last)") == 2 * len(PHONES)
    assert "ValueError: no customer [email] / [phone]" in text
    assert_clean(text)


def test_chained_exception_is_redacted(out: io.StringIO) -> None:
    """Both halves of a chained exception ("during handling ...") are masked."""
    try:
        try:
            boom(EMAILS[2], PHONES[1])
        except ValueError as exc:
            raise RuntimeError(f"retry failed for {EMAILS[3]}") from exc
    except RuntimeError:
        get_logger("dsr.test").exception("gave up")
    assert "RuntimeError: retry failed for [email]" in out.getvalue()
    assert_clean(out.getvalue())


def test_ids_and_timestamps_survive(out: io.StringIO) -> None:
    """UUIDs (dashed, hex, objects), ISO timestamps, customer ids and counts are left alone."""
    request_id = uuid.uuid4()
    stamp = "2026-02-04T10:00:00.123456+00:00"
    get_logger("dsr.test").info(
        f"request {request_id} at {stamp}",
        request_id=str(request_id),
        hex_id=request_id.hex,
        obj=request_id,
        customer_id="KH000123",
        at=stamp,
        when=datetime(2026, 2, 4, tzinfo=UTC),
        records=1234,
        due="2026-02-14 16:59:59",
        epoch=1770000000,
    )
    [line] = lines(out)
    assert line["event"] == f"request {request_id} at {stamp}"
    assert line["request_id"] == str(request_id)
    assert line["hex_id"] == request_id.hex
    assert line["customer_id"] == "KH000123"
    assert line["at"] == stamp
    assert line["records"] == 1234
    assert line["due"] == "2026-02-14 16:59:59"
    assert line["epoch"] == 1770000000
    assert str(request_id) in line["obj"]


def test_awkward_values_are_redacted(out: io.StringIO) -> None:
    """Phones as ints or glued to a prefix, addresses as keys, in reprs or URL-encoded: masked."""

    class Customer:
        def __repr__(self) -> str:
            return "Customer(email='an.tran+dsr@gmail.com')"

    get_logger("dsr.test").info(
        "values",
        as_int=84912345678,
        by_key={EMAILS[4]: 1},
        obj=Customer(),
        glued="KH0912345678",
        url="/requests?email=an.tran%2Bdsr%40gmail.com",
    )
    [line] = lines(out)
    assert line["as_int"] == "[phone]"
    assert line["by_key"] == {"[email]": 1}
    assert line["obj"] == "Customer(email='[email]')"
    assert line["glued"] == "KH[phone]"
    assert line["url"] == "/requests?email=[email]"
    assert_clean(out.getvalue())


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a stream, logs go to the current sys.stderr and stdout stays free for --json."""
    root = logging.getLogger()
    saved = root.handlers[:]
    configure_logging()
    try:
        get_logger("cli.main").warning("oops", email=EMAILS[0], phone=PHONES[0])
        logging.getLogger("aiosmtplib").warning("to %s", EMAILS[1])
    finally:
        for handler in root.handlers[:]:
            if handler not in saved:
                root.removeHandler(handler)
        structlog.reset_defaults()
        logging.captureWarnings(False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 2
    assert "[email]" in captured.err and "[phone]" in captured.err
    assert_clean(captured.err)


def test_configuring_twice_does_not_duplicate_lines() -> None:
    """A second configure_logging() replaces the handler: each event is still written once."""
    with rendered() as first:
        buf = io.StringIO()
        configure_logging("json", "DEBUG", stream=buf)
        configure_logging("json", "DEBUG", stream=buf)
        get_logger("dsr.test").info("once")
        logging.getLogger("dramatiq").info("once too")
        ours = [h for h in logging.getLogger().handlers if getattr(h, "_dsr", False)]
    assert len(ours) == 1
    assert [line["event"] for line in lines(buf)] == ["once", "once too"]
    assert first.getvalue() == ""


def test_basic_config_handler_is_replaced() -> None:
    """A bare StreamHandler (basicConfig, dramatiq's CLI) is removed: nothing bypasses us."""
    raw = io.StringIO()
    root = logging.getLogger()
    root.addHandler(logging.StreamHandler(raw))
    with rendered() as buf:
        logging.getLogger("dramatiq").warning("to %s", EMAILS[0])
    assert raw.getvalue() == ""
    assert lines(buf)[0]["event"] == "to [email]"


def test_level_filters_both_kinds_of_logger() -> None:
    """Below the configured level, neither structlog nor stdlib records are written."""
    with rendered(level="WARNING") as buf:
        get_logger("dsr.test").info("quiet")
        logging.getLogger("apscheduler").info("quiet")
        get_logger("dsr.test").warning("loud")
    assert [line["event"] for line in lines(buf)] == ["loud"]


MOBILE_PREFIXES = ["32", "39", "56", "70", "77", "81", "86", "90", "91", "96", "98"]
FORMATS = [
    "0{p}{a}{b}",
    "0{p}{a1} {a2}{b1} {b2}",
    "+84{p}{a}{b}",
    "84-{p}{a1}-{a2}{b1}-{b2}",
    "+84 {p}{a1} {a2}{b1} {b2}",
    "(+84) {p}{a1}.{a2}{b1}.{b2}",
    "0{p}{a1}.{a2}{b1}.{b2}",
    "0084 {p} {a} {b}",
]
words = st.text(alphabet="abcdeghiklmnopqrstuvxyzăâđêôơưáàảãạếềểễệốồổỗộ ,.;:!?", max_size=30)


@st.composite
def vn_mobiles(draw: st.DrawFn) -> tuple[str, str]:
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    a, b = draw(st.from_regex(r"\A\d{3}\Z")), draw(st.from_regex(r"\A\d{4}\Z"))
    nsn = prefix + a + b
    text = draw(st.sampled_from(FORMATS)).format(
        p=prefix, a=a, b=b, a1=a[0], a2=a[1:], b1=b[:1], b2=b[1:]
    )
    return nsn, text


@settings(max_examples=150, deadline=None)
@given(number=vn_mobiles(), before=words, after=words, fmt=st.sampled_from(["json", "console"]))
def test_any_vn_mobile_in_any_notation_is_redacted(
    number: tuple[str, str], before: str, after: str, fmt: str
) -> None:
    """For any valid VN mobile in any notation inside random text, its digits never reach output."""
    nsn, text = number
    assert phonenumbers.is_valid_number(phonenumbers.parse(text, "VN"))
    with rendered(fmt) as buf:
        get_logger("dsr.test").info(f"{before} {text} {after}", phone=text)
        logging.getLogger("dramatiq.worker.WorkerThread").info("%s %s %s", before, text, after)
    # Our own timestamps are digits too: drop them before looking for the number's digits.
    text_out = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "", buf.getvalue())
    assert buf.getvalue().count("[phone]") == 3
    assert nsn not in re.sub(r"\D", "", text_out)
