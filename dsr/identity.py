"""Identity normalisation, the rules for typed-in text, and the identifiers a request searches by.

Normalisation is delegated to well-kept libraries: ``phonenumbers`` for phones (E.164, default
region from settings), ``email-validator`` for address syntax, ``unicodedata`` NFC for names.
``check_input`` is the one rule every door (CLI, API, web page) applies to what people type.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from dsr.errors import InvalidInput

# Identifier kinds a connector may need or provide.
EMAIL = "email"
PHONE = "phone"
NAME = "name"
CUSTOMER_ID = "customer_id"
KINDS = (EMAIL, PHONE, NAME, CUSTOMER_ID)

# Explicit bidirectional embeddings, overrides and isolates: they make text display in another
# order than it is stored ("Trojan Source"); no name, address or value needs them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Unicode's own line and paragraph separators (categories Zl, Zp): line breaks to a browser, a
# JSON parser in JavaScript or a log reader, though not "control" characters.
LINE_SEPARATORS = frozenset("\u2028\u2029")
# Letters that render as nothing (Hangul fillers, braille blank): invisible, though not "format".
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def visible(text: str) -> str:
    """``text`` without white space and characters that render as nothing (format, fillers)."""
    return "".join(
        ch
        for ch in text
        if not ch.isspace()
        and unicodedata.category(ch) not in ("Cf", "Zs", "Zl", "Zp")
        and ch not in _BLANK_LETTERS
    )


def has_control(text: str, *, keep: str = "") -> bool:
    """Whether ``text`` holds a control character (not in ``keep``) or U+2028/U+2029: the one
    rule every text field of every door applies."""
    return any(
        (unicodedata.category(ch) in ("Cc", "Cs") and ch not in keep) or ch in LINE_SEPARATORS
        for ch in text
    )


def check_input(raw: str, what: str) -> str:
    """``raw`` unchanged if a person could have meant it; InvalidInput naming ``what`` if not.

    Refused: control characters (line breaks and tabs included: every value is one line), bidi
    controls, and values with nothing visible (only spaces, zero-width or format characters).
    The same rule at every door, so the CLI never folds what the API refuses.
    """
    for ch in raw:
        if unicodedata.category(ch) in ("Cc", "Cs") or ch in LINE_SEPARATORS:
            raise InvalidInput(f"{what} contains a control character (line breaks included)")
        if ch in BIDI_CONTROLS:
            raise InvalidInput(f"{what} contains a bidirectional override character")
    if not visible(raw):
        raise InvalidInput(f"{what} is empty")
    return raw


def normalise_email(raw: str) -> str:
    """Strip, NFC and case-fold an address; raise InvalidInput when it is not one.

    An internationalised domain becomes its ASCII (punycode) form, so it can be sent to by any
    SMTP server; a non-ASCII local part would need SMTPUTF8 everywhere and is refused.
    """
    text = unicodedata.normalize("NFC", raw.strip())
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise InvalidInput("malformed email address (or non-ASCII before the @)") from None
    return (checked.ascii_email or checked.normalized).casefold()


def normalise_phone(raw: str, region: str = "VN") -> str:
    """The E.164 form of a phone number in any common notation; InvalidInput when invalid.

    Letters are refused: phonenumbers reads them as keypad digits ("0912-ABC-678" would become
    +84912222678, someone else's number).
    """
    if any(ch.isalpha() for ch in raw):
        raise InvalidInput("malformed phone number (letters)")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("malformed phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("malformed phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalise_phone(raw: str | None, region: str = "VN") -> str | None:
    """Like normalise_phone, but None for a value that is not a valid phone (messy store data)."""
    if not raw:
        return None
    try:
        return normalise_phone(raw, region)
    except InvalidInput:
        return None


def try_normalise_email(raw: str | None) -> str | None:
    """Like normalise_email, but None for a value that is not an address."""
    if not raw:
        return None
    try:
        return normalise_email(raw)
    except InvalidInput:
        return None


def normalise_name(raw: str) -> str:
    """NFC, inner white space folded to one space; case is kept (names are shown to people)."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not visible(name):
        raise InvalidInput("empty name")
    return name


def normalise_text(raw: object) -> str:
    """Free text as stored: NFC, inner white space folded to one space."""
    return " ".join(unicodedata.normalize("NFC", str(raw)).split())


def normalise_field(field: str, raw: str, region: str = "VN") -> str:
    """A new value for a rectifiable field, normalised as it will be stored (InvalidInput when
    it cannot be: a malformed e-mail or phone, an empty value)."""
    if field == EMAIL:
        return normalise_email(raw)
    if field == PHONE:
        return normalise_phone(raw, region)
    if field == NAME:
        return normalise_name(raw)
    text = normalise_text(raw)
    if not text:
        raise InvalidInput(f"empty value for field {field!r}")
    return text


def normalise_value(kind: str, raw: object, region: str = "VN") -> str | None:
    """Normalise one stored value of the given identifier kind (None when unusable)."""
    if raw is None:
        return None
    text = str(raw)
    if kind == EMAIL:
        return try_normalise_email(text)
    if kind == PHONE:
        return try_normalise_phone(text, region)
    if kind == NAME:
        return " ".join(unicodedata.normalize("NFC", text).split()) or None
    return text.strip() or None


@dataclass
class Identity:
    """The subject's identifiers by kind; grows as connectors provide more (identity expansion)."""

    values: dict[str, set[str]] = field(default_factory=dict)

    def get(self, kind: str) -> set[str]:
        return self.values.get(kind, set())

    def add(self, kind: str, items: Iterable[str | None]) -> None:
        bucket = self.values.setdefault(kind, set())
        bucket.update(v for v in items if v)

    def merge(self, other: Identity) -> None:
        for kind, items in other.values.items():
            self.add(kind, items)

    def to_json(self) -> dict[str, list[str]]:
        return {k: sorted(v) for k, v in sorted(self.values.items()) if v}

    @classmethod
    def from_json(cls, data: Mapping[str, Iterable[str]] | None) -> Identity:
        return cls({k: set(v) for k, v in (data or {}).items()})


def suppression_digest(normalised: str, secret: str) -> str:
    """The keyed hash of an already normalised value through the suppression key chain.

    ``secret`` is the chain, oldest key first, separated by commas. A rotation wrapped every
    stored hash in the newest key (``wrap_digest``), so a value goes through the keys in order;
    with one key this is plain HMAC-SHA256.
    """
    digest = normalised
    for key in secret.split(","):
        digest = hmac.new(key.encode(), digest.encode(), hashlib.sha256).hexdigest()
    return digest


def wrap_digest(stored: str, new_key: str) -> str:
    """A stored suppression hash re-keyed with ``new_key`` (what rotation does to each entry)."""
    return hmac.new(new_key.encode(), stored.encode(), hashlib.sha256).hexdigest()


# Hashed like an address, but never one (no "@"): its digest shows which chain keyed a list.
KEY_CHECK = "dsr:suppression-key-check"


def suppression_check(secret: str) -> str:
    """The chain's check value: stored beside a list (and in the ledger) to detect a wrong key."""
    return suppression_digest(KEY_CHECK, secret)


def suppression_hash(email: str, secret: str) -> str:
    """Keyed hash of a normalised address for the never-re-add suppression list."""
    return suppression_digest(normalise_email(email), secret)
