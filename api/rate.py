"""Fixed-window counters in Redis (the broker's), shared by every API process.

A counter starts at its first hit and lives ``window_seconds`` (SET NX EX, then INCR), so a
subject over its limit waits until its window ends. Subjects are hashed before they reach Redis
(a client address, a key prefix or an e-mail address never sits there as written). When Redis
does not answer, nothing is counted or refused (logged): the broker's outage is already reported
by ``/healthz``, and a throttle must not lock everyone out. Used by the failed-login throttle
(``api/throttle.py``) and the privacy center (``api/privacy_guard.py``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def hashed(kind: str, value: str, key: bytes | None = None) -> str:
    """``kind:<digest>`` of ``value``; keyed (HMAC) when what is hashed is guessable."""
    digest = (
        hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
        if key is not None
        else hashlib.sha256(value.encode()).hexdigest()
    )
    return f"{kind}:{digest[:24]}"


class FixedWindow:
    """Counters named ``<prefix><subject>``, each living ``window_seconds`` from its first hit."""

    def __init__(self, redis: Callable[[], Any], prefix: str, window_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.window = window_seconds

    def wait(self, limits: Mapping[str, int]) -> int:
        """Seconds until every subject is under its limit again (0: none is over it)."""
        try:
            client = self.redis()
            wait = 0
            for subject, limit in limits.items():
                count = client.get(self.prefix + subject)
                if count is not None and int(count) >= limit:
                    wait = max(wait, int(client.ttl(self.prefix + subject)), 1)
            return wait
        except Exception as err:  # noqa: BLE001 - Redis unreachable: refuse nobody
            log.warning("throttle_unavailable", error=type(err).__name__)
            return 0

    def count(self, subjects: Iterable[str]) -> list[int]:
        """One more hit for each subject; each one's count in its window (empty: no Redis)."""
        try:
            pipe = self.redis().pipeline()
            for subject in subjects:
                pipe.set(self.prefix + subject, 0, ex=self.window, nx=True)
                pipe.incr(self.prefix + subject)
            return [int(n) for n in pipe.execute()[1::2]]
        except Exception as err:  # noqa: BLE001
            log.warning("throttle_unavailable", error=type(err).__name__)
            return []

    def take(self, limits: Mapping[str, int]) -> int:
        """Count one hit for each subject, then the seconds to wait when one went over its
        limit (0: allowed). Counting first means simultaneous hits cannot all slip through."""
        try:
            pipe = self.redis().pipeline()
            for subject in limits:
                pipe.set(self.prefix + subject, 0, ex=self.window, nx=True)
                pipe.incr(self.prefix + subject)
                pipe.ttl(self.prefix + subject)
            replies = pipe.execute()
        except Exception as err:  # noqa: BLE001
            log.warning("throttle_unavailable", error=type(err).__name__)
            return 0
        wait = 0
        for i, limit in enumerate(limits.values()):
            count, ttl = int(replies[3 * i + 1]), int(replies[3 * i + 2])
            if count > limit:
                wait = max(wait, ttl, 1)
        return wait


def forget(client: Any, prefix: str) -> None:
    """Drop every counter under ``prefix`` (tests; or ops lifting a lockout by hand)."""
    for name in client.scan_iter(match=f"{prefix}*"):
        client.delete(name)
