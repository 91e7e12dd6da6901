"""The figures a pipeline batch adds to the report (peer and full workloads alike)."""

from __future__ import annotations

from typing import Any

from benchmarks.pipeline import STAGES, BatchResult
from benchmarks.stats import ratio


def add_batch(ctx: Any, section: str, label: str, r: BatchResult, *, target: str, met: Any) -> None:
    """Throughput (vs the no-op baseline per message), p50 and p95, and the stage line.

    ``met`` is a callable taking (requests/min, per-message ratio) and returning a bool.
    """
    noop_s = sum(r.noop_seconds) / len(r.noop_seconds) if r.noop_seconds else None
    per_msg = r.per_message_ratio
    done = r.requests - r.unfinished
    if r.unfinished:
        label = f"{label} [{done}/{r.requests} done in budget]"
    noop_equiv = r.per_min / per_msg if per_msg else None
    ctx.report.add(
        section,
        f"{label}: throughput",
        r.per_min,
        "req/min",
        baseline="no-op, same msgs (req-equiv/min)",
        baseline_value=noop_equiv,
        ratio=per_msg,
        target=target,
        met=bool(met(r.per_min, per_msg)),
    )
    for name, value in (("p50", r.p50), ("p95", r.p95)):
        ctx.report.add(
            section,
            f"{label}: {name} submit→reply",
            value,
            "s",
            baseline="no-op drain of the same msgs (s)",
            baseline_value=noop_s,
            ratio=ratio(value, noop_s),
        )
    stages = ", ".join(f"{s} {100 * r.stage_share[s]:.0f}%" for s in STAGES)
    waits = r.pg_waits or {}
    actors = ", ".join(
        f"{name.split('_')[0]} {a['n']:.0f}x {a['wall_ms_mean']:.0f}/{a['cpu_ms_mean']:.0f}"
        for name, a in sorted(r.actors.items())
    )
    lines = ctx.report.details.setdefault("stage_lines", [])
    lines.append(f"{section} {label}: share of submit→reply: {stages}")
    lines.append(
        f"    worker CPU {1000 * r.worker_cpu_s / max(done, 1):.0f} ms/request; "
        f"messages (count x wall/CPU ms each): {actors}; ledger connections waiting "
        f"on a lock {100 * (waits.get('lock_wait_share_of_active') or 0):.0f}% of "
        f"their busy time; replies received by the SMTP sink {r.replies_received}; "
        f"failed deliveries of a message (retried): "
        f"{int(sum(a.get('errors', 0) for a in r.actors.values()))}; intake retries "
        f"{r.intake_retries}"
    )
    if r.unfinished:
        lines.append(f"    unfinished: {r.unfinished}, their tasks: {r.stuck_tasks}")
