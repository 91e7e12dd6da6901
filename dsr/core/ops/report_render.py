"""The reports as documents: JSON, CSV (one figure a line) and HTML that prints on A4 (vi, en)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields, is_dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from dsr.core.replies.templates import TEMPLATE_DIR, format_date


def plain(report: Any) -> dict[str, Any]:
    """A report dataclass as JSON-ready data (dates in ISO 8601)."""

    def iso(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: iso(v) for k, v in value.items()}
        if isinstance(value, list):
            return [iso(v) for v in value]
        return value

    assert is_dataclass(report) and not isinstance(report, type)
    return dict(iso(asdict(report)))


def csv_rows(report: Any) -> str:
    """``section,name,figure,value``: every list of the report flattened, a figure a line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "name", "figure", "value"])
    for f in fields(report):
        value = getattr(report, f.name)
        if not isinstance(value, list):
            writer.writerow(["period", "", f.name, _cell(value)])
            continue
        for item in value:
            data = asdict(item)
            key = next(iter(data))  # kind, store, recipient, rule: the row's name
            for figure, v in data.items():
                if figure == key:
                    continue
                if isinstance(v, dict):
                    for sub, n in v.items():
                        writer.writerow([f.name, data[key], f"{figure}: {sub}", _cell(n)])
                elif isinstance(v, list):
                    for sub in v:
                        writer.writerow([f.name, data[key], figure, _cell(sub)])
                else:
                    writer.writerow([f.name, data[key], figure, _cell(v)])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["date"] = format_date
    env.filters["num"] = _number
    return env


def _number(value: Any, lang: str) -> str:
    """1234567 -> "1.234.567" (vi) or "1,234,567" (en); 2.5 -> "2,5" / "2.5"; None -> a dash."""
    if value is None:
        return "\u2013"  # an en dash: no figure
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def html(name: str, report: Any, *, lang: str, company: str) -> str:
    """``config/templates/report/<name>.html`` in ``lang``."""
    env = _environment()
    words = env.get_template(f"report/_words.{lang}.j2").module
    return env.get_template(f"report/{name}.html").render(
        r=report, w=words, lang=lang, company=company
    )
