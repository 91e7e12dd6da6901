"""What "one language per page" checks: English-only words of the interface on a vi page or
e-mail (data people typed, e-mail addresses and links are not checked), and ISO times."""

from __future__ import annotations

import html
import re

# Words that are English only: none may be seen on a Vietnamese page (data typed by people, such
# as an e-mail address, is not checked: the tokens are whole words of the interface).
ENGLISH_ONLY = (
    "received", "verified", "awaiting", "progress", "review", "canceled", "completed",
    "submission", "belongs", "account", "another", "excluded", "included", "staff",
    "orders", "customers", "recordings", "newsletter", "audio", "subject", "system",
    "verification", "searched", "dispatched", "status", "request", "search", "cancel",
    "days", "left", "overdue", "records", "none", "note", "required", "asserted", "phone",
    "unproven", "other_account", "shared_identifier",
)  # fmt: skip
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# Links, e-mail addresses and file paths in an export (crm/customers.csv) are data, not words.
_LINKS = re.compile(r"(?:https?://\S+|\S+@\S+\.\w+|\S*/\S*)")


def visible(page: str) -> str:
    """The page's visible text (no tags, attributes, styles or hidden form values)."""
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def english_on(page: str) -> list[str]:
    """The English-only words seen on ``page`` (HTML or plain text), links, addresses and
    paths aside."""
    words = set(re.findall(r"[a-z_]+", _LINKS.sub(" ", visible(page)).lower()))
    return sorted(w for w in ENGLISH_ONLY if w in words)
