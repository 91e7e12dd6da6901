"""Identifiers as staff pages, ``--json`` and replies show them: enough to recognise, not to use.

``ng***@example.com``, ``+84 9** *** 678``, ``KH****01``, ``N***** V** A*``. The input is a
normalised value (E.164 phone, case-folded e-mail).
"""

from __future__ import annotations

import phonenumbers

from dsr.identity import CUSTOMER_ID, EMAIL, NAME, PHONE


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    keep = 2 if len(local) > 3 else 1
    return f"{local[:keep]}***@{domain}"


def mask_phone(value: str) -> str:
    """Country code, the first and the last three digits; groups of three from the right."""
    try:
        number = phonenumbers.parse(value, None)
        prefix, digits = f"+{number.country_code}", phonenumbers.national_significant_number(number)
    except phonenumbers.NumberParseException:
        prefix, digits = "", "".join(ch for ch in value if ch.isdigit())
    shown = "".join(d if i == 0 or i >= len(digits) - 3 else "*" for i, d in enumerate(digits))
    groups = [shown[max(0, end - 3) : end] for end in range(len(shown), 0, -3)][::-1]
    return " ".join(([prefix] if prefix else []) + groups)


def mask_name(value: str) -> str:
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in value.split())


def mask_other(value: str) -> str:
    if len(value) <= 4:
        return value[:1] + "***"
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask(kind: str, value: str) -> str:
    """The masked form of a normalised identifier of ``kind``."""
    if kind == EMAIL:
        return mask_email(value)
    if kind == PHONE:
        return mask_phone(value)
    if kind == NAME:
        return mask_name(value)
    if kind == CUSTOMER_ID:
        return mask_other(value)
    return mask_other(value)
