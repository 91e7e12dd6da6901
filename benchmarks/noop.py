"""The baseline actor, and a clock on every actor, loaded into the benchmark's worker processes.

Workers are started as ``python -m dramatiq workers.actors benchmarks.noop ...``: the no-op
actor shares the pipeline's broker, queue and middleware, so draining N no-op messages is what
the same worker settings cost per message with no work at all.

With ``BENCH_ACTOR_CLOCK=<redis hash key>`` in the environment, each worker process also
totals, per actor, messages processed and their wall and thread-CPU seconds, and adds them to
that hash every 0.2 s (one pipelined round trip, off the message path). Baseline actors are
not clocked.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from typing import Any

import dramatiq

import workers.actors  # noqa: F401 - the pipeline's broker and actors, declared first
from workers.broker import broker

QUEUE = "dsr"  # the pipeline's own queue: same consumer, same prefetch


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def bench_noop() -> None:
    """Does nothing: the per-message cost of the broker, worker and middleware alone."""


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def bench_ready(key: str) -> None:
    """Records which worker process took it, so the driver knows every process is consuming."""
    broker.client.sadd(key, os.getpid())
    time.sleep(0.05)  # let other processes take the next ones


class ActorClock(dramatiq.Middleware):
    """Per-actor message count, wall and CPU seconds, flushed to a Redis hash."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.local = threading.local()
        self.totals: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()
        threading.Thread(target=self._flush_loop, name="bench-clock", daemon=True).start()

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self.local.start = (time.perf_counter(), time.thread_time())

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        start = getattr(self.local, "start", None)
        self.local.start = None
        if start is None or message.actor_name.startswith("bench_"):
            return
        wall, cpu = time.perf_counter() - start[0], time.thread_time() - start[1]
        name = message.actor_name
        with self.lock:
            self.totals[f"{name}|n"] += 1
            self.totals[f"{name}|wall"] += wall
            self.totals[f"{name}|cpu"] += cpu
            if exception is not None:
                self.totals[f"{name}|errors"] += 1

    after_skip_message = after_process_message

    def _flush_loop(self) -> None:
        while True:
            time.sleep(0.2)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a lost flush only loses a statistic
                pass

    def flush(self) -> None:
        with self.lock:
            items = dict(self.totals)
            self.totals.clear()
        if items:
            pipe = broker.client.pipeline(transaction=False)
            for field, value in items.items():
                pipe.hincrbyfloat(self.key, field, value)
            pipe.execute()


if os.environ.get("BENCH_ACTOR_CLOCK"):
    broker.add_middleware(ActorClock(os.environ["BENCH_ACTOR_CLOCK"]))
