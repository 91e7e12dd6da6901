"""How a store spells its identifiers, and whether matching covers every spelling.

Matching reads every stored value with ``dsr.spellings.stored_values`` (``dsr.identity``'s
normalisation, plus the caller ids, labels and extensions people type around a value); a value
it reads nothing from can never be found. The survey counts, in a sample of a match column, the
spellings that matter per kind (case and spaces for e-mails, formats for phones) and the values
matching cannot read. Nothing personal is reported: shares, counts, and formats as shapes
(digits become 9, words ``A``).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.recognise import pct, shape
from dsr.identity import normalise_value
from dsr.spellings import stored_values

_SHOWN_FORMATS = 3
_WHAT_FAILS = {"email": "not an address", "phone": "not parseable for region {region}"}


def _traits(kind: str, region: str) -> dict[str, Callable[[str], bool]]:
    """The spellings worth counting for ``kind``, each a test on one stored value."""
    spaced: Callable[[str], bool] = lambda v: v != v.strip()  # noqa: E731
    not_nfc: Callable[[str], bool] = lambda v: unicodedata.normalize("NFC", v) != v  # noqa: E731
    inside: Callable[[str], bool] = lambda v: (  # noqa: E731
        normalise_value(kind, v, region) is None and bool(stored_values(kind, v, region))
    )
    several: Callable[[str], bool] = lambda v: len(stored_values(kind, v, region)) > 1  # noqa: E731
    if kind == "email":
        return {
            "mixed case": lambda v: v.strip() != v.strip().lower(),
            "leading/trailing spaces": spaced,
            "not NFC": not_nfc,
            "non-ASCII": lambda v: not v.isascii(),
            "inside other text": inside,
            "several in one field": several,
        }
    if kind == "phone":
        return {"inside other text (caller id, label)": inside, "several in one field": several}
    if kind == "name":
        return {
            "all upper case": lambda v: v.isupper(),
            "all lower case": lambda v: v.islower(),
            "extra spaces": lambda v: " ".join(v.split()) != v,
            "not NFC": not_nfc,
        }
    return {"leading/trailing spaces": spaced, "leading zeros": lambda v: v.strip()[:1] == "0"}


@dataclass
class Survey:
    """One identifier kind's spellings in a sample of its match columns."""

    kind: str
    region: str
    columns: list[str]
    sampled: int = 0
    none_values: int = 0  # rows holding a null_when value (no identifier, on purpose)
    traits: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    uncovered: Counter[str] = field(default_factory=Counter)  # shape -> rows

    @property
    def covered(self) -> bool:
        return not self.uncovered

    def summary(self) -> str:
        """One line: ``email: 3.1 % mixed case, 0.4 % leading/trailing spaces: covered``."""
        parts = [f"{pct(n, self.sampled)} {t}" for t, n in self.traits.most_common() if n]
        if self.kind == "phone" and self.formats:
            shown = ", ".join(s for s, _ in self.formats.most_common(_SHOWN_FORMATS))
            more = ", …" if len(self.formats) > _SHOWN_FORMATS else ""
            plural = "s" if len(self.formats) != 1 else ""
            parts.insert(0, f"{len(self.formats)} format{plural} ({shown}{more})")
        if self.none_values:
            parts.append(f"{self.none_values} stored as 'none' (null_when)")
        head = f"{self.kind}: " + (", ".join(parts) or "one spelling")
        if not self.sampled:
            nones = f" ({self.none_values} stored as 'none')" if self.none_values else ""
            return f"{self.kind}: no values to sample{nones}"
        if self.covered:
            return f"{head}: covered"
        fails = _WHAT_FAILS.get(self.kind, "unreadable to matching").format(region=self.region)
        rows = sum(self.uncovered.values())
        spellings = len(self.uncovered)
        return (
            f"{head}; {spellings} spelling{'s' if spellings != 1 else ''} {fails}: "
            f"{rows} of {self.sampled} sampled rows"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "sampled": self.sampled,
            "none_values": self.none_values,
            "shares": {t: round(n / self.sampled, 4) for t, n in self.traits.items() if n},
            "formats": [{"shape": s, "rows": n} for s, n in self.formats.most_common()]
            if self.kind == "phone"
            else [],
            "uncovered": [{"shape": s, "rows": n} for s, n in self.uncovered.most_common()],
            "covered": self.covered,
            "summary": self.summary(),
        }


def survey(
    kind: str,
    columns: Mapping[str, Iterable[Any]],
    *,
    region: str,
    none_values: dict[str, tuple[str, ...]],
) -> Survey:
    """The spellings of ``kind`` in each column's sampled (non-NULL) values."""
    result = Survey(kind, region, sorted(columns))
    traits = _traits(kind, region)
    for column, values in columns.items():
        nones = none_values.get(column, ())
        for raw in values:
            text = str(raw)
            if text in nones:
                result.none_values += 1
                continue
            result.sampled += 1
            for trait, test in traits.items():
                if test(text):
                    result.traits[trait] += 1
            if kind == "phone":
                result.formats[shape(text)] += 1
            if not stored_values(kind, raw, region):
                result.uncovered[shape(text)] += 1
    return result
