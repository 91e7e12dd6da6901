"""Identity normalisation (S8): properties over generated input, not a handful of examples."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsr.errors import InvalidInput
from dsr.identity import (
    EMAIL,
    PHONE,
    Identity,
    normalise_email,
    normalise_name,
    normalise_phone,
    suppression_hash,
    try_normalise_phone,
)

# Vietnamese mobile prefixes (after the leading 0) and the ways people write a number.
PREFIXES = [
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "88",
]
national = st.builds(
    lambda p, rest: p + rest,
    st.sampled_from(PREFIXES),
    st.text("0123456789", min_size=7, max_size=7),
)


def notations(digits: str) -> list[str]:
    """Nine national digits written as customers, staff and imports write them."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [
        f"0{digits}",
        f"0{a} {b} {c}",
        f"+84{digits}",
        f"84-{a}-{b}-{c}",
        f"0{a}.{b}.{c}",
        f"(+84) {a} {b} {c}",
        f"84{digits}",
        f" +84 {a}{b}{c} ",
    ]


@given(national)
def test_every_notation_of_a_phone_is_one_number(digits: str) -> None:
    """`0912 345 678`, `+84912345678`, `84-912-345-678`… all normalise to the same E.164."""
    forms = {normalise_phone(n) for n in notations(digits)}
    assert forms == {f"+84{digits}"}


@given(national)
def test_phone_normalisation_is_idempotent(digits: str) -> None:
    """Normalising an already-normal phone changes nothing."""
    once = normalise_phone(f"0{digits}")
    assert normalise_phone(once) == once


@given(st.text(max_size=30))
def test_arbitrary_text_is_a_phone_or_a_clear_error(text: str) -> None:
    """Any input either normalises to E.164 or raises InvalidInput: never anything else."""
    try:
        result = normalise_phone(text)
    except InvalidInput:
        assert try_normalise_phone(text) is None
    else:
        assert result.startswith("+") and result[1:].isdigit()


local = st.from_regex(r"[a-zA-Z][a-zA-Z0-9._+-]{0,15}[a-zA-Z0-9]", fullmatch=True).filter(
    lambda s: ".." not in s
)
domain = st.from_regex(
    r"[a-zA-Z][a-zA-Z0-9-]{0,10}[a-zA-Z0-9]\.(vn|com|com\.vn|org)", fullmatch=True
)


@given(local, domain, st.sampled_from(["", " ", "  ", "\t"]))
def test_email_case_and_space_do_not_matter(user: str, host: str, pad: str) -> None:
    """`Nguyen.Van.A@Gmail.com ` and `nguyen.van.a@gmail.com` are one address."""
    address = f"{user}@{host}"
    expected = normalise_email(address.lower())
    assert normalise_email(pad + address.upper() + pad) == expected
    assert normalise_email(expected) == expected


@pytest.mark.parametrize(
    "bad", ["", "@", "a@", "@b.vn", "a b@c.vn", "a@@b.vn", "' OR 1=1 --", "nguyễn@example.com"]
)
def test_malformed_email_is_refused(bad: str) -> None:
    """Not-an-address input is a clear InvalidInput."""
    with pytest.raises(InvalidInput):
        normalise_email(bad)


def test_internationalised_domain_becomes_ascii() -> None:
    """A Vietnamese domain is kept in its sendable punycode form, whatever its case."""
    assert normalise_email("An@Ví-Dụ.VN") == normalise_email("an@ví-dụ.vn")
    assert normalise_email("an@ví-dụ.vn").isascii()


vi_words = st.lists(
    st.sampled_from(
        [
            "Nguyễn",
            "Văn",
            "Thị",
            "Trần",
            "Lê",
            "Phạm",
            "Hoàng",
            "Huỳnh",
            "Đặng",
            "Bùi",
            "Đỗ",
            "Hồ",
            "Ngô",
            "Dương",
            "An",
            "Bích",
            "Cường",
            "Dũng",
            "Hương",
            "Thủy",
            "Quỳnh",
        ]
    ),
    min_size=1,
    max_size=4,
)


@given(vi_words, st.sampled_from([" ", "  ", "\t", " \u00a0"]))
def test_nfc_and_nfd_names_are_one_name(words: list[str], gap: str) -> None:
    """`Nguyễn Văn A` typed as NFC or NFD, with any spacing, is the same NFC name."""
    name = " ".join(words)
    assert normalise_name(unicodedata.normalize("NFD", gap.join(words))) == name
    assert unicodedata.is_normalized("NFC", normalise_name(name))


@given(local, domain)
def test_suppression_hash_ignores_case_and_depends_on_the_secret(user: str, host: str) -> None:
    """The suppression hash is the same for any spelling of an address, and keyed."""
    address = f"{user}@{host}"
    assert suppression_hash(address.upper(), "k1") == suppression_hash(f" {address} ", "k1")
    assert suppression_hash(address, "k1") != suppression_hash(address, "k2")


@given(st.dictionaries(st.sampled_from([EMAIL, PHONE]), st.sets(st.text(min_size=1), max_size=3)))
def test_identity_json_round_trip(values: dict[str, set[str]]) -> None:
    """An identity survives the ledger's JSON column unchanged."""
    identity = Identity({k: set(v) for k, v in values.items()})
    assert Identity.from_json(identity.to_json()).to_json() == identity.to_json()
