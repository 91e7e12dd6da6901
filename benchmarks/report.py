"""The figures of a run: a table on stdout and ``benchmarks/results/latest.json``."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured figure, its same-run baseline and ratio, and its target if it has one."""

    section: str
    name: str
    value: float | None
    unit: str
    baseline: str | None = None  # what the value is compared with
    baseline_value: float | None = None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None


@dataclass
class Report:
    command: str
    options: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def add(self, section: str, name: str, value: float | None, unit: str, **kw: Any) -> Figure:
        fig = Figure(section, name, _clean(value), unit, **kw)
        fig.baseline_value = _clean(fig.baseline_value)
        fig.ratio = _clean(fig.ratio)
        self.figures.append(fig)
        return fig

    def table(self) -> str:
        head = ("section", "figure", "value", "baseline (same run)", "ratio", "target", "met")
        rows = [head]
        for f in self.figures:
            base = "" if f.baseline is None else f"{f.baseline}"
            if f.baseline_value is not None:
                base += f" = {_num(f.baseline_value)}"
            rows.append(
                (
                    f.section,
                    f.name,
                    f"{_num(f.value)} {f.unit}".strip(),
                    base,
                    "" if f.ratio is None else f"{f.ratio:.3g}",
                    f.target or "",
                    {True: "yes", False: "NO", None: ""}[f.met],
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [
            " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        for section, error in self.errors.items():
            lines.append(f"{section}: FAILED: {error.splitlines()[-1] if error else ''}")
        return "\n".join(lines)

    def markdown(self) -> str:
        out = [
            "| section | figure | value | baseline (same run) | ratio | target | met |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            base = (f.baseline or "") + (
                f" = {_num(f.baseline_value)}" if f.baseline_value is not None else ""
            )
            out.append(
                f"| {f.section} | {f.name} | {_num(f.value)} {f.unit} | {base} | "
                f"{'' if f.ratio is None else f'{f.ratio:.3g}'} | {f.target or ''} | "
                f"{ {True: 'yes', False: '**no**', None: ''}[f.met] } |"
            )
        return "\n".join(out)

    def write(self, machine: dict[str, Any], path: Path | None = None) -> Path:
        path = path or RESULTS / "latest.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "date": self.started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.command,
            "options": self.options,
            "machine": machine,
            "figures": [asdict(f) for f in self.figures],
            "targets": [asdict(f) for f in self.figures if f.target],
            "details": self.details,
            "errors": self.errors,
        }
        path.write_text(
            json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        return path


def machine_info(extra: dict[str, str] | None = None) -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        import psutil

        mem_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # noqa: BLE001
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
        **(extra or {}),
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float):
        return round(value, 4) if abs(value) < 100 else round(value, 1)
    return value


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"
