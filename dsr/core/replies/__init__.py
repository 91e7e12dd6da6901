"""Replies and every other e-mail: written, queued, sent. Below the pipeline.

``templates`` (Jinja2 e-mails in the subject's language), ``bundle`` (the streamed access ZIP),
``links`` + ``status_links`` (signed download and status links), ``messages`` (the e-mails a
request produces), ``notices`` + ``webhook`` (third parties told of a rectify or erase),
``alerts`` (ops told, on record first), ``outbox`` (every e-mail a row and a file before it is
sent), ``delivery`` + ``mailer`` (SMTP) and ``undeliverable`` (what happens when it bounces);
``certificate`` (the signed statement a completion reply carries, a ``jws``) and
``certificate_check`` (verifying one, offline and against the audit chain).
"""

from dsr.core.replies import (
    alerts,
    bundle,
    certificate,
    certificate_check,
    delivery,
    jws,
    links,
    mailer,
    messages,
    notices,
    outbox,
    status_links,
    templates,
    undeliverable,
    webhook,
)
from dsr.core.replies.alerts import raise_alert
from dsr.core.replies.bundle import build_bundle
from dsr.core.replies.templates import (
    TEMPLATE_DIR,
    IdentifierView,
    NoticeView,
    ReplyContext,
    StoreReport,
    format_date,
)

__all__ = [
    # modules, used as namespaces
    "templates",
    "bundle",
    "links",
    "status_links",
    "messages",
    "notices",
    "webhook",
    "alerts",
    "outbox",
    "delivery",
    "mailer",
    "undeliverable",
    "certificate",
    "certificate_check",
    "jws",
    # templates
    "ReplyContext",
    "StoreReport",
    "IdentifierView",
    "NoticeView",
    "TEMPLATE_DIR",
    "format_date",
    # bundle
    "build_bundle",
    # alerts
    "raise_alert",
]
