"""Real worker processes, as ``dsr worker`` runs them (its modules: the actors, the scheduler's
actors and the keeper thread), plus ``benchmarks.noop``.

"1 and 2 worker processes" means dramatiq's ``--processes``; settings reach the workers as
``DSR_*`` environment variables, as in production. A pool is ready when every one of its
processes has taken a message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from workers import PROCESS_MODULES

ROOT = Path(__file__).resolve().parent.parent


class WorkerPool:
    """One dramatiq CLI process group with ``processes`` x ``threads`` workers."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        processes: int,
        threads: int,
        prefetch: int,
        clock_key: str,
        log: Path,
    ) -> None:
        self.env = dict(os.environ, **env, BENCH_ACTOR_CLOCK=clock_key)
        if prefetch:
            self.env["dramatiq_queue_prefetch"] = str(prefetch)
        self.processes, self.threads, self.prefetch = processes, threads, prefetch
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> dict[str, int]:
        return {"processes": self.processes, "threads": self.threads, "prefetch": self.prefetch}

    def start(self, broker: Any, timeout: float = 120) -> None:
        from benchmarks.noop import bench_ready

        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dramatiq",
                    *PROCESS_MODULES,
                    "benchmarks.noop",
                    "--queues",
                    "dsr",
                    "--processes",
                    str(self.processes),
                    "--threads",
                    str(self.threads),
                    "--skip-logging",
                ],
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        key = f"bench:{self.env['DSR_BROKER_NAMESPACE']}:ready:{uuid.uuid4().hex[:8]}"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker pool exited ({self.proc.returncode}); see {self.log}")
            for _ in range(self.processes * self.threads):
                bench_ready.send(key)
            time.sleep(0.5)
            if broker.client.scard(key) >= self.processes:
                broker.client.delete(key)
                return
        raise RuntimeError(f"worker pool not ready after {timeout}s; see {self.log}")

    def _tree(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """CPU (user + system) used so far by the pool's processes."""
        total = 0.0
        for proc in self._tree():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        """SIGTERM the pool's own process group; SIGKILL it if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
