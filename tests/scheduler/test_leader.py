"""One scheduler leads: a Redis lock with expiry and renewal (real Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from scheduler.leader import Leader


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the machine's Redis."""
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def key(client: redis.Redis) -> Iterator[str]:
    """A lock key of this test's own, removed afterwards."""
    name = f"dsr-test-leader-{uuid.uuid4().hex[:8]}"
    yield name
    client.delete(name)


def _pair(client: redis.Redis, key: str, ttl: float, events: list[str]) -> tuple[Leader, Leader]:
    def leader(who: str) -> Leader:
        return Leader(
            client,
            key,
            ttl=ttl,
            on_elected=lambda: events.append(f"{who}+"),
            on_lost=lambda: events.append(f"{who}-"),
        )

    return leader("a"), leader("b")


def test_only_one_of_two_leads_and_renewal_keeps_it(client: redis.Redis, key: str) -> None:
    """Two contenders: the first takes the lock, renews it, and the second never leads."""
    events: list[str] = []
    a, b = _pair(client, key, 30, events)
    assert a.tick() and not b.tick()
    assert a.tick() and not b.tick()
    assert client.get(key) == a.identity.encode()
    assert 29_000 < client.pttl(key) <= 30_000
    assert events == ["a+"]


def test_nobody_else_can_release_or_extend_the_lock(client: redis.Redis, key: str) -> None:
    """Release and renewal are token-checked: a follower or a forged token changes nothing."""
    events: list[str] = []
    a, b = _pair(client, key, 30, events)
    a.tick()
    b.resign()
    forged = Lock(client, key, timeout=30, thread_local=False)
    forged.local.token = b"not-the-leader"
    with pytest.raises(LockNotOwnedError):
        forged.release()
    forged.local.token = b"not-the-leader"  # release() forgot it
    with pytest.raises(LockNotOwnedError):
        forged.reacquire()
    assert client.get(key) == a.identity.encode() and a.tick()


def test_follower_takes_over_within_the_expiry_when_the_leader_dies(
    client: redis.Redis, key: str
) -> None:
    """A leader that stops renewing loses the lock after its ttl; the old leader then steps down."""
    events: list[str] = []
    a, b = _pair(client, key, 1.0, events)
    assert a.tick()
    died = time.monotonic()  # from here on ``a`` never renews: its process is gone
    while not b.tick():
        assert time.monotonic() - died < 1.0 + 0.5, "no takeover within the lock's expiry"
        time.sleep(0.02)  # polling the real Redis expiry, not a schedule slot
    assert not a.tick()  # back from a stall, it finds the lock taken and stands down
    assert events == ["a+", "b+", "a-"]


def test_resigning_hands_over_at_once(client: redis.Redis, key: str) -> None:
    """A leader shutting down frees the lock, so the follower leads on its next round."""
    events: list[str] = []
    a, b = _pair(client, key, 30, events)
    a.tick()
    a.resign()
    assert b.tick() and events == ["a+", "a-", "b+"]


def test_a_leader_that_cannot_start_gives_the_lock_back(client: redis.Redis, key: str) -> None:
    """If taking up leadership fails (ledger down), the lock is freed for another process."""

    def broken() -> None:
        raise RuntimeError("ledger unreachable")

    a = Leader(client, key, ttl=30, on_elected=broken)
    assert not a.tick() and client.get(key) is None


def test_threaded_rounds_hand_over_when_the_leader_thread_stops(
    client: redis.Redis, key: str
) -> None:
    """With background rounds, the follower takes over once the leader stops renewing."""
    a, b = Leader(client, key, ttl=1.0, interval=0.1), Leader(client, key, ttl=1.0, interval=0.1)
    a.start()
    deadline = time.monotonic() + 5
    while not a.is_leader:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    b.start()
    a.stop(release=False)  # dies without releasing
    died = time.monotonic()
    while not b.is_leader:
        assert time.monotonic() - died < 1.0 + 0.1 + 0.5
        time.sleep(0.01)
    b.stop()
    assert client.get(key) is None
