"""Issue 23's faults: a kill storm, a worker started on the wrong ledger, recovery trials.

- ``Storm``: while the load runs, a random worker is SIGKILLed every ``every`` seconds (the
  supervisor of ``Faults`` restarts it a few seconds later).
- ``wrong_ledger``: after a Redis flush, a ``dsr worker`` pointed at another ledger (an empty
  SQLite path) is started; it must exit 3 and leave no file.
- ``recovery``: one worker takes a batch of requests and is SIGKILLed while it holds them; the
  time from the kill to the batch's completion, with or without the scheduler running.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fleet import DSR, Fleet


@dataclass
class Storm:
    fleet: Fleet
    faults: Any  # Faults: its supervisor restarts what the storm kills
    every: float = 5.0
    rng: random.Random = field(default_factory=lambda: random.Random(23))
    kills: int = 0
    began: float = 0.0  # wall clock, for the duplicates' explanation
    ended: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.began = time.time()
        self._thread = threading.Thread(target=self._run, name="storm", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            alive = [w for w in self.fleet.workers if w.alive()]
            if alive:
                self.faults._kill(self.rng.choice(alive))
                self.kills += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.ended = time.time()


def wrong_ledger(env: dict[str, str], folder: Path, timeout: float = 120) -> dict[str, Any]:
    """Start a worker on another ledger; its exit status, its last line and whether it left a
    ledger file behind."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "wrong-ledger.db"
    log = folder / "wrong-ledger.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [DSR, "worker", "--processes", "1", "--threads", "2"],
            env={**env, "DSR_DATABASE_URL": f"sqlite:///{db}", "DSR_LOG_FORMAT": "json"},
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            import os
            import signal

            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    lines = [x for x in log.read_text(errors="replace").splitlines() if not x.startswith("{")]
    return {"exit": code, "file_left": db.exists(), "line": lines[0][:160] if lines else ""}


def recovery(
    svc: Any, fleet: Fleet, *, trials: int, batch: int, scheduler: bool, timeout: float = 180
) -> list[float | None]:
    """Seconds from a worker's SIGKILL (while one of the batch's tasks runs) to the batch's
    completion; -1 for a trial whose batch was done before the kill (it caught nothing)."""
    from dsr.core.intake.filing import Submission
    from dsr.service import Caller
    from dsr.service.views import dump

    if scheduler:
        if not fleet.scheduler.alive():
            fleet.scheduler.start()
    else:
        fleet.scheduler.stop()
    results: list[float | None] = []
    for trial in range(trials):
        holder, *others = fleet.workers
        for w in others:
            w.stop()
        if not holder.alive():
            holder.start()
        time.sleep(8)  # started and consuming
        ids = [
            dump(
                svc.submit(
                    Submission(
                        "access",
                        f"recovery-{int(scheduler)}-{trial}-{n}@example.com",
                        verified=True,
                        by="soak",
                    ),
                    by=Caller.staff("soak"),
                )
            )["id"]
            for n in range(batch)
        ]
        # Killed once the worker is at work on the batch (a task running), not on a guess.
        until = time.monotonic() + 15
        while time.monotonic() < until and not _running(svc, ids):
            time.sleep(0.1)
        holder.kill()
        killed = time.monotonic()
        if _states(svc, ids) == {"completed"}:
            results.append(-1.0)  # done before the kill: caught nothing
            continue
        time.sleep(3.0)  # the supervisor restarts the fleet (also after a trial that missed)
        for w in fleet.workers:
            if not w.alive():
                w.start()
        took: float | None = None
        while time.monotonic() - killed < timeout:
            if _states(svc, ids) == {"completed"}:
                took = round(time.monotonic() - killed, 1)
                break
            time.sleep(0.5)
        results.append(took)
    if not fleet.scheduler.alive():
        fleet.scheduler.start()
    return results


def _states(svc: Any, ids: list[str]) -> set[str]:
    from sqlmodel import Session, col, select

    from dsr.core.ledger.db import get_engine
    from dsr.core.ledger.models import Request

    with Session(get_engine(svc.rt.db_url)) as session:
        return set(session.exec(select(Request.status).where(col(Request.id).in_(ids))).all())


def _running(svc: Any, ids: list[str]) -> bool:
    from sqlmodel import Session, col, select

    from dsr.core.ledger.db import get_engine
    from dsr.core.ledger.models import ConnectorTask

    with Session(get_engine(svc.rt.db_url)) as session:
        found = session.exec(
            select(ConnectorTask.id).where(
                col(ConnectorTask.request_id).in_(ids), ConnectorTask.status == "running"
            )
        ).first()
    return found is not None
