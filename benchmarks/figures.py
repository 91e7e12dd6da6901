"""The figures a pipeline batch adds to the report (peer and full workloads alike), and those
of an unloaded, one-at-a-time run (peer)."""

from __future__ import annotations

from typing import Any

from benchmarks.pipeline import NO_REPLY, STAGES, BatchResult, LatencyResult
from benchmarks.stats import pct, ratio


def add_batch(
    ctx: Any, section: str, label: str, r: BatchResult, *, target: str, met: Any, budget: float
) -> None:
    """Throughput (vs the no-op baseline per message), p50 and p95, the batch's elapsed time
    and how many finished within ``budget``, and the stage line.

    ``met`` is a callable taking (requests/min, per-message ratio) and returning a bool.
    """
    noop_s = sum(r.noop_seconds) / len(r.noop_seconds) if r.noop_seconds else None
    per_msg = r.per_message_ratio
    done = r.done
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
    no_reply = ", ".join(f"{r.statuses[k]} {k}" for k in NO_REPLY if r.statuses.get(k))
    ctx.report.add(
        section,
        f"{label}: elapsed, {done}/{r.requests} done" + (f" ({no_reply})" if no_reply else ""),
        r.elapsed_s,
        "s",
        baseline="no-op drain of the same msgs (s)",
        baseline_value=noop_s,
        ratio=ratio(r.elapsed_s, noop_s),
        target=f"all done in <= {budget:.0f} s",
        met=not r.unfinished,
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
        f"    worker CPU {r.cpu_ms_per_request:.0f} ms/request; "
        f"messages (count x wall/CPU ms each): {actors}; ledger connections waiting "
        f"on a lock {100 * (waits.get('lock_wait_share_of_active') or 0):.0f}% of "
        f"their busy time; replies received by the SMTP sink {r.replies_received}; "
        f"failed deliveries of a message (retried): "
        f"{int(sum(a.get('errors', 0) for a in r.actors.values()))}; intake retries "
        f"{r.intake_retries}"
    )
    if r.unfinished:
        lines.append(f"    unfinished: {r.unfinished}, their tasks: {r.stuck_tasks}")


def add_costs(
    ctx: Any, section: str, label: str, r: BatchResult, *, cpu_ms: float, lock_share: float
) -> None:
    """Worker CPU per request (vs the pool's CPU for as many no-op messages) and the share of
    the ledger connections' busy time spent waiting on a lock, each against its target."""
    cpu = r.cpu_ms_per_request
    noop_cpu = r.noop_cpu_ms_per_request
    ctx.report.add(
        section,
        f"{label}: worker CPU per request",
        cpu,
        "ms",
        baseline="no-op, same msgs (ms/request)",
        baseline_value=noop_cpu,
        ratio=ratio(cpu, noop_cpu),
        target=f"<= {cpu_ms:g} ms",
        met=cpu <= cpu_ms,
    )
    share = (r.pg_waits or {}).get("lock_wait_share_of_active")
    ctx.report.add(
        section,
        f"{label}: ledger lock wait, share of busy time",
        None if share is None else 100 * share,
        "%",
        target=f"<= {100 * lock_share:g} %",
        met=None if share is None else share <= lock_share,
    )


def add_latency(ctx: Any, section: str, label: str, r: LatencyResult, *, target_s: float) -> None:
    """Unloaded submit → reply sent, p50 (against ``target_s``) and p95, each against the same
    percentile of a no-op round trip (send one message, wait until it is acked)."""
    tag = f"{r.done}/{r.requests} sequential" + (", cut" if r.cut else "")
    for name, p in (("p50", 50), ("p95", 95)):
        value, base = pct(r.latencies, p), pct(r.round_trips, p)
        ctx.report.add(
            section,
            f"{label}: unloaded {name} submit→reply ({tag})",
            value,
            "s",
            baseline=f"no-op round trip {name} (s)",
            baseline_value=base,
            ratio=ratio(value, base),
            **(
                {"target": f"<= {target_s:g} s (Fides p50)", "met": value <= target_s}
                if p == 50
                else {}
            ),
        )
    stages = ", ".join(f"{s} {1000 * r.stage_mean_s[s]:.0f}" for s in STAGES)
    ctx.report.details.setdefault("stage_lines", []).append(
        f"{section} {label} one at a time: mean ms per stage: {stages}; worker CPU "
        f"{r.cpu_ms_per_request:.0f} ms/request; {r.done}/{r.requests} in {r.elapsed_s:.1f} s"
    )
