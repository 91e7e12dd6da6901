"""The rules for typed-in input, the same at every door: properties over generated input."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import Settings
from dsr.core.intake.filing import Submission, ValidSubmission, no_duplicates, validate
from dsr.core.runtime.process import Runtime
from dsr.errors import InvalidInput
from dsr.identity import BIDI_CONTROLS, check_input, normalise_name, normalise_phone, visible

RT = Runtime(Settings(var_dir=Path(tempfile.mkdtemp(prefix="dsr-rules-"))))
national = st.builds(
    lambda p, rest: p + rest,
    st.sampled_from(["90", "91", "98", "32", "77", "88"]),
    st.text("0123456789", min_size=7, max_size=7),
)
# Characters that show nothing: spaces, zero-width and format characters, fillers.
INVISIBLE = [
    " ", "\u00a0", "\u2003", "\u3000", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
    "\u00ad", "\u200e", "\u200f", "\u180e", "\u3164", "\u115f", "\u2800",
]  # fmt: skip
BREAKS = ["\r", "\n", "\r\n", "\t", "\x00", "\x1b", "\x85"]
printable = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp"), blacklist_characters="="),
    max_size=12,
)


def _submit(**given_: Any) -> ValidSubmission:
    values: dict[str, Any] = {"kind": "access", "email": "an@example.vn"} | given_
    return validate(RT, Submission(**values))


@given(national, st.integers(0, 10), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz", min_size=1))
def test_a_phone_with_letters_is_refused(digits: str, at: int, letters: str) -> None:
    """Letters anywhere in a phone are refused, never read as keypad digits."""
    written = "0" + digits
    assert normalise_phone(written) == "+84" + digits
    with pytest.raises(InvalidInput, match="phone"):
        normalise_phone(written[:at] + letters + written[at:])
    with pytest.raises(InvalidInput, match="phone"):
        _submit(phone=written[:at] + letters + written[at:])


@given(st.lists(st.sampled_from(INVISIBLE), min_size=1, max_size=8).map("".join))
def test_a_value_with_nothing_visible_is_refused(raw: str) -> None:
    """Names and rectify values made only of spaces, zero-width or format characters are refused."""
    assert visible(raw) == ""
    with pytest.raises(InvalidInput, match="empty"):
        check_input(raw, "the name")
    with pytest.raises(InvalidInput):
        _submit(name=raw)
    with pytest.raises(InvalidInput):
        _submit(kind="rectify", changes={"address": raw})
    with pytest.raises(InvalidInput):
        normalise_name(raw)


@given(printable, st.sampled_from(sorted(BIDI_CONTROLS)), printable)
def test_a_bidi_control_is_refused_anywhere(before: str, bidi: str, after: str) -> None:
    """A bidirectional embedding, override or isolate is refused wherever it appears."""
    raw = before + bidi + after + "x"
    with pytest.raises(InvalidInput, match="bidirectional"):
        check_input(raw, "the name")
    with pytest.raises(InvalidInput):
        _submit(name=raw)
    with pytest.raises(InvalidInput):
        _submit(kind="rectify", changes={"address": raw})


@given(st.lists(st.sampled_from(INVISIBLE), min_size=1, max_size=8).map("".join), printable)
def test_a_complaint_text_is_visible_and_has_no_bidi_control(blank: str, text: str) -> None:
    """A complaint's free text may break lines, but not be blank or carry a bidi control."""
    with pytest.raises(InvalidInput, match="empty"):
        _submit(kind="complaint", text=blank)
    with pytest.raises(InvalidInput, match="bidirectional"):
        _submit(kind="complaint", text=f"x{text}\u202e{text}")
    assert _submit(kind="complaint", text=f"Dòng 1\nDòng 2 {text}").text


@given(printable, st.sampled_from(BREAKS), printable)
def test_a_line_break_or_control_is_refused_everywhere(before: str, brk: str, after: str) -> None:
    """CR, LF, tab and other controls are refused in every field: nothing is folded away."""
    raw = before + brk + after + "x"
    for given_ in (
        {"name": raw},
        {"email": f"an{brk}@example.vn"},
        {"email": f"an@example.vn{brk}"},
        {"phone": f"0912345678{brk}"},
        {"kind": "rectify", "changes": {"address": raw}},
        {"verified": True, "by": raw},
    ):
        with pytest.raises(InvalidInput):
            _submit(**given_)


@given(printable.filter(lambda t: visible(t) != "" and not set(t) & BIDI_CONTROLS))
def test_visible_text_passes_unchanged(raw: str) -> None:
    """Text with something visible and no controls is accepted as written."""
    assert check_input(raw, "the name") == raw


@given(st.sampled_from(["yes", "no", "true", "false", "1", "on", 1, 0, None]))
def test_verified_is_a_real_boolean(value: object) -> None:
    """Only True or False mean "verified": no string or number is read as a boolean."""
    with pytest.raises(InvalidInput, match="true or false"):
        _submit(verified=value, by="lan")


@given(st.lists(st.tuples(st.text(max_size=4), st.integers()), max_size=8))
def test_a_name_given_twice_is_refused(pairs: list[tuple[str, int]]) -> None:
    """Pairs become a dict only when every name is distinct; a repeat never silently wins."""
    names = [name for name, _ in pairs]
    if len(set(names)) < len(names):
        with pytest.raises(InvalidInput, match="twice"):
            no_duplicates(pairs)
    else:
        assert no_duplicates(pairs) == dict(pairs)


@given(st.dictionaries(st.text(max_size=6), st.integers(), min_size=1, max_size=6), st.data())
def test_a_json_object_with_a_repeated_name_is_refused(obj: dict[str, int], data: Any) -> None:
    """The API's JSON reading refuses a repeated name at any position, accepts any other object."""
    assert json.loads(json.dumps(obj), object_pairs_hook=no_duplicates) == obj
    again = data.draw(st.sampled_from(sorted(obj)))
    raw = json.dumps(obj)[:-1] + ", " + json.dumps(again) + ": 0}"
    with pytest.raises(InvalidInput):
        json.loads(raw, object_pairs_hook=no_duplicates)
