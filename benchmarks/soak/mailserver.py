"""The soak's SMTP server, in a process of its own, as a mail server is.

It ran in the soak driver's process before, whose threads (filing the load, the fault
timetable, the storm) held the interpreter while a worker waited for the 250 after its final
dot: the server took a median 11 ms and up to 200 ms to answer, and a SIGKILL landing in that
wait made a duplicate. A real server answers from its own process once the message is safely
queued; so does this one: it answers first and the driver reads what it accepted afterwards
(its Message-ID, the one-time codes) from a queue.

Its answers can be switched to 451 (for now) or 550 (for good, subjects only) for a window.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import threading
import time
from collections import Counter
from email import message_from_bytes, policy
from typing import Any

from demo.smtp_sink import free_port

MODES = {"ok": 0, "451": 1, "550": 2}


class _Handler:
    """aiosmtpd's hooks, in the server process: refuse as the mode says, or keep the message
    and answer 250 at once (the driver parses it later)."""

    def __init__(self, ops: str, mode: Any, events: Any) -> None:
        self.ops, self.mode, self.events = ops, mode, events

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mode.value == MODES["451"]:
            self.events.put(("refused", "451"))
            return "451 4.3.0 soak: try again later"
        if self.mode.value == MODES["550"] and address.lower() != self.ops:
            self.events.put(("refused", "550"))
            return "550 5.1.1 soak: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        rcpts = [r.lower() for r in envelope.rcpt_tos]
        self.events.put(("accepted", bytes(envelope.content), rcpts, arrived, time.time()))
        return "250 Message accepted"


def _serve(ops: str, host: str, port: int, mode: Any, events: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Handler(ops, mode, events), hostname=host, port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    events.close()
    events.join_thread()  # everything accepted reaches the driver


class FaultySmtp:
    """The driver's handle on the server process: its mode, and what it accepted or refused."""

    def __init__(self, ops: str, host: str = "127.0.0.1") -> None:
        self.ops = ops
        self.port = free_port()
        ctx = multiprocessing.get_context("spawn")
        self._mode = ctx.Value("i", MODES["ok"], lock=False)
        self._events: Any = ctx.Queue()
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._proc = ctx.Process(
            target=_serve,
            args=(ops, host, self.port, self._mode, self._events, self._ready, self._stop),
            name="soak-smtp",
            daemon=True,
        )
        self._lock = threading.Lock()
        self._accepted: list[tuple[str, str]] = []  # (Message-ID, recipient)
        self._refused: Counter[str] = Counter()
        self._codes: dict[str, str] = {}  # request id -> one-time code
        # (Message-ID, wall time the final dot arrived, wall time of the 250): where kills landed
        self._timeline: list[tuple[str, float, float]] = []

    @property
    def mode(self) -> str:
        return next(k for k, v in MODES.items() if v == self._mode.value)

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode.value = MODES[value]

    def start(self) -> None:
        self._proc.start()
        if not self._ready.wait(60):
            raise RuntimeError("soak: the SMTP server process did not start")

    def stop(self) -> None:
        self._stop.set()
        self._drain(until_closed=True)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()

    def _drain(self, until_closed: bool = False) -> None:
        with self._lock:
            deadline = time.monotonic() + 10
            while True:
                try:
                    event = (
                        self._events.get(timeout=0.2)
                        if until_closed
                        else (self._events.get_nowait())
                    )
                except queue.Empty:
                    if until_closed and self._proc.is_alive() and time.monotonic() < deadline:
                        continue
                    return
                self._take(event)

    def _take(self, event: tuple[Any, ...]) -> None:
        if event[0] == "refused":
            self._refused[event[1]] += 1
            return
        _, content, rcpts, arrived, answered = event
        msg = message_from_bytes(content, policy=policy.default)
        mid = str(msg.get("Message-ID", ""))
        for rcpt in rcpts:
            self._accepted.append((mid, rcpt))
        if ".verification-" in mid:  # the subject's one-time code, as the subject reads it
            body = msg.get_body(("plain",))
            found = re.search(r"\b(\d{6})\b", body.get_content() if body else "")
            if found:
                self._codes[mid.strip("<").split(".", 1)[0]] = found.group(1)
        self._timeline.append((mid, arrived, answered))

    def code(self, request_id: str) -> str | None:
        self._drain()
        with self._lock:
            return self._codes.get(request_id)

    def messages(self) -> list[tuple[str, str]]:
        self._drain()
        with self._lock:
            return list(self._accepted)

    @property
    def timeline(self) -> list[tuple[str, float, float]]:
        self._drain()
        with self._lock:
            return list(self._timeline)

    @property
    def refused(self) -> Counter[str]:
        self._drain()
        with self._lock:
            return Counter(self._refused)
