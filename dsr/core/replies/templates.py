"""The e-mails the data subject and ops receive, rendered in vi or en from ``config/templates``.

Every function is pure: it returns an ``EmailMessage`` with a Subject and a plain-text body plus
an HTML alternative (Jinja2, autoescaped); the caller sets Message-ID, From and To. Wording lives
in the templates (``<name>.<lang>.txt|html``, shared phrases in ``_words.<lang>.j2``) so that it
can be edited without touching code. Ops messages carry ids, kinds, dates and connector names
only, never personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from config.settings import CONFIG_DIR, Settings
from dsr.core.ledger.models import LANGUAGES
from dsr.core.replies import export_notes, links
from dsr.errors import InvalidInput
from dsr.objects import Blob

TEMPLATE_DIR = CONFIG_DIR / "templates"
# Dates are shown on the company's clock (Vietnam has no daylight saving, so a fixed offset is
# exact); a deadline at 23:59 ICT must not be shown as the previous day in UTC.
DISPLAY_TZ = timezone(timedelta(hours=7), "ICT")
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
ATTACHMENT_NAMES = {"vi": "du-lieu-ca-nhan-{}.zip", "en": "personal-data-{}.zip"}


@dataclass
class StoreReport:
    """What one connector's task did for a request, as the reply needs it."""

    connector: str  # e.g. "crm"
    labels: dict[str, str]  # {"vi": ..., "en": ...}
    status: str  # task status: "done" | "skipped" | "failed"
    result: dict[str, Any] | None  # TaskResult.to_json() of that task (None if failed/skipped)
    recipients: list[str]  # third parties that received this store's data
    staging: Path | None  # folder with this connector's export files (access only)
    reason: str | None = None  # why skipped / deferred (e.g. legal hold reason)
    # Records not included, hit by a proven identifier: (reason, count); reasons as
    # candidates.EXPLANATIONS (other_account, shared_identifier, excluded by staff).
    excluded: list[tuple[str, int]] = field(default_factory=list)
    # With a bucket (DSR_EXPORT_URL): the key prefix of this connector's export files there.
    staged: str | None = None
    # Per table: purpose, column headings, retention (the access export's summary and CSVs).
    tables: dict[str, export_notes.TableNotes] = field(default_factory=dict)


@dataclass
class IdentifierView:
    """One identifier the request searched by, as the subject may see it (masked)."""

    kind: str
    provenance: str
    value: str


@dataclass
class ReplyContext:
    """The request facts every message shows."""

    request_id: str
    kind: str  # access | rectify | erase
    language: str  # vi | en
    company: str  # settings.company_name
    received_at: datetime
    due_at: datetime
    changes: dict[str, str]  # rectify only: field -> new value
    subject_name: str | None = None
    identifiers: list[IdentifierView] = field(default_factory=list)  # what was searched by
    unproven: list[str] = field(default_factory=list)  # kinds given but not proven
    exports_removed: int = 0  # erase: earlier exports deleted and their links revoked
    status_url: str | None = None  # filed at the privacy center: the request's status link
    not_me_url: str | None = None  # acknowledgement and code: "this was not me" (mailboxes.py)
    # Four eyes (dsr/core/intake/approval.py): the staff member who vouched, and the approver.
    vouched_by: str | None = None
    approved_by: str | None = None


@dataclass
class OutcomeView:
    """One table's outcome, read back from ``TaskResult.to_json()``."""

    table: str
    action: str
    count: int
    fields: list[str] = field(default_factory=list)
    legal_basis: str | None = None
    retained_until: str | None = None
    reason: str | None = None
    title: str | None = None  # the table as the reader calls it (``title`` in connectors.yaml)


@dataclass(frozen=True)
class RemainingView:
    """Records an erasure's check still reached in one table, and why they remain."""

    table: str
    count: int
    why: str
    title: str | None = None


