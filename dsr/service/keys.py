"""Rotating keys (``dsr keys``): the master secret, and the suppression key chain.

The master secret (sessions, links, codes) rotates with a grace period: the previous one still
verifies what it signed until the grace ends. When it is configured (``DSR_SECRET_KEY``) the
operator rotates it in the environment; when it lives in the key file, ``rotate_master`` does.

The suppression key is never rotated by changing a setting: a stored hash cannot be recomputed
without the address, so ``rotate_suppression`` wraps every hash on every suppression list in a
new key and appends that key to the chain. Every step is resumable: the new key is saved before
any list changes, each list is re-keyed in one transaction that also stores the new chain's check
value (a second run skips it), and the ledger's check value moves last.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from config import keys
from connectors.base import SuppressionList
from dsr.core.ledger import audit, key_checks
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import migrate, session_scope
from dsr.core.ledger.models import utcnow
from dsr.errors import ConfigError, InvalidInput, PermissionDenied
from dsr.identity import suppression_check
from dsr.service.app import Service
from dsr.service.callers import Caller
from dsr.service.views import MasterRotatedOut, SuppressionRotatedOut


def _ops_only(by: Caller) -> None:
    if not by.may(Role.OPS):
        raise PermissionDenied("not allowed for this role")


def _key_file(svc: Service) -> dict[str, Any]:
    data = keys.read_key_file(svc.rt.settings.var_dir.resolve())
    if data is None:
        raise ConfigError("no key file yet: start any command once to create it")
    return data


def _save(svc: Service, data: dict[str, Any]) -> None:
    keys.write_key_file(svc.rt.settings.var_dir.resolve(), data)


def rotate_master(svc: Service, *, grace_days: int, by: Caller) -> MasterRotatedOut:
    """A new master secret in the key file; the old one verifies for ``grace_days`` more."""
    _ops_only(by)
    if svc.rt.settings.keys.master_from == "environment":
        raise InvalidInput(
            "DSR_SECRET_KEY is set: rotate it there (the old value as DSR_PREVIOUS_SECRET_KEY, "
            "with DSR_PREVIOUS_SECRET_KEY_UNTIL), then restart every process"
        )
    if not 0 <= grace_days <= 90:
        raise InvalidInput("grace_days is between 0 and 90", "grace_days")
    data = _key_file(svc)
    until = utcnow() + timedelta(days=grace_days)
    data.update(
        secret_key=keys.new_key(),
        previous_secret_key=data["secret_key"],
        previous_secret_key_until=until.isoformat(),
    )
    _save(svc, data)
    with svc.session() as session:
        audit.record(session, actor=by.actor, action="secret_key_rotated", grace_days=grace_days)
    return MasterRotatedOut(rotated="secret_key", previous_accepted_until=until.isoformat())


def rotate_suppression(svc: Service, *, by: Caller) -> SuppressionRotatedOut:
    """Re-key every suppression list with a new key appended to the chain (run with the
    workers, scheduler and API stopped: they hold the old chain until restarted)."""
    _ops_only(by)
    ring = svc.rt.settings.keys
    from_file = ring.suppression_from == "file"
    new_key = ring.suppression_next
    if new_key is None and from_file:
        new_key = keys.new_key()
        data = _key_file(svc)
        data["suppression_key_next"] = new_key
        _save(svc, data)  # before any list changes: a crash must never lose the new key
    if new_key is None:
        raise InvalidInput(
            "set DSR_SUPPRESSION_KEY_NEXT to a new random key (32+ characters, no comma) first"
        )
    if "," in new_key or len(new_key) < 16:
        raise InvalidInput("the new suppression key must be 16+ characters without a comma")
    if new_key in ring.suppression.split(","):
        raise InvalidInput("the new suppression key is already in the chain: unset it, done")
    old, new = ring.suppression, f"{ring.suppression},{new_key}"
    migrate(svc.rt.db_url)
    with session_scope(svc.rt.db_url) as session:
        if key_checks.pinned(session) not in (None, suppression_check(old), suppression_check(new)):
            raise ConfigError(key_checks.MISMATCH)
    now = utcnow()
    stores: dict[str, int] = {}
    for name, connector in svc.rt.connectors.items():
        if isinstance(connector, SuppressionList):
            count = connector.rekey_suppression(new_key, now=now)
            if count is not None:
                stores[name] = count
    with session_scope(svc.rt.db_url) as session:
        key_checks.pin(session, suppression_check(new))
        audit.record(session, actor=by.actor, action="suppression_key_rotated", stores=stores)
    if from_file:
        data = _key_file(svc)
        data["suppression_key"] = new
        data.pop("suppression_key_next", None)
        _save(svc, data)
    return SuppressionRotatedOut(
        rotated="suppression_key",
        stores=stores,
        keys_in_chain=len(new.split(",")),
        key_source="file" if from_file else "environment",
    )
