"""Recognising what a column holds from a sample of its values, not from its name alone.

A product names its columns as it likes (``contact``, ``misc``, ``clid``): a column is an e-mail
column when most of its values hold an address (email-validator), a phone column when they hold
a number for the default region (phonenumbers; an Asterisk caller id such as
``"Le Van Cuong" <0903111222>`` counts). Both are judged by ``dsr.spellings.stored_values``, the
same reading matching uses, so what is proposed is what can be found. Names and postal
addresses have no parser, so their shapes need the column's name to agree unless nearly every
value fits. Each finding carries a sentence saying why, for the comment beside the proposal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from dsr.identity import normalise_value
from dsr.spellings import stored_values

Finding = Literal["email", "phone", "name", "address", "file"]
AUDIO_SUFFIXES = (".wav", ".mp3", ".gsm")
MIN_SHARE = 0.6  # of sampled values that must fit a parser for the column to count
EXTENSION_DIGITS = 5  # at most this many digits: an internal extension (a PBX's 101), no one's
_NAME_WORDS = {"name", "fullname", "firstname", "lastname", "surname", "hoten", "ten"}
# Words that make a "...name" column something other than a person's name.
_NOT_A_PERSON = {
    "user",
    "username",
    "login",
    "product",
    "company",
    "file",
    "table",
    "host",
    "domain",
    "item",
    "brand",
    "category",
    "shop",
    "store",
    "city",
    "street",
    "tag",
    "slug",
    "meta",
    "option",
    "site",
    "blog",
    "term",
    "display",
}
_ADDRESS_WORDS = {"address", "addr", "street", "diachi"}
_EMAIL_WORDS = {"email", "mail", "e_mail"}
_PHONE_WORDS = {"phone", "mobile", "tel", "telephone", "sdt", "cellphone", "msisdn"}
_INSIDE = {
    "email": 'inside other text ("Name" <address>, mailto:)',
    "phone": 'inside other text (caller id "Name" <number>, a label, an extension)',
}
_LETTER_RUN = re.compile(r"[^\W\d_]+(?:\s+[^\W\d_]+)*")


@dataclass(frozen=True)
class Evidence:
    """What a column holds, and the sentence saying why it was recognised."""

    kind: Finding
    fits: int
    sampled: int
    why: str
    pure: bool = True  # False: the identifier is embedded in other text (a caller id)

    @property
    def share(self) -> float:
        return self.fits / self.sampled if self.sampled else 0.0


def pct(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a short percentage ("31 %", "0.4 %")."""
    if not whole:
        return "0 %"
    value = 100 * part / whole
    return f"{value:.0f} %" if value >= 10 or value == 0 else f"{value:.1f} %"


def words(column: str) -> set[str]:
    """The words of a column name (``billing_first_name`` -> billing, first, name)."""
    return {w for w in re.split(r"[^a-z0-9]+", column.lower()) if w}


def shape(text: str) -> str:
    """A value's spelling with nothing personal left: digits become 9, words become ``A``.

    A leading ``+`` keeps its country code and a leading trunk ``0`` stays (neither is
    personal, and they tell formats apart).
    """
    out = re.sub(r"\d", "9", _LETTER_RUN.sub("A", text))
    plus = text.find("+")  # "+" is never inside a word, so it is at the same place in ``out``
    if plus >= 0:
        try:
            number = re.match(r"\+[\d\s().-]*", text[plus:])
            code = str(phonenumbers.parse(number.group() if number else "", None).country_code)
        except phonenumbers.NumberParseException:
            code = ""
        at = out.index("+") + 1
        if code and out[at : at + len(code)] == "9" * len(code):
            out = out[:at] + code + out[at + len(code) :]
    elif next((c for c in text if c.isdigit()), "") == "0":  # a trunk 0: a national number
        at = out.index("9")
        out = out[:at] + "0" + out[at + 1 :]
    return out if len(out) <= 40 else out[:39] + "…"


def _texts(values: Iterable[object]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v.strip()]


def extension(text: str) -> bool:
    """A PBX's internal extension (``101``, ``"Reception" <101>``): digits, but too few."""
    return "@" not in text and 0 < sum(c.isdigit() for c in text) <= EXTENSION_DIGITS