@dataclass
class StoreView:
    """One store as the templates show it, its label already in the message's language."""

    connector: str
    label: str
    status: str
    reason: str | None
    recipients: list[str]
    records: int
    collected_from: str | None
    outcomes: list[OutcomeView]
    searched: list[str] = field(default_factory=list)  # identifier kinds it was searched by
    excluded: list[tuple[str, int]] = field(default_factory=list)
    # erase: what the search after it still reached (table, count, why); None: not checked
    remaining: list[RemainingView] | None = None
    # access: each exported table with its purpose, files and retention (export_notes)
    tables: list[export_notes.TableView] = field(default_factory=list)


@dataclass
class NoticeView:
    """A third party's notice as the subject's reply lists it."""

    name: str
    status: str  # sent | not_needed (a reply waits while any other)
    sent_at: datetime | None
    reason: str | None  # not_needed: no_records | not_required
    records: int


def short_id(request_id: str) -> str:
    """The first 8 characters of a request id, shown in every subject line."""
    return request_id[:8]


def language_of(ctx: ReplyContext) -> str:
    """The message language: the request's when supported, else Vietnamese."""
    lang = (ctx.language or "").lower()[:2]
    return lang if lang in LANGUAGES else "vi"


def _as_datetime(value: object) -> date | None:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(DISPLAY_TZ).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            if len(value) == 10:  # a bare date (e.g. retained_until) has no clock to convert
                return date.fromisoformat(value)
            return _as_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def format_date(value: object, lang: str) -> str:
    """A date in the reader's convention: vi dd/mm/yyyy, en "5 March 2026"."""
    day = _as_datetime(value)
    if day is None:
        return "" if value is None else str(value)
    if lang == "vi":
        return day.strftime("%d/%m/%Y")
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


@pass_context
def _date_filter(context: Context, value: object, lang: str | None = None) -> str:
    # Imported macro files see no render context, so they name their language explicitly.
    return format_date(value, lang or str(context.get("lang", "vi")))


@lru_cache(maxsize=2)
def _environment(html: bool) -> Environment:
    # One environment per output format rather than autoescape by file name: the shared
    # phrase macros (``_words.*.j2``) must escape what they interpolate when called from HTML,
    # and escaping is compiled into a template, so the HTML world escapes every template.
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the package's templates do not change under a running worker
    )
    env.filters["date"] = _date_filter
    return env


def render_pair(name: str, lang: str, **values: Any) -> tuple[str, str]:
    """Render ``<name>.<lang>.txt`` and ``<name>.<lang>.html`` (escaped) with the same values."""
    text = _environment(False).get_template(f"{name}.{lang}.txt").render(lang=lang, **values)
    html = _environment(True).get_template(f"{name}.{lang}.html").render(lang=lang, **values)
    return text, html


def _subject(message: str, lang: str, **values: Any) -> str:
    raw = (
        _environment(False)
        .get_template(f"subject.{lang}.txt")
        .render(message=message, lang=lang, **values)
    )
    return " ".join(raw.split())  # one header line whatever the template's layout


