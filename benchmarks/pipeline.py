"""Drive a batch of requests through the real pipeline and read what happened from the ledger.

The driver submits each request as ``dsr submit --verified --by`` does (``filing.submit``,
commit, then enqueue), timing each submission; worker processes do the rest. When every
request is terminal, per-request figures come from the ledger's fine timestamps:

==========  ===============================================================
intake      submit call → committed and enqueued (driver clock)
dispatch    → first connector task started (queue wait + dispatch)
connector   → last connector task finished (all stages, hand-offs included)
aggregate   → reply row in the outbox (fan-in, queue wait, reply built)
deliver     → reply sent (queue wait + SMTP)
==========  ===============================================================

The baseline drains the same number of no-op messages through the same workers.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from benchmarks.sampler import LockSampler
from benchmarks.stats import pct, per_minute, ratio, rounded

STAGES = ("intake", "dispatch", "connector", "aggregate", "deliver")
# Ended without a reply: what is left is for a person (a failed store, a staff decision on
# records whose owner is uncertain, `dsr review`) or nothing at all.
NO_REPLY = ("needs_attention", "needs_review", "rejected", "canceled")
TERMINAL = ("completed", *NO_REPLY)  # the pipeline has nothing more to do
QUEUE_KEY = "{ns}:dsr.msgs"


@dataclass
class Submitted:
    id: str
    kind: str
    t0: float  # epoch seconds, submit call
    t1: float  # committed and enqueued


@dataclass
class BatchResult:
    """One batch's figures (seconds unless named otherwise)."""

    label: str
    requests: int
    seconds: float
    per_min: float
    p50: float
    p95: float
    stage_share: dict[str, float]
    stage_mean_s: dict[str, float]
    statuses: dict[str, int]
    messages: int
    actors: dict[str, dict[str, float]]
    worker_cpu_s: float
    driver_cpu_s: float
    noop_seconds: list[float] = field(default_factory=list)
    noop_cpu_s: list[float] = field(default_factory=list)  # the pool's CPU in each no-op drain
    elapsed_s: float | None = None  # first submit → every request terminal, or the cut
    intake_retries: int = 0
    unfinished: int = 0  # not terminal when the batch was cut (budget spent or no progress)
    cut_after_s: float | None = None
    stuck_tasks: dict[str, int] = field(default_factory=dict)  # unfinished: their task statuses
    profile: dict[str, Any] = field(default_factory=dict)  # --profile: py-spy summary
    replies_received: int | None = None  # by the SMTP sink: a check on the ledger's word
    pg_waits: dict[str, Any] = field(default_factory=dict)

    @property
    def msg_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else float("nan")

    @property
    def noop_msg_per_s(self) -> float | None:
        if not self.noop_seconds:
            return None
        return self.messages / (sum(self.noop_seconds) / len(self.noop_seconds))

    @property
    def done(self) -> int:
        return self.requests - self.unfinished

    @property
    def cpu_ms_per_request(self) -> float:
        """Worker CPU per finished request (a cut batch's includes its unfinished ones' work)."""
        return 1000 * self.worker_cpu_s / max(self.done, 1)

    @property
    def noop_cpu_ms_per_request(self) -> float | None:
        """The pool's CPU for the same number of no-op messages, per request of the batch."""
        if not self.noop_cpu_s:
            return None
        return 1000 * sum(self.noop_cpu_s) / len(self.noop_cpu_s) / max(self.done, 1)

    @property
    def per_message_ratio(self) -> float | None:
        """Pipeline messages/s ÷ no-op messages/s for the same count and workers."""
        return ratio(self.msg_per_s, self.noop_msg_per_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "requests": self.requests,
            "seconds": rounded(self.seconds),
            "elapsed_s": rounded(self.elapsed_s, 1),
            "done": self.done,
            "requests_per_min": rounded(self.per_min, 1),
            "p50_s": rounded(self.p50),
            "p95_s": rounded(self.p95),
            "stage_share": self.stage_share,
            "stage_mean_s": self.stage_mean_s,
            "statuses": self.statuses,
            "messages": self.messages,
            "messages_per_s": rounded(self.msg_per_s, 1),
            "noop_seconds": [rounded(s) for s in self.noop_seconds],
            "noop_messages_per_s": rounded(self.noop_msg_per_s, 1),
            "noop_worker_cpu_s": [rounded(c, 3) for c in self.noop_cpu_s],
            "per_message_ratio": rounded(self.per_message_ratio),
            "replies_received_by_smtp_sink": self.replies_received,
            "actors": self.actors,
            "profile": self.profile,
            "worker_cpu_s": rounded(self.worker_cpu_s, 2),
            "driver_cpu_s": rounded(self.driver_cpu_s, 2),
            "intake_retries": self.intake_retries,
            "unfinished": self.unfinished,
            "cut_after_s": self.cut_after_s,
            "unfinished_task_statuses": self.stuck_tasks,
            "pg_waits": self.pg_waits,
            "actor_errors": int(sum(a.get("errors", 0) for a in self.actors.values())),
            "worker_cpu_ms_per_request": rounded(self.cpu_ms_per_request, 1),
            "noop_worker_cpu_ms_per_request": rounded(self.noop_cpu_ms_per_request, 1),
        }


