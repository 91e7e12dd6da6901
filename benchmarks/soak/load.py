"""The soak's load: requests of every kind filed through the application service, as the CLI
and the API file them, with the subject's one-time code read from the SMTP server."""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from dsr.core.intake.filing import Submission
from dsr.errors import DsrError
from dsr.service import Caller, Service
from dsr.service.views import dump

from .servers import FaultySmtp
from .subjects import Subject

KINDS = ("access",) * 5 + ("erase",) * 3 + ("rectify",) * 2


@dataclass
class Filed:
    id: str
    kind: str
    email: str
    verified: bool
    at: float


class Load:
    def __init__(self, svc: Service, smtp: FaultySmtp, subjects: list[Subject], seed: int) -> None:
        self.svc, self.smtp, self.subjects = svc, smtp, subjects
        self.rng = random.Random(seed)
        self.filed: dict[str, Filed] = {}
        self.submissions = 0
        self.joined = 0
        self.gave_up = 0  # submissions refused every time (the caller was told each time)
        self.refused: Counter[str] = Counter()  # intake errors the caller saw (and retried)
        self.samples: dict[str, str] = {}  # one traceback per kind of error, for the report
        self._lock = threading.Lock()

    def _submit(self, sub: Submission) -> None:
        for _ in range(60):  # a caller whose submission failed tries again, as a user would
            try:
                data = dump(self.svc.submit(sub, by=Caller.staff("soak")))
            except Exception as err:  # noqa: BLE001 - whatever the caller saw, it is counted
                with self._lock:
                    self.refused[type(err).__name__] += 1
                    self.samples.setdefault(
                        type(err).__name__, traceback.format_exc(limit=-4)[-1500:]
                    )
                time.sleep(1.0)
                continue
            with self._lock:
                self.submissions += 1
                if data.get("duplicate_of"):
                    self.joined += 1
                self.filed.setdefault(
                    data["id"],
                    Filed(data["id"], sub.kind, sub.email, sub.verified, time.monotonic()),
                )
            return
        with self._lock:
            self.gave_up += 1

    def submission(self) -> Submission:
        subject = self.rng.choice(self.subjects)
        kind = self.rng.choice(KINDS)
        verified = self.rng.random() > 0.15  # the rest prove their address with the code
        changes = (
            {"address": f"{self.rng.randint(1, 999)} Lê Lợi, Huế"} if kind == "rectify" else {}
        )
        return Submission(
            kind, subject.email, phone=subject.phone, changes=changes, verified=verified,
            by="soak" if verified else None,
        )  # fmt: skip

    def run(self, count: int, seconds: float, threads: int = 4) -> None:
        """File ``count`` requests spread over ``seconds``; every 25th is filed 3 times at once."""
        pause = seconds / max(count, 1)
        with ThreadPoolExecutor(threads) as pool:
            for n in range(count):
                sub = self.submission()
                copies = 3 if n % 25 == 12 else 1
                for _ in range(copies):
                    pool.submit(self._submit, sub)
                self.verify_waiting()
                time.sleep(pause)
        self.verify_waiting()

    def verify_waiting(self) -> int:
        """Enter the code of every request whose verification e-mail has arrived."""
        done = 0
        with self._lock:
            waiting = [f for f in self.filed.values() if not f.verified]
        for filed in waiting:
            code = self.smtp.code(filed.id)
            if code is None:
                continue
            try:
                self.svc.verify(filed.id, code, by=Caller.staff("soak"))
            except DsrError as err:
                if "not awaiting verification" not in str(err):
                    continue
            except (SQLAlchemyError, OSError):
                continue
            filed.verified = True
            done += 1
        return done
