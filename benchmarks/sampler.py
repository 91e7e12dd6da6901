"""What the pipeline's ledger connections are doing while a batch runs (``pg_stat_activity``)."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa


class LockSampler:
    """Samples the workers' ledger connections (by application_name) every 20 ms: how often
    they were busy, and waiting on a lock, and which statement waited most."""

    def __init__(self, engine: sa.Engine, app: Any) -> None:
        self.engine, self.app = engine, app
        self.samples = 0
        self.active = 0
        self.waits: dict[str, int] = {}
        self.queries: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-pg-sampler", daemon=True)

    def start(self) -> None:
        if self.app:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        stmt = sa.text(
            "SELECT wait_event_type, wait_event, left(query, 120) FROM "
            "pg_stat_activity WHERE application_name = :app AND state = 'active' "
            "AND pid <> pg_backend_pid()"
        )
        with self.engine.connect() as conn:
            while not self._stop.wait(0.02):
                rows = conn.execute(stmt, {"app": self.app}).all()
                conn.rollback()
                self.samples += 1
                for wtype, event, query in rows:
                    self.active += 1
                    if wtype == "Lock":
                        self.waits[event] = self.waits.get(event, 0) + 1
                        q = " ".join(str(query).split())
                        self.queries[q] = self.queries.get(q, 0) + 1

    def summary(self) -> dict[str, Any]:
        """Mean busy and lock-waiting ledger backends per sample, and the top waiting query."""
        n = self.samples or 1
        waiting = sum(self.waits.values())
        top = max(self.queries.items(), key=lambda kv: kv[1])[0] if self.queries else None
        return {
            "samples": self.samples,
            "mean_active_backends": round(self.active / n, 2),
            "mean_lock_waiting_backends": round(waiting / n, 2),
            "lock_wait_share_of_active": round(waiting / self.active, 3) if self.active else None,
            "by_event": self.waits,
            "top_waiting_query": top,
        }