@dataclass
class LatencyResult:
    """Unloaded latency: requests one at a time (the next submitted once the last one's reply
    was sent), and the same number of no-op round trips (send one, wait until it is acked)."""

    label: str
    requests: int
    latencies: list[float]  # submit → reply sent, of the requests whose reply was sent
    round_trips: list[float]  # the no-op baseline, seconds each
    stage_mean_s: dict[str, float]
    statuses: dict[str, int]
    worker_cpu_s: float
    elapsed_s: float
    cut: bool = False  # a request did not end, or the budget ran out: the rest were not sent

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def p50(self) -> float:
        return pct(self.latencies, 50)

    @property
    def p95(self) -> float:
        return pct(self.latencies, 95)

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.worker_cpu_s / max(self.done, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "requests": self.requests,
            "done": self.done,
            "cut": self.cut,
            "elapsed_s": rounded(self.elapsed_s, 1),
            "p50_s": rounded(self.p50),
            "p95_s": rounded(self.p95),
            "max_s": rounded(max(self.latencies, default=math.nan)),
            "stage_mean_s": self.stage_mean_s,
            "statuses": self.statuses,
            "worker_cpu_ms_per_request": rounded(self.cpu_ms_per_request, 1),
            "noop_round_trip_p50_s": rounded(pct(self.round_trips, 50), 4),
            "noop_round_trip_p95_s": rounded(pct(self.round_trips, 95), 4),
            "latencies_s": [rounded(x) for x in self.latencies],
        }


