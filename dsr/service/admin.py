"""Ops' operations of the application service: dashboard, legal holds, retention sweeps, API
keys and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime

from connectors.base import Indexed
from dsr.core.intake.views import iso
from dsr.core.ledger import apikeys, audit, holds
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import units_of_work
from dsr.core.ledger.models import (
    ApiKey,
    Hold,
    utcnow,
)
from dsr.core.ops import retention
from dsr.core.ops.dashboard import Dashboard
from dsr.core.ops.dashboard import build as build_dashboard
from dsr.core.ops.retention import PurgeRequest
from dsr.core.runtime.progress import Progress, Report, ignore
from dsr.errors import InvalidInput, StoreError
from dsr.service.base import ServiceBase
from dsr.service.callers import Caller
from dsr.service.views import (
    ApiKeyOut,
    AuditCheckOut,
    HoldLiftedOut,
    HoldOut,
    IndexBuildOut,
    NewApiKeyOut,
    PurgeErrorOut,
    PurgeOut,
    PurgeRuleOut,
)


class AdminOps(ServiceBase):
    """What ops do besides handling requests (each checks the caller's role first)."""

    # -- the ops dashboard ------------------------------------------------------------------

    def dashboard(self, *, by: Caller) -> Dashboard:
        """Counts, deadlines, the queues waiting for a person, reply times and store failures."""
        self._require(by, Role.OPS)
        zone = self.rt.profiles[self.rt.settings.default_jurisdiction].zone
        with self.session() as session:
            return build_dashboard(session, zone=zone)

    # -- legal holds ------------------------------------------------------------------------

    def hold_add(
        self,
        *,
        email: str | None,
        phone: str | None,
        reason: str,
        by: Caller,
        until: datetime | None = None,
        connectors: list[str] | None = None,
    ) -> HoldOut:
        """Put a subject on legal hold (all stores, or only some)."""
        self._require(by, Role.OPS)
        unknown = [c for c in connectors or [] if c not in self.rt.connectors]
        if unknown:
            raise InvalidInput(f"unknown connector {unknown[0]!r}")
        with self.session() as session:
            hold = holds.add(
                session,
                email=email,
                phone=phone,
                reason=reason,
                by=by.actor,
                until=until,
                connectors=connectors,
                region=self.rt.settings.default_region,
            )
            return _hold_json(hold)

    def hold_list(self, *, by: Caller) -> list[HoldOut]:
        """The legal holds in force (ops)."""
        self._require(by, Role.OPS)
        with self.session() as session:
            return [_hold_json(h) for h in holds.active(session)]

    def hold_lift(self, hold_id: str, *, by: Caller) -> HoldLiftedOut:
        self._require(by, Role.OPS)
        with self.session() as session:
            before = session.get(Hold, hold_id)
            already = before is not None and before.lifted_at is not None
            data = _hold_json(holds.lift(session, hold_id, by=by.actor))
        # Lifting twice changes nothing; the caller is told it was lifted already, and when.
        return HoldLiftedOut(**data.model_dump(), already_lifted=already)

    # -- retention --------------------------------------------------------------------------

    def purge(
        self,
        request: PurgeRequest = PurgeRequest(),
        *,
        by: Caller,
        connectors: Sequence[str] = (),
        progress: Report = ignore,
    ) -> PurgeOut:
        """A retention sweep now, in this process: per-store counts, and the stores that failed.

        ``connectors`` empty sweeps every store with a rule. One store being down does not stop
        the other stores' sweeps. ``progress`` hears of each rule as it starts and ends (the CLI
        draws it on a terminal).
        """
        self._require(by, Role.OPS)
        policy = retention.policy_for(self.rt)
        for name in connectors:
            if name not in self.rt.connectors:
                raise InvalidInput(f"unknown connector {name!r}")
            if name not in policy.connectors:
                raise InvalidInput(f"no retention rule for connector {name!r}")
        now = utcnow()
        as_of = request.as_of
        if as_of is not None:
            as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
            if as_of > now and not request.dry_run:
                raise InvalidInput(
                    "as_of in the future would purge early; only a dry run may look ahead",
                    "as_of",
                    "dry_run",
                )
            now = as_of
        request = replace(request, as_of=now)
        with self.session():
            pass  # the sweep writes PurgeRun rows: the ledger's schema must be there first
        stores: list[PurgeRuleOut] = []
        errors: list[PurgeErrorOut] = []
        finished: set[str] = set()

        def relay(p: Progress) -> None:
            if p.finished:
                finished.add(p.task)
            progress(p)

        for name in connectors or policy.connectors:
            try:
                reports = retention.sweep(
                    self.rt,
                    name,
                    request,
                    by=by.actor,
                    policy=policy,
                    progress=relay,
                    send=self.send,
                )
            except StoreError as err:
                errors.append(PurgeErrorOut(connector=name, error=str(err)))
                for task in (f"{name}.{r.table}" for r in policy.for_connector(name)):
                    if task not in finished:  # the rule that failed, and those never reached
                        progress(Progress(task, 0, None, finished=True, failed=True))
                continue
            stores += [PurgeRuleOut.model_validate(asdict(r)) for r in reports]
        return PurgeOut(
            dry_run=request.dry_run, as_of=now.isoformat(), stores=stores, errors=errors
        )

    # -- API keys and the audit log ---------------------------------------------------------

    def index_stores(
        self,
        *,
        by: Caller,
        connector: str | None = None,
        full: bool = False,
        progress: Report = ignore,
    ) -> list[IndexBuildOut]:
        """Build or bring up to date the stores' identifier indexes now, in this process (a
        first build ahead of the workers; resumes one that was cut off)."""
        self._require(by, Role.OPS)
        if connector is not None and connector not in self.rt.connectors:
            raise InvalidInput(f"unknown connector {connector!r}")
        done: list[IndexBuildOut] = []
        for name, store in self.rt.connectors.items():
            if connector not in (None, name) or not isinstance(store, Indexed):
                continue

            def relay(table: str, rows: int, total: int | None, store: str = name) -> None:
                progress(Progress(f"{store}.{table}", rows, total))

            for r in store.refresh_index(full=full, progress=relay):
                progress(Progress(f"{name}.{r.table}", r.rows, r.rows, finished=True))
                done.append(
                    IndexBuildOut(
                        connector=name,
                        table=r.table,
                        rows=r.rows,
                        full=r.full,
                        seconds=round(r.seconds, 3),
                    )
                )
        return done

    def key_create(self, *, name: str, role: str, by: Caller) -> NewApiKeyOut:
        """A new API key; the key itself is in the result once and never stored."""
        self._require(by, Role.OPS)
        if role not in apikeys.KEY_ROLES:
            raise InvalidInput(f"unknown role {role!r} (support, ops)")  # before the ledger
        with self.session() as session:
            row, key = apikeys.create(session, name=name, role=role, by=by.actor)
            return NewApiKeyOut(**_key_json(row).model_dump(), key=key)

    def key_list(self, *, by: Caller) -> list[ApiKeyOut]:
        """Every API key, revoked ones included; never the key itself (ops)."""
        self._require(by, Role.OPS)
        with self.session() as session:
            return [_key_json(row) for row in apikeys.listing(session)]

    def key_revoke(self, key_id: str, *, by: Caller) -> ApiKeyOut:
        self._require(by, Role.OPS)
        with self.session() as session:
            return _key_json(apikeys.revoke(session, key_id, by=by.actor))

    def audit_verify(self, *, by: Caller) -> AuditCheckOut:
        """Seal what is pending, then check the chain link by link; ``ok`` False names the
        first broken event (ops)."""
        self._require(by, Role.OPS)
        with self.session():
            pass  # the ledger's schema, before sealing
        audit.seal_all(units_of_work(self.rt.db_url))
        with self.session() as session:
            return AuditCheckOut.model_validate(asdict(audit.verify(session)))


def _hold_json(hold: Hold) -> HoldOut:
    return HoldOut(
        id=hold.id,
        email=hold.email,
        phone=hold.phone,
        reason=hold.reason,
        connectors=hold.connectors,
        until=iso(hold.until),
        created_by=hold.created_by,
        created_at=iso(hold.created_at),
        lifted_at=iso(hold.lifted_at),
    )


def _key_json(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=iso(row.created_at),
        revoked_at=iso(row.revoked_at),
    )
