"""One ledger per broker namespace: the namespace carries the fingerprint of the ledger it serves.

The first process to start stores its ledger's fingerprint under ``<namespace>:ledger``; every
worker, scheduler and API process compares it with its own ledger's and refuses to run on a
mismatch. A Redis flush removes the key; the next check (at start, and at each re-drive run)
puts it back.
"""

from __future__ import annotations

import redis
import structlog

from dsr.core.ledger.db import session_scope
from dsr.core.ops import deployment
from dsr.core.runtime.process import Runtime
from dsr.errors import ConfigError

log = structlog.get_logger(__name__)


def key(namespace: str) -> str:
    return f"{namespace}:ledger"


def ensure(rt: Runtime, client: redis.Redis, namespace: str) -> str:
    """This ledger's fingerprint, claimed for the namespace; ConfigError if it serves another."""
    with session_scope(rt.db_url) as session:
        mine = deployment.fingerprint(session)
    client.set(key(namespace), mine, nx=True)
    found = client.get(key(namespace))
    theirs = found.decode() if isinstance(found, bytes) else found
    if theirs is not None and theirs != mine:
        log.critical("ledger_mismatch", namespace=namespace, ours=mine[:8], theirs=theirs[:8])
        raise ConfigError(
            f"broker namespace {namespace!r} serves another ledger (fingerprint "
            f"{theirs[:8]}, this ledger's is {mine[:8]}): check DSR_DATABASE_URL, "
            "DSR_REDIS_URL and DSR_BROKER_NAMESPACE"
        )
    return mine
