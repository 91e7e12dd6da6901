"""One ledger per broker namespace, whatever Redis lost.

The namespace carries a claim under ``<namespace>:ledger``: the id of the ledger it serves and
since when that ledger has served it (``<id> <epoch seconds>``). The ledger keeps its own
record of the claim (``broker_claims``), so a claim that Redis lost (a flush, a restart without
persistence) is put back from the ledger by the fleet that owns it — by every worker every few
seconds (``workers.guard``) and at each start — never taken by whichever process starts first:

- a claim already in Redis by another ledger wins unless this ledger's own claim is older;
- with no claim in Redis, a ledger that never served the namespace waits, while the namespace
  has live workers, for them to put their claim back before taking it;
- a process that loses exits 3 with one line; at start it decides before touching the ledger,
  so it creates no file (``refuse_early``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import redis
import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from config.settings import Settings
from dsr.core.ledger.db import get_engine, session_scope
from dsr.core.ledger.models import BrokerClaim
from dsr.core.ops import deployment
from dsr.core.runtime.process import Runtime
from dsr.errors import ConfigError

log = structlog.get_logger(__name__)


def key(namespace: str) -> str:
    return f"{namespace}:ledger"


@dataclass(frozen=True)
class Claim:
    """A ledger's claim on a namespace: its id and since when (epoch seconds) it has held it."""

    ledger: str
    since: float

    def encode(self) -> str:
        return f"{self.ledger} {self.since:.3f}"

    @classmethod
    def decode(cls, raw: bytes | str | None) -> Claim | None:
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else raw
        ledger, _, since = text.partition(" ")
        try:
            return cls(ledger, float(since) if since else 0.0)  # an older release: no date
        except ValueError:
            return cls(ledger, 0.0)


Verdict = Literal["ours", "take", "refuse"]


def verdict(mine: str | None, since: float | None, theirs: Claim | None) -> Verdict:
    """Who serves the namespace: this ledger (``mine``, holding it ``since``) or the claimant."""
    if theirs is None:
        return "take"
    if mine is not None and theirs.ledger == mine:
        return "ours"
    if mine is not None and since is not None and since < theirs.since:
        return "take"  # this ledger served it first: the other one came after a flush
    return "refuse"


def _refuse(namespace: str, mine: str | None, theirs: Claim) -> ConfigError:
    ours = (mine or "none")[:8]
    log.critical("ledger_mismatch", namespace=namespace, ours=ours, theirs=theirs.ledger[:8])
    return ConfigError(
        f"broker namespace {namespace!r} serves another ledger (fingerprint "
        f"{theirs.ledger[:8]}, this ledger's is {ours}): check DSR_DATABASE_URL, "
        "DSR_REDIS_URL and DSR_BROKER_NAMESPACE"
    )


def _read(client: redis.Redis, namespace: str) -> Claim | None:
    return Claim.decode(client.get(key(namespace)))


