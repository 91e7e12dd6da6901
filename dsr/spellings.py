"""Identifiers as people stored them: every value a typed-in field holds, and its lookup keys.

Stores other products shaped hold e-mails in any case with stray spaces, phones with or without
the country code or trunk 0, with spaces, dots, dashes and brackets, a caller id as
``"Le Van Cuong" <0903111222>``, now and then two numbers in one field. ``stored_values`` reads
such a field the way ``dsr.identity`` normalises what a subject proves, so the two compare
equal; it is the authority on whether a record holds an identifier.

``lookup_keys`` is its cheap companion for the identifier index: a key every spelling of the
same identifier shares (a casefolded address; a phone's last seven digits), computed without
parsing, so a million rows are keyed in seconds. A key only proposes a record: the record is
then re-read and judged by ``stored_values``, so a key shared by two numbers costs a re-read
and never a wrong match.
"""

from __future__ import annotations

import re
import unicodedata

from dsr.identity import EMAIL, NAME, PHONE, normalise_value

PHONE_KEY_DIGITS = 7  # the shortest national numbers in common use have seven digits
_ANGLE = re.compile(r"<([^<>]*)>")
_SPECIAL = re.compile(r"[<,;/|\n]")
_SPECIAL_EMAIL = re.compile(r"[<,;/|\n:]")  # a display name, a list, "mailto:"
_NOT_DIGIT = re.compile(r"\D+")
_LETTER = re.compile(r"[^\W\d_]|#")  # an extension's word, in any script
_SEPARATORS = re.compile(r"[,;/|\n]+")  # several numbers or addresses typed into one field
_LABEL = re.compile(r"^[^\d+(]*")  # "Tel: ", "ĐT: " before a number
_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
# An extension after the number: "0903 111 222 ext 5", "x12", "#12", "máy lẻ 12".
_EXTENSION = re.compile(
    r"(?<=\d)[\s.,]*(?:ext(?:ension)?\.?|x|#|máy lẻ|nhánh|số lẻ)\s*:?\s*\d+\s*$", re.IGNORECASE
)


def _parts(text: str) -> list[str]:
    """The values typed into one field: inside ``<...>`` when a display name wraps them, split
    on the separators people put between two of them."""
    if not _SPECIAL.search(text):
        return [text.strip()] if text.strip() else []  # the common case, a million times over
    inner = _ANGLE.findall(text)
    pieces = inner if inner else [text]
    return [p.strip() for piece in pieces for p in _SEPARATORS.split(piece) if p.strip()]


def stored_values(kind: str, raw: object, region: str = "VN") -> tuple[str, ...]:
    """Every normalised identifier of ``kind`` a stored field holds (empty: none usable)."""
    if raw is None:
        return ()
    text = str(raw)
    if kind == EMAIL:
        parts = [_MAILTO.sub("", p) for p in _parts(text)]
    elif kind == PHONE:
        parts = _parts(text)
    else:
        value = normalise_value(kind, text, region)
        if value and kind == NAME:
            value = value.casefold()  # names are compared without case, shown as stored
        return (value,) if value else ()
    found: list[str] = []
    for part in parts:
        value = normalise_value(kind, part, region)
        if value is None and kind == PHONE:  # "Tel: 0903 111 222", "0903 111 222 ext 5"
            bare = _EXTENSION.sub("", _LABEL.sub("", part))
            value = normalise_value(kind, bare, region) if bare else None
        if value and value not in found:
            found.append(value)
    return tuple(found)


def lookup_keys(kind: str, raw: object) -> set[str]:
    """The identifier index's keys for a stored field or a normalised search value."""
    if raw is None:
        return set()
    text = str(raw)
    if kind == EMAIL and text.isascii() and not _SPECIAL_EMAIL.search(text):
        key = text.strip().casefold()  # the common case, a million times over
        return {key} if "@" in key else set()
    if kind == EMAIL:
        keys = {_MAILTO.sub("", p).casefold() for p in _parts(text)}
        if not text.isascii():
            keys |= set(stored_values(EMAIL, text))  # an IDN domain is searched as punycode
        return {k for k in keys if "@" in k}
    if kind == PHONE:
        keys = set()
        for part in _parts(text):
            number = _EXTENSION.sub("", part) if _LETTER.search(part) else part
            digits = _NOT_DIGIT.sub("", number)
            if len(digits) >= PHONE_KEY_DIGITS:
                keys.add(digits[-PHONE_KEY_DIGITS:])
        return keys
    if kind == NAME:
        return {" ".join(unicodedata.normalize("NFC", text).casefold().split())} - {""}
    return {text.strip()} - {""}