class Driver:
    """Submits batches and measures them against one ledger, one broker, one worker pool."""

    def __init__(
        self,
        rt: Any,
        broker: Any,
        pool: Any,
        *,
        name: str = "batch",
        profile: bool = False,
        smtp: Any = None,
    ) -> None:
        self.rt, self.broker, self.pool, self.smtp = rt, broker, pool, smtp
        self.name, self.profile = name, profile
        url = sa.make_url(rt.db_url)
        self.app = url.query.get("application_name")
        if self.app:  # the driver's own polling is not the pipeline's work
            url = url.update_query_dict({"application_name": f"{self.app}_driver"})
        self.engine = sa.create_engine(url, pool_size=3)
        ns = rt.settings.broker_namespace
        self.queue_key = QUEUE_KEY.format(ns=ns)
        self.clock_key = pool.env["BENCH_ACTOR_CLOCK"]
        self.intake_retries = 0

    def close(self) -> None:
        self.engine.dispose()

    # -- submitting and waiting -------------------------------------------------------------

    def submit(self, subs: list[Any]) -> list[Submitted]:
        from dsr.core.intake import filing
        from dsr.core.ledger.db import get_engine
        from workers.actors import enqueue

        engine = get_engine(self.rt.db_url)
        out = []
        for sub in subs:
            t0 = time.time()
            for attempt in range(5):
                try:
                    with Session(engine, expire_on_commit=False) as session:
                        request, follow = filing.submit(
                            session, self.rt, filing.validate(self.rt, sub)
                        )
                        session.commit()
                    break
                except OperationalError:
                    # A deadlock on the audit chain's head row (see the report): what a client
                    # of `dsr submit` would do is try again.
                    self.intake_retries += 1
                    if attempt == 4:
                        raise
            enqueue(follow)
            out.append(Submitted(request.id, sub.kind, t0, time.time()))
        return out

    def wait(self, ids: list[str], timeout: float, stall: float = 60.0) -> int:
        """Wait until every request is terminal; how many are not (stuck) when none finished
        for ``stall`` seconds or ``timeout`` ran out."""
        stmt = sa.text(
            "SELECT count(*) FROM requests WHERE id IN :ids AND status IN :done"
        ).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("done", expanding=True))
        end = time.monotonic() + timeout
        last, last_change = -1, time.monotonic()
        with self.engine.connect() as conn:
            while True:
                done = conn.execute(stmt, {"ids": ids, "done": list(TERMINAL)}).scalar_one()
                conn.rollback()
                now = time.monotonic()
                if done >= len(ids):
                    return 0
                if done != last:
                    last, last_change = done, now
                if now > end or now - last_change > stall:
                    return len(ids) - done
                time.sleep(0.05)

    def drained(self, timeout: float = 120) -> None:
        """Wait until no message is queued or in flight (acks included)."""
        end = time.monotonic() + timeout
        client = self.broker.client
        while time.monotonic() < end:
            if (
                client.hlen(self.queue_key) == 0
                and client.hlen(self.queue_key.replace("dsr.msgs", "dsr.DQ.msgs")) == 0
            ):
                return
            time.sleep(0.01)
        raise TimeoutError("queue not drained")

    def run(self, label: str, subs: list[Any], budget: float) -> BatchResult:
        """Submit ``subs`` back to back, wait for every reply, and measure.

        At most ``budget`` seconds from the first submit (so a slow pipeline cannot stretch the
        run past its time limit): past it the batch is cut, figures are over the requests that
        finished within it, the workers are restarted and the queue emptied.
        """
        self.drained()
        self.broker.client.delete(self.clock_key)
        if self.smtp is not None:
            with self.smtp._lock:
                self.smtp.received.clear()
        cpu0, drv0 = self.pool.cpu_seconds(), _own_cpu()
        self.intake_retries = 0
        sampler = LockSampler(self.engine, self.app)
        sampler.start()
        spy = self._spy(label)
        with spy:
            first = time.time()
            submitted = self.submit(subs)
            left = max(1.0, budget - (time.time() - first))
            unfinished = self.wait([s.id for s in submitted], left, stall=min(20.0, left))
            cut = time.time()
        sampler.stop()
        if not unfinished:
            self.drained()
        cpu1, drv1 = self.pool.cpu_seconds(), _own_cpu()
        time.sleep(0.5)  # the workers' clocks flush every 0.2 s
        result = self.measure(label, submitted, cpu1 - cpu0, drv1 - drv0)
        result.elapsed_s = cut - first
        result.cut_after_s = round(cut - first, 1) if unfinished else None
        result.intake_retries = self.intake_retries
        result.unfinished = unfinished
        if unfinished:
            result.stuck_tasks = self._open_tasks([s.id for s in submitted])
        result.pg_waits = sampler.summary()
        result.replies_received = self._replies(submitted)
        if hasattr(spy, "summary"):
            result.profile = spy.summary()
        if unfinished:
            self._restart()
        return result

    def _restart(self) -> None:
        """After a cut: the workers restarted on an empty queue, so the next batch starts clean."""
        self.pool.stop()  # graceful: in-flight messages finish, prefetched ones go back
        self.broker.flush_all()
        self.pool.start(self.broker)

    def sequential(
        self, label: str, subs: list[Any], budget: float, *, warmup: int = 1
    ) -> LatencyResult:
        """Unloaded latency: submit one request, wait until its reply is sent, then the next.

        The first ``warmup`` requests are not counted (a restarted pool's first connections).
        The no-op baseline comes first: as many round trips as counted requests. At most
        ``budget`` seconds for the requests; a request that does not end within what is left
        cuts the run (the rest are not sent) and the workers are restarted.
        """
        trips = self.round_trips(len(subs) - warmup)
        start = time.monotonic()
        cpu0 = self.pool.cpu_seconds()
        submitted: list[Submitted] = []
        cut = False
        for i, sub in enumerate(subs):
            left = budget - (time.monotonic() - start)
            if left <= 0:
                cut = True
                break
            if i == warmup:
                cpu0 = self.pool.cpu_seconds()
            submitted.extend(self.submit([sub]))
            if not self._ended(submitted[-1].id, left):
                cut = True
                break
        elapsed = time.monotonic() - start
        cpu = self.pool.cpu_seconds() - cpu0
        counted = submitted[warmup:]
        if cut:
            self._restart()
        else:
            self.drained()
        rows = self._ledger([s.id for s in counted]) if counted else {}
        totals, stages, statuses = _per_request(rows, counted)
        return LatencyResult(
            label=label,
            requests=len(subs) - warmup,
            latencies=totals,
            round_trips=trips,
            stage_mean_s={k: round(sum(v) / len(v), 4) if v else 0.0 for k, v in stages.items()},
            statuses=statuses,
            worker_cpu_s=cpu if counted else 0.0,
            elapsed_s=elapsed,
            cut=cut,
        )

    def _ended(self, request_id: str, timeout: float) -> bool:
        """Wait until the request's reply is sent, or it ended without one; False on timeout."""
        stmt = sa.text(
            "SELECT r.status, o.sent_at FROM requests r LEFT JOIN outbox o "
            "ON o.request_id = r.id AND o.purpose = 'reply' WHERE r.id = :id"
        )
        end = time.monotonic() + timeout
        with self.engine.connect() as conn:
            while time.monotonic() < end:
                row = conn.execute(stmt, {"id": request_id}).first()
                conn.rollback()
                if row is not None and (row.sent_at is not None or row.status in NO_REPLY):
                    return True
                time.sleep(0.01)  # the latency is read from the ledger, not from this loop
        return False

    def round_trips(self, count: int, warmup: int = 1) -> list[float]:
        """Seconds for each of ``count`` no-op messages, one at a time: send → acked (gone from
        the queue's message hash). The first ``warmup`` wake an idle consumer and are dropped."""
        from benchmarks.noop import bench_noop

        self.drained()
        client = self.broker.client
        out = []
        for i in range(count + warmup):
            t0 = time.perf_counter()
            bench_noop.send()
            while client.hlen(self.queue_key) > 0:
                time.sleep(0.001)
            if i >= warmup:
                out.append(time.perf_counter() - t0)
        return out

    def baseline(self, result: BatchResult, times: int = 2) -> None:
        """The batch's no-op baseline: as many messages, drained ``times`` times, timed and
        with the pool's CPU."""
        for _ in range(times):
            cpu0 = self.pool.cpu_seconds()
            result.noop_seconds.append(self.noop(result.messages))
            result.noop_cpu_s.append(self.pool.cpu_seconds() - cpu0)

    def _spy(self, label: str) -> Any:
        from contextlib import nullcontext

        from benchmarks.profiling import PySpy

        if self.profile and self.pool.proc is not None and PySpy.available():
            return PySpy(self.pool.proc.pid, f"{self.name}-{label}")
        return nullcontext()

    def noop(self, count: int) -> float:
        """Seconds to push ``count`` no-op messages through the same workers (send → drained).

        The workers are woken first: an idle dramatiq consumer sleeps up to ``worker_timeout``
        (1 s) between polls, which would otherwise be counted as the baseline's own cost.
        """
        from benchmarks.noop import bench_noop

        self.drained()
        client = self.broker.client
        for _ in range(2 * self.pool.processes * self.pool.threads):
            bench_noop.send()
        while client.hlen(self.queue_key) > 0:
            time.sleep(0.001)
        t0 = time.perf_counter()
        for _ in range(count):
            bench_noop.send()
        while client.hlen(self.queue_key) > 0:
            time.sleep(0.005)
        return time.perf_counter() - t0

    # -- measuring --------------------------------------------------------------------------

    def measure(
        self, label: str, submitted: list[Submitted], worker_cpu: float, driver_cpu: float
    ) -> BatchResult:
        rows = self._ledger([s.id for s in submitted])
        actors = self._actors()
        totals, stages, statuses = _per_request(rows, submitted)
        # First submit → last reply of the requests that finished (unfinished ones are counted
        # apart; when a batch is cut its last reply is close to the cut anyway).
        last_reply = max((rows[s.id]["sent_at"] or 0.0 for s in submitted), default=0.0)
        seconds = last_reply - min(s.t0 for s in submitted) if totals else float("nan")
        whole = sum(totals) or 1.0
        messages = int(sum(a["n"] for a in actors.values()))
        return BatchResult(
            label=label,
            requests=len(submitted),
            seconds=seconds,
            per_min=per_minute(len(totals), seconds),
            p50=pct(totals, 50),
            p95=pct(totals, 95),
            stage_share={k: round(sum(v) / whole, 3) for k, v in stages.items()},
            stage_mean_s={k: round(sum(v) / len(v), 4) if v else 0.0 for k, v in stages.items()},
            statuses=statuses,
            messages=messages,
            actors=actors,
            worker_cpu_s=worker_cpu,
            driver_cpu_s=driver_cpu,
        )

    def _ledger(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        stmt = sa.text("""
            SELECT r.id, r.status,
                   (SELECT min(t.started_at) FROM connector_tasks t WHERE t.request_id = r.id)
                       AS first_started,
                   (SELECT max(t.finished_at) FROM connector_tasks t WHERE t.request_id = r.id)
                       AS last_finished,
                   o.created_at, o.sent_at
            FROM requests r
            LEFT JOIN outbox o ON o.request_id = r.id AND o.purpose = 'reply'
            WHERE r.id IN :ids""").bindparams(sa.bindparam("ids", expanding=True))
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(stmt, {"ids": ids}).mappings():
                out[row["id"]] = {
                    k: (v.timestamp() if hasattr(v, "timestamp") else v) for k, v in row.items()
                }
        return out

    def _replies(self, submitted: list[Submitted]) -> int | None:
        """Replies to this batch's requests that the SMTP sink received."""
        if self.smtp is None:
            return None
        ids = {s.id for s in submitted}
        return sum(
            1
            for r in self.smtp.messages()
            if str(r.message.get("Message-ID", "")).strip("<").split(".reply@")[0] in ids
        )

    def _open_tasks(self, ids: list[str]) -> dict[str, int]:
        """Unfinished requests by their status and their tasks' statuses (a leaked claim shows
        as a task left 'running' by a message that was retried; a lost fan-in as a request
        'in_progress' whose tasks are all done)."""
        stmt = sa.text(
            "SELECT r.status, string_agg(t.status || '/' || t.attempts, ',' "
            "ORDER BY t.connector) FROM requests r LEFT JOIN connector_tasks t "
            "ON r.id = t.request_id WHERE r.id IN :ids AND r.status NOT IN :done "
            "GROUP BY r.id, r.status"
        ).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("done", expanding=True))
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for status, tasks in conn.execute(stmt, {"ids": ids, "done": list(TERMINAL)}):
                key = f"{status}: tasks (status/attempts) {tasks}"
                out[key] = out.get(key, 0) + 1
        return out

    def _actors(self) -> dict[str, dict[str, float]]:
        raw = self.broker.client.hgetall(self.clock_key)
        out: dict[str, dict[str, float]] = {}
        for key, value in raw.items():
            actor, what = key.decode().split("|")
            out.setdefault(actor, {"n": 0, "wall": 0.0, "cpu": 0.0, "errors": 0})[what] = float(
                value
            )
        for data in out.values():
            n = data["n"] or 1
            data["wall_ms_mean"] = round(1000 * data["wall"] / n, 2)
            data["cpu_ms_mean"] = round(1000 * data["cpu"] / n, 2)
            data["wall"], data["cpu"] = round(data["wall"], 3), round(data["cpu"], 3)
        return out


def _per_request(
    rows: dict[str, dict[str, Any]], submitted: list[Submitted]
) -> tuple[list[float], dict[str, list[float]], dict[str, int]]:
    """Submit → reply sent of each request whose reply was sent, the same split by stage (the
    module's table), and the requests by status."""
    totals: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    statuses: dict[str, int] = {}
    for sub in submitted:
        row = rows[sub.id]
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        if row["sent_at"] is None:
            continue
        started = row["first_started"] or sub.t1
        finished = row["last_finished"] or started
        sent, created = row["sent_at"], row["created_at"]
        parts = {
            "intake": sub.t1 - sub.t0,
            "dispatch": started - sub.t1,
            "connector": finished - started,
            "aggregate": created - finished,
            "deliver": sent - created,
        }
        for name, value in parts.items():
            stages[name].append(value)
        totals.append(sent - sub.t0)
    return totals, stages, statuses


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
