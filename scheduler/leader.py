"""One leader among scheduler processes: a Redis lock with an expiry, renewed while held.

The lock is redis-py's ``Lock``: ``SET NX PX`` to take it, and token-checked Lua scripts to renew
and release it, so a process can never extend or free a lock another one holds. Its token names
the holder (host, pid) for ops. A leader that cannot renew steps down at once; a follower polls
every ``interval`` and takes over at most ``ttl + interval`` after the leader's last renewal.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable

import redis
import structlog
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

log = structlog.get_logger(__name__)
Hook = Callable[[], None]


class Leader:
    """Leadership under one Redis key; ``tick`` is one round, ``start`` runs rounds in a thread."""

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        ttl: float = 30.0,
        interval: float | None = None,
        on_elected: Hook | None = None,
        on_lost: Hook | None = None,
    ) -> None:
        self.name = name
        self.ttl = ttl
        self.interval = interval if interval is not None else ttl / 5
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self._lock = Lock(client, name, timeout=ttl, thread_local=False)
        self._on_elected, self._on_lost = on_elected, on_lost
        self._state = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """Renew the lock when held, else try to take it; whether this process now leads."""
        with self._state:
            if self.is_leader:
                try:
                    self._lock.reacquire()  # back to the full ttl, only if still our token
                except (LockError, RedisError) as err:
                    log.warning(
                        "scheduler_leadership_lost", holder=self.identity, reason=type(err).__name__
                    )
                    self._lock.local.token = None
                    self._become(False)
            else:
                try:
                    won = self._lock.acquire(blocking=False, token=self.identity)
                except RedisError as err:
                    log.warning("scheduler_lock_unreachable", reason=type(err).__name__)
                    won = False
                if won:
                    self._become(True)
            return self.is_leader

    def _become(self, leader: bool) -> None:
        self.is_leader = leader
        hook = self._on_elected if leader else self._on_lost
        log.info("scheduler_leader" if leader else "scheduler_follower", holder=self.identity)
        if hook is None:
            return
        try:
            hook()
        except Exception:
            log.exception("scheduler_leadership_hook_failed", holder=self.identity)
            if leader:  # could not start leading (e.g. ledger down): let another try
                self.resign()

    def resign(self) -> None:
        """Give the lock up now (token-checked), so a follower need not wait for its expiry."""
        with self._state:
            if not self.is_leader:
                return
            try:
                self._lock.release()
            except (LockError, RedisError):
                pass  # expired or taken already: nothing of ours to free
            self._become(False)

    def start(self) -> None:
        """Run ``tick`` every ``interval`` seconds in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="scheduler-leader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    def stop(self, *, release: bool = True) -> None:
        """Stop the rounds; with ``release`` the lock is freed for a follower at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
            self._thread = None
        if release:
            self.resign()
