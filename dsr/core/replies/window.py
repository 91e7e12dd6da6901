"""How long the send-twice window lasts, as this process sees it: from the final dot to the
server's 250, and from the 250 to the sent mark's COMMIT. A summary of each 100 messages (or
5 s) is logged (``handover_window``: median, 90th percentile, longest and total, in ms), so the
window's size is measured where it is, never guessed; nothing about a message or its
recipient is logged."""

from __future__ import annotations

import threading
import time
from statistics import median

import structlog

log = structlog.get_logger(__name__)
EVERY = 100
SECONDS = 5.0  # or sooner: a process killed loses only its last few seconds of figures

_lock = threading.Lock()
_answer: list[float] = []
_record: list[float] = []
_since = time.monotonic()


def observed(answer_ms: float, record_ms: float) -> None:
    """One message's window: final dot to 250, 250 to the sent mark committed."""
    global _since
    with _lock:
        _answer.append(answer_ms)
        _record.append(record_ms)
        now = time.monotonic()
        if len(_answer) < EVERY and now - _since < SECONDS:
            return
        _since = now
        answer, record = sorted(_answer), sorted(_record)
        _answer.clear()
        _record.clear()
    log.info(
        "handover_window",
        messages=len(answer),
        dot_to_250_ms=_summary(answer),
        after_250_ms=_summary(record),
        total_ms=round(sum(answer) + sum(record), 1),  # time inside the window, all of them
    )


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(median(values), 1),
        "p90": round(values[int(0.9 * (len(values) - 1))], 1),
        "max": round(values[-1], 1),
    }
