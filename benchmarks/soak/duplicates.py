"""Where each duplicate came from: the SMTP server's timeline of final dots and 250s set beside
the kill storm's SIGKILLs (wall clock, one machine).

A message the server accepted twice was, the first time, sent by a worker that did not record
``sent``. If a SIGKILL of a worker landed between that first final dot and shortly after its
250, the kill is the cause, and its moment says which part of the window it hit: before the
server's 250 (the server still working, or the answer in flight) or after it (the worker had
the 250 and had not committed yet). A duplicate with no kill near it came from another path.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

AFTER_250 = 2.0  # seconds after the 250 in which a kill still explains a duplicate


def purpose_of(message_id: str) -> str:
    """``<request.purpose@domain>`` -> the purpose's first word (reply, acknowledgement, ...)."""
    return message_id.split("@")[0].split(".", 1)[-1].split("-")[0]


def explain(
    timeline: list[tuple[str, float, float]], kills: list[tuple[float, str]]
) -> dict[str, Any]:
    """Each duplicated Message-ID's purpose and where the nearest kill landed, and how long
    the server took from final dot to 250 over all messages (its part of the window)."""
    first: dict[str, tuple[float, float]] = {}
    seen: Counter[str] = Counter()
    for mid, dot, answered in timeline:
        seen[mid] += 1
        first.setdefault(mid, (dot, answered))
    found: list[dict[str, Any]] = []
    for mid, n in seen.items():
        if n < 2:
            continue
        dot, answered = first[mid]
        near = [(at, who) for at, who in kills if dot - 1.0 <= at <= answered + AFTER_250]
        entry: dict[str, Any] = {
            "purpose": purpose_of(mid),
            "copies": n,
            "server_ms": round(1000 * (answered - dot), 1),
        }
        if near:
            at, who = min(near, key=lambda k: abs(k[0] - dot))
            entry["killed"] = who
            entry["kill_after_dot_ms"] = round(1000 * (at - dot), 1)
            entry["where"] = "before the 250" if at < answered else "after the 250"
        else:
            entry["where"] = "no kill near: another path"
        found.append(entry)
    spans = sorted(1000 * (answered - dot) for _, dot, answered in timeline)
    return {
        "duplicates": found,
        "where": dict(Counter(e["where"] for e in found)),
        "server_dot_to_250_ms": {
            "median": round(median(spans), 1) if spans else None,
            "p90": round(spans[int(0.9 * (len(spans) - 1))], 1) if spans else None,
            "max": round(spans[-1], 1) if spans else None,
        },
    }


def windows(logs: Path) -> dict[str, Any]:
    """The workers' own measure of the window (their ``handover_window`` summaries, each of
    100 messages or 5 s): the median of the medians and the longest seen, for both halves,
    and the mean time a message spends inside it (see ``expected``)."""
    answer: list[dict[str, float]] = []
    record: list[dict[str, float]] = []
    total, messages = 0.0, 0
    for log in sorted(logs.glob("worker-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if '"handover_window"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            answer.append(event["dot_to_250_ms"])
            record.append(event["after_250_ms"])
            total += event.get("total_ms", 0.0)
            messages += event["messages"]
    if not answer:
        return {}

    def summary(parts: list[dict[str, float]]) -> dict[str, float]:
        return {
            "median_of_medians": round(median(p["median"] for p in parts), 1),
            "median_p90": round(median(p["p90"] for p in parts), 1),
            "max": max(p["max"] for p in parts),
        }

    return {
        "summaries": len(answer),
        "messages": messages,
        "mean_ms": round(total / messages, 1) if messages else None,
        "dot_to_250_ms": summary(answer),
        "after_250_ms": summary(record),
    }


def expected(mean_ms: float | None, sent: int, seconds_per_kill: float) -> float | None:
    """Duplicates a storm should make if each kill lands at a random moment: ``sent`` messages
    each ``mean_ms`` inside the window, on workers each SIGKILLed once every
    ``seconds_per_kill`` seconds (the storm's period times the number of workers)."""
    if mean_ms is None:
        return None
    return round(sent * mean_ms / 1000 / seconds_per_kill, 2)
