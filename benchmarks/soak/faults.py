"""The fault schedule: what is broken when, run in a thread beside the load.

Times are seconds from the start of the load. A supervisor restarts killed processes after a
few seconds, as systemd or Kubernetes would.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .disk import Disk
from .fleet import DSR, Fleet
from .servers import FaultySmtp, Postgres, RedisServer

RESTART_AFTER = 3.0


@dataclass
class Fault:
    at: float
    name: str
    action: Callable[[], object]


@dataclass
class Faults:
    fleet: Fleet
    pg: Postgres
    redis: RedisServer
    smtp: FaultySmtp
    disk: Disk
    env: dict[str, str]
    logs: Path
    scale: float  # 1.0 for the full soak; the quick one compresses the timetable
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    done: list[tuple[float, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _killed_at: float = 0.0

    def timetable(self) -> list[Fault]:
        s = self.scale

        def window(
            on: Callable[[], object], off: Callable[[], object], length: float
        ) -> Callable[[], None]:
            def run() -> None:
                on()
                time.sleep(length * s)
                off()

            return run

        plan = [
            Fault(10, "SIGKILL worker-0", lambda: self._kill(self.fleet.workers[0])),
            Fault(20, "Redis FLUSHALL", self.redis.flush),
            Fault(30, "SIGKILL scheduler", lambda: self._kill(self.fleet.scheduler)),
            Fault(38, f"SMTP 451 for {30 * s:.0f} s",
                  window(self._smtp("451"), self._smtp("ok"), 30)),
            Fault(45, "SIGKILL of a `dsr purge` mid-run", self._killed_sweep),
            Fault(55, "SIGKILL worker-1", lambda: self._kill(self.fleet.workers[1])),
            Fault(75, "PostgreSQL restart", self.pg.restart),
            Fault(90, f"export disk full for {20 * s:.0f} s",
                  window(self._fill, self.disk.free, 20)),
            Fault(115, f"SMTP 550 to subjects for {15 * s:.0f} s",
                  window(self._smtp("550"), self._smtp("ok"), 15)),
            Fault(135, "Redis restart (queues lost)", self._redis_restart),
            Fault(150, "SIGKILL worker-0", lambda: self._kill(self.fleet.workers[0])),
            Fault(160, "SIGKILL of a `dsr purge` mid-run", self._killed_sweep),
            Fault(170, "SIGKILL worker-1", lambda: self._kill(self.fleet.workers[1])),
            Fault(180, "SIGKILL scheduler", lambda: self._kill(self.fleet.scheduler)),
        ]  # fmt: skip
        return [Fault(f.at * s, f.name, f.action) for f in plan]

    @property
    def length(self) -> float:
        return max(f.at for f in self.timetable()) + 35 * self.scale

    def _smtp(self, mode: str) -> Callable[[], None]:
        def switch() -> None:
            self.smtp.mode = mode

        return switch

    def _kill(self, proc: object) -> None:
        proc.kill()  # type: ignore[attr-defined]
        self._killed_at = time.monotonic()

    def _fill(self) -> None:
        if not self.disk.fill():
            self.skipped.append("export disk full (no tmpfs: not running as root?)")

    def _redis_restart(self) -> None:
        self.redis.stop()
        time.sleep(2.0)
        self.redis.start()

    def _killed_sweep(self) -> None:
        log = (self.logs / "purge.log").open("ab")
        proc = subprocess.Popen(
            [DSR, "purge", "--chunk-size", "20", "--by", "soak"],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        time.sleep(self.rng.uniform(0.5, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        plan = sorted(self.timetable(), key=lambda f: f.at)
        while not self._stop.is_set():
            now = time.monotonic() - began
            while plan and plan[0].at <= now:
                fault = plan.pop(0)
                threading.Thread(target=fault.action, daemon=True).start()
                self.done.append((round(now, 1), fault.name))
            if time.monotonic() - self._killed_at > RESTART_AFTER:
                self.fleet.revive()
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.smtp.mode = "ok"
        self.disk.free()
        self.fleet.revive()
