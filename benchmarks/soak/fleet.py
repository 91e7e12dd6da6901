"""The soak's long-running processes (`dsr worker`, `dsr scheduler`), each in its own process
group so that a SIGKILL takes a worker's dramatiq children down with it, as a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DSR = str(Path(sys.executable).parent / "dsr")


class Proc:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.killed_at: list[float] = []  # wall-clock times of its SIGKILLs (the soak's timeline)

    def start(self) -> None:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            [DSR, *self.args], env=self.env, stdout=out, stderr=out, start_new_session=True
        )
        out.close()

    def kill(self) -> None:
        """SIGKILL the process and everything it started."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.killed_at.append(time.time())
            self.popen.wait()
            self.kills += 1
        self.popen = None

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.popen = None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class Fleet:
    """Worker processes and one scheduler."""

    def __init__(self, env: dict[str, str], logs: Path, workers: int, threads: int) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.workers = [
            Proc(f"worker-{i}", ["worker", "--processes", "1", "--threads", str(threads)], env,
                 logs / f"worker-{i}.log")
            for i in range(workers)
        ]  # fmt: skip
        self.scheduler = Proc("scheduler", ["scheduler"], env, logs / "scheduler.log")

    def all(self) -> list[Proc]:
        return [*self.workers, self.scheduler]

    def start(self) -> None:
        for proc in self.all():
            proc.start()

    def revive(self) -> None:
        """Restart whatever died (a supervisor's job)."""
        for proc in self.all():
            if not proc.alive():
                proc.start()

    def stop(self) -> None:
        for proc in self.all():
            proc.stop()