def _message(subject: str, text: str, html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _compose(name: str, ctx: ReplyContext, lang: str, **values: Any) -> EmailMessage:
    common = {"ctx": ctx, "company": ctx.company, "short_id": short_id(ctx.request_id)}
    text, html = render_pair(name, lang, **common, **values)
    return _message(_subject(name, lang, **common, **values), text, html)


def store_views(stores: list[StoreReport], lang: str) -> list[StoreView]:
    """The stores as templates show them (labels in ``lang``, outcomes as plain objects)."""
    views = []
    for store in stores:
        result = store.result or {}
        outcomes = [
            OutcomeView(
                table=str(o.get("table", "")),
                action=str(o.get("action", "")),
                count=int(o.get("count") or 0),
                fields=list(o.get("fields") or []),
                legal_basis=o.get("legal_basis"),
                retained_until=o.get("retained_until"),
                reason=o.get("reason"),
                title=export_notes.title(store.tables, str(o.get("table", "")), lang),
            )
            for o in result.get("outcomes") or []
        ]
        label = store.labels.get(lang) or store.labels.get("en") or store.connector
        views.append(
            StoreView(
                connector=store.connector,
                label=label,
                status=store.status,
                reason=store.reason,
                recipients=list(store.recipients),
                records=int(result.get("records") or 0),
                collected_from=result.get("collected_from"),
                outcomes=outcomes,
                searched=list(result.get("searched") or []),
                excluded=list(store.excluded),
                remaining=_remaining(result, store.tables, lang),
                tables=export_notes.table_views(
                    store.connector, [(o.table, o.count) for o in outcomes], store.tables, lang
                ),
            )
        )
    return views


def _remaining(
    result: dict[str, Any], notes: dict[str, export_notes.TableNotes], lang: str
) -> list[RemainingView] | None:
    found = result.get("remaining")
    if found is None:
        return None
    return [
        RemainingView(
            str(r["table"]),
            int(r["count"]),
            str(r["why"]),
            export_notes.title(notes, str(r["table"]), lang),
        )
        for r in found
    ]


def render_summary(ctx: ReplyContext, stores: list[StoreReport]) -> tuple[str, str]:
    """The export bundle's ``summary.txt`` and ``summary.html`` in the subject's language."""
    lang = language_of(ctx)
    views = store_views(stores, lang)
    return render_pair(
        "summary", lang, ctx=ctx, company=ctx.company, short_id=short_id(ctx.request_id),
        stores=views, total=sum(s.records for s in views if s.status == "done"),
    )  # fmt: skip


def _rectify_values(views: list[StoreView]) -> dict[str, Any]:
    pairs = [(s, o) for s in views if s.status == "done" for o in s.outcomes]
    updated = [(s, o) for s, o in pairs if o.action == "updated" and o.count]
    kept = [(s, o) for s, o in pairs if not (o.action == "updated" and o.count)]
    not_done = [s for s in views if s.status != "done"]
    return {"updated": updated, "kept": kept, "not_done": not_done}


def _erase_values(views: list[StoreView]) -> dict[str, Any]:
    changed = any(o.action != "not_found" and o.count for s in views for o in s.outcomes)
    pending = any(s.status == "failed" or (s.status == "skipped" and s.reason) for s in views)
    deferred = any(o.action == "deferred" for s in views for o in s.outcomes)
    newsletter_held = any(
        s.connector == "newsletter"
        and (s.status != "done" or any(o.action == "deferred" for o in s.outcomes))
        for s in views
    )
    return {
        "nothing_changed": not (changed or pending or deferred),
        "suppressed": not newsletter_held,
    }


def render_reply(
    ctx: ReplyContext,
    stores: list[StoreReport],
    *,
    settings: Settings,
    bundle: Path | Blob | None = None,
    now: datetime | None = None,
    notices: list[NoticeView] | None = None,
) -> EmailMessage:
    """The final reply: access bundle (attached or linked), rectify confirmation, erase certificate.

    An access reply needs its ``bundle`` built first. ``now`` (default: the current time) dates
    the certificate and the download link. ``notices``: the third parties' notices (rectify,
    erase), every one already sent or not needed.
    """
    lang = language_of(ctx)
    now = now or datetime.now(UTC)
    views = store_views(stores, lang)
    name = f"reply_{ctx.kind}"
    if ctx.kind == "access":
        if bundle is None:
            raise InvalidInput("an access reply needs its bundle")
        path = bundle
        values: dict[str, Any] = {"attachment": None, "link": None, "link_expires": None}
        size = path.stat().st_size if isinstance(path, Path) else path.size()
        if size <= settings.attach_limit_bytes:
            values["attachment"] = ATTACHMENT_NAMES[lang].format(short_id(ctx.request_id))
        else:
            token = links.make_download_token(ctx.request_id, settings, now=now)
            values["link"] = f"{settings.public_base_url.rstrip('/')}/exports/{token}"
            values["link_expires"] = now + timedelta(seconds=settings.download_link_ttl_seconds)
        total = sum(s.records for s in views if s.status == "done")
        msg = _compose(name, ctx, lang, stores=views, total=total, now=now, **values)
        if values["attachment"]:
            msg.add_attachment(
                path.read_bytes(),  # bounded by attach_limit_bytes
                maintype="application",
                subtype="zip",
                filename=values["attachment"],
            )
        return msg
    told = list(notices or [])
    if ctx.kind == "rectify":
        values = _rectify_values(views)
        return _compose(name, ctx, lang, stores=views, now=now, notices=told, **values)
    if ctx.kind == "erase":
        values = _erase_values(views)
        return _compose(name, ctx, lang, stores=views, now=now, notices=told, **values)
    raise InvalidInput(f"unknown request kind: {ctx.kind!r}")


@dataclass(frozen=True)
class ErasedView:
    """Records of one table a later sweep erased, as the follow-up lists them."""

    label: str  # the store, in the message's language
    outcome: OutcomeView


def render_follow_up(
    ctx: ReplyContext, erased: list[dict[str, Any]], notices: list[NoticeView]
) -> EmailMessage:
    """To the subject: records an erasure had deferred, erased now by a later sweep, and the
    partners told of them (``erased``: per table its store's ``labels``, ``table``, its
    ``titles``, ``action``, ``count``)."""
    lang = language_of(ctx)
    views = [
        ErasedView(
            label=str(e["labels"].get(lang) or e["labels"].get("en") or ""),
            outcome=OutcomeView(
                table=str(e["table"]),
                action=str(e["action"]),
                count=e["count"],
                title=(e.get("titles") or {}).get(lang) or None,
            ),
        )
        for e in erased
    ]
    return _compose("followup_erase", ctx, lang, erased=views, notices=notices)


def render_acknowledgement(
    ctx: ReplyContext, third_parties: list[str] | None = None
) -> EmailMessage:
    """'We received your request; the reply is due by ...' to the subject; ``third_parties``
    (names) must act on it, which is why the longer period applies."""
    return _compose("ack", ctx, language_of(ctx), third_parties=list(third_parties or []))


def render_notice(ctx: ReplyContext, **values: Any) -> EmailMessage:
    """A rectify or erase notice to a third party, in ``ctx.language`` (no subject details)."""
    return _compose("notice", ctx, language_of(ctx), **values)


def render_verification(ctx: ReplyContext, code: str, ttl_hours: int) -> EmailMessage:
    """The one-time code proving the subject controls the address on file."""
    return _compose("verification", ctx, language_of(ctx), code=code, ttl_hours=ttl_hours)


def _ops_context(ctx: ReplyContext) -> ReplyContext:
    # Ops see ids, kinds and dates only: drop every personal field before any template sees it.
    return ReplyContext(
        request_id=ctx.request_id, kind=ctx.kind, language=ctx.language, company=ctx.company,
        received_at=ctx.received_at, due_at=ctx.due_at, changes={}, subject_name=None,
    )  # fmt: skip


def _ops_stores(stores: list[StoreReport], lang: str) -> list[StoreView]:
    views = store_views(stores, lang)
    for view in views:  # a hold reason or connector note may name the person
        view.reason = None
        view.recipients = []
        view.collected_from = None
        view.outcomes = [
            OutcomeView(o.table, o.action, o.count, title=o.title) for o in view.outcomes
        ]
        view.excluded = []
    return views


def render_ops_alert(
    ctx: ReplyContext, stores: list[StoreReport], what: str, *, language: str | None = None
) -> EmailMessage:
    """A needs-attention alert to ops: which connectors failed; ids and connector names only."""
    safe = _ops_context(ctx)
    lang = language if language in LANGUAGES else language_of(ctx)
    views = _ops_stores(stores, lang)
    failed = [s for s in views if s.status == "failed"]
    return _compose("ops_alert", safe, lang, stores=views, failed=failed, what=what)


def render_reminder(ctx: ReplyContext, when: str, *, language: str | None = None) -> EmailMessage:
    """A watchdog reminder to ops (``due_soon``, ``overdue``, ``ack_overdue``); no personal data."""
    safe = _ops_context(ctx)
    lang = language if language in LANGUAGES else language_of(ctx)
    return _compose("reminder", safe, lang, when=when)


def render_complaint_answer(ctx: ReplyContext, answer: str, note: str | None) -> EmailMessage:
    """Staff's answer to a complaint: the chosen answer text (already rendered) and their note."""
    return _compose("reply_complaint", ctx, language_of(ctx), answer=answer, note=note)