def peek(url: str, namespace: str) -> tuple[str | None, float | None]:
    """This ledger's id and its claim on the namespace, read without creating or changing
    anything: (None, None) for a ledger that does not exist yet."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if not path or path == ":memory:":
            return None, None
        from pathlib import Path

        if not Path(path).exists():
            return None, None  # opening it would create the file
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            mine = conn.execute(sa.text("SELECT fingerprint FROM deployment WHERE id = 1")).scalar()
            try:
                since = conn.execute(
                    sa.text("SELECT claimed_at FROM broker_claims WHERE namespace = :n"),
                    {"n": namespace},
                ).scalar()
            except SQLAlchemyError:
                since = None  # a ledger from before claims were recorded
    except SQLAlchemyError:
        return None, None  # no schema yet
    finally:
        engine.dispose()
    return mine, _epoch(since)


def _epoch(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _live_workers(client: redis.Redis, namespace: str, settings: Settings) -> bool:
    """Dramatiq workers that fetched from the namespace within their heartbeat timeout."""
    now_ms = time.time() * 1000
    found = client.zrangebyscore(
        f"{namespace}:__heartbeats__", now_ms - settings.broker_heartbeat_timeout_ms, "+inf"
    )
    return bool(found)


def refuse_early(settings: Settings, client: redis.Redis, namespace: str) -> None:
    """Before a process touches its ledger: ConfigError if the namespace is another's. A ledger
    with no claim of its own, finding none in Redis while workers are live there (a flush),
    first gives them the time to put their claim back."""
    mine, since = peek(settings.resolved_database_url, namespace)
    theirs = _read(client, namespace)
    if theirs is None and since is None and _live_workers(client, namespace, settings):
        deadline = time.monotonic() + 2 * settings.ledger_claim_interval_seconds + 1
        while theirs is None and time.monotonic() < deadline:
            time.sleep(0.25)
            theirs = _read(client, namespace)
    if verdict(mine, since, theirs) == "refuse":
        assert theirs is not None
        raise _refuse(namespace, mine, theirs)


def ensure(rt: Runtime, client: redis.Redis, namespace: str) -> str:
    """This ledger's id, its claim on the namespace put (back) in Redis and recorded in the
    ledger; ConfigError if the namespace serves another ledger."""
    with session_scope(rt.db_url) as session:
        mine = deployment.fingerprint(session)
        row = session.get(BrokerClaim, namespace)
        since = row.claimed_at.timestamp() if row is not None else None
    theirs = _read(client, namespace)
    found = verdict(mine, since, theirs)
    if found == "refuse":
        assert theirs is not None
        raise _refuse(namespace, mine, theirs)
    if found == "take":
        if since is None:  # a first claim: only where no one else has one
            since = time.time()
            if not client.set(key(namespace), Claim(mine, since).encode(), nx=True):
                return ensure(rt, client, namespace)  # another came at the same instant
        else:  # put back from the ledger: whatever Redis holds is younger
            client.set(key(namespace), Claim(mine, since).encode())
            log.info("ledger_claim_restored", namespace=namespace, ledger=mine[:8])
    elif theirs is not None:
        since = theirs.since
    if row is None and since is not None:
        _record(rt, namespace, since)
    return mine


def _record(rt: Runtime, namespace: str, since: float) -> None:
    try:
        with session_scope(rt.db_url) as session:
            session.add(
                BrokerClaim(namespace=namespace, claimed_at=datetime.fromtimestamp(since, UTC))
            )
    except IntegrityError:
        pass  # another process of this ledger recorded it first


def stamp(url: str, namespace: str, *, fresh: bool = False) -> Claim | None:
    """This ledger's id and its claim's date on the namespace (``inf`` if it has none), as every
    message it sends carries them; None while the ledger has no schema. Every message sent and
    taken asks for it, so it is cached: for good once the claim is recorded (neither changes
    after that), else for a few seconds. ``fresh`` reads the ledger whatever is cached."""
    cached = _stamps.get((url, namespace))
    if cached is not None and not fresh and (cached[1] is None or time.monotonic() < cached[1]):
        return cached[0]
    if url.startswith("sqlite") and peek(url, namespace) == (None, None):
        return None  # no ledger there (and opening it would create the file)
    try:
        # begin() ends in COMMIT: the ROLLBACK a bare connect() ends in makes psycopg drop every
        # prepared statement of the pooled connection, and the whole pipeline pays for it.
        with get_engine(url).begin() as conn:
            mine = conn.execute(sa.text("SELECT fingerprint FROM deployment WHERE id = 1")).scalar()
            since = conn.execute(
                sa.text("SELECT claimed_at FROM broker_claims WHERE namespace = :n"),
                {"n": namespace},
            ).scalar()
    except SQLAlchemyError:
        return None
    if mine is None:
        return None
    when = _epoch(since)
    claim = Claim(mine, when if when is not None else float("inf"))
    _stamps[(url, namespace)] = (claim, None if when is not None else time.monotonic() + _UNCLAIMED)
    return claim


_UNCLAIMED = 5.0  # seconds a stamp whose claim is not recorded yet is reused
_stamps: dict[tuple[str, str], tuple[Claim, float | None]] = {}