def _identifier(kind: Finding, texts: Sequence[str], region: str) -> Evidence:
    """How many values hold an identifier of ``kind`` as matching reads them (a phone
    column's internal extensions left out: they are nobody's)."""
    skipped = 0
    if kind == "phone":
        kept = [t for t in texts if not extension(t)]
        skipped, texts = len(texts) - len(kept), kept
        if not texts:
            return Evidence(kind, 0, 0, "only internal extensions")
    n = len(texts)
    held = [t for t in texts if stored_values(kind, t, region)]
    inside = sum(1 for t in held if normalise_value(kind, t, region) is None)
    what = "parse as e-mail" if kind == "email" else f"are phone numbers for region {region}"
    notes = [f"{pct(len(held), n)} of {n} sampled values {what}"]
    if kind == "email":
        mixed = sum(1 for t in held if t.strip() != t.strip().lower())
        spaced = sum(1 for t in held if t != t.strip())
        notes += [f"{pct(mixed, n)} mixed case"] if mixed else []
        notes += [f"{pct(spaced, n)} with leading/trailing spaces"] if spaced else []
    else:
        formats = len({shape(t) for t in held})
        notes.append(f"{formats} format{'s' if formats != 1 else ''}")
    if inside:
        notes.append(f"{pct(inside, n)} {_INSIDE[kind]}")
    if skipped:
        notes.append(f"{skipped} internal extensions (≤ {EXTENSION_DIGITS} digits) left out")
    return Evidence(kind, len(held), n, "; ".join(notes), pure=inside * 2 < max(len(held), 1))


def _name_shaped(text: str) -> bool:
    parts = text.split()
    if not 2 <= len(parts) <= 6 or len(text) > 80:
        return False
    return all(p[0].isupper() and all(c.isalpha() or c in "'-." for c in p) for p in parts)


def _address_shaped(text: str) -> bool:
    has_digit = any(c.isdigit() for c in text)
    letters = sum(1 for c in text if c.isalpha())
    return len(text.split()) >= 3 and letters >= 4 and (has_digit or "," in text)


def _by_shape(
    kind: Finding, texts: Sequence[str], fits: int, named: bool, what: str
) -> Evidence | None:
    n, distinct = len(texts), len(set(texts))
    enough = fits >= 0.5 * n if named else fits >= 0.8 * n and distinct >= 0.6 * n
    if not enough:
        return None
    why = f"{pct(fits, n)} of {n} sampled values look like {what}"
    why += "; named like one" if named else f"; {pct(distinct, n)} distinct"
    return Evidence(kind, fits, len(texts), why)


def _by_name(column: str) -> Evidence | None:
    """For a column with no values to sample: what its name says (weak, and said so)."""
    w = words(column)
    hints: tuple[tuple[Finding, set[str]], ...] = (("email", _EMAIL_WORDS), ("phone", _PHONE_WORDS))
    for kind, hint in hints:
        if w & hint:
            return Evidence(kind, 0, 0, f"no values to sample; named like a {kind} column")
    return None


def recognise(column: str, values: Sequence[object], *, region: str) -> Evidence | None:
    """What personal data ``column`` holds, judged from its sampled ``values`` (None: none)."""
    texts = _texts(values)
    if not texts:
        return _by_name(column)
    n = len(texts)
    audio = sum(1 for t in texts if t.strip().lower().endswith(AUDIO_SUFFIXES))
    if audio >= MIN_SHARE * n:
        why = f"{pct(audio, n)} of {n} sampled values name audio files (.wav/.mp3/.gsm)"
        return Evidence("file", audio, n, why)
    for kind in ("email", "phone"):
        held = _identifier(kind, texts, region)
        if held.share >= MIN_SHARE:
            return held
    w = words(column)
    named = bool(w & _NAME_WORDS or column.lower().endswith("name")) and not w & _NOT_A_PERSON
    found = _by_shape(
        "name", texts, sum(1 for t in texts if _name_shaped(t)), named, "personal names"
    )
    if found is not None:
        return found
    named_address = bool(w & _ADDRESS_WORDS) or any(x.startswith("address") for x in w)
    fits = sum(1 for t in texts if _address_shaped(t))
    return _by_shape("address", texts, fits, named_address, "postal addresses")
