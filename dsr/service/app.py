"""The application service: what every door (CLI, HTTP API, web pages, demo) may do.

Each method is one unit of work: open a short transaction, call the core, commit, then hand the
next steps to ``enqueue``. A broker that cannot be reached never fails a request that is already
committed: the ledger holds the work and re-drive sends it; the door is told through ``warn``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from dsr.core import (
    apikeys,
    artefacts,
    audit,
    complaints,
    holds,
    intake,
    key_checks,
    paths,
    redrive,
    retention,
    review,
    status_links,
    storage,
    subject_status,
    subjects,
    tasks,
    verification,
)
from dsr.core.apikeys import Role
from dsr.core.dashboard import Dashboard
from dsr.core.dashboard import build as build_dashboard
from dsr.core.db import migrate, session_scope, units_of_work
from dsr.core.deadlines import overdue_clause
from dsr.core.models import (
    OPEN_REQUEST,
    ApiKey,
    AuditEvent,
    Hold,
    Request,
    RequestKind,
    RequestStatus,
    utcnow,
)
from dsr.core.progress import Progress, Report, ignore
from dsr.core.runtime import Runtime
from dsr.core.steps import Step
from dsr.core.views import RequestDetail, iso, request_json, requests_json
from dsr.errors import Gone, InvalidInput, NotFound, PermissionDenied, StateConflict, StoreError
from dsr.service.callers import Caller

log = structlog.get_logger(__name__)
Enqueue = Callable[[Iterable[Step]], None]
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")  # models.new_id(): uuid4 hex


def _warn_in_log(message: str) -> None:
    log.warning("enqueue_failed", detail=message)


class Service:
    """The operations of the system over one Runtime; ``enqueue`` sends steps after commit."""

    def __init__(
        self, rt: Runtime, enqueue: Enqueue, *, warn: Callable[[str], None] = _warn_in_log
    ) -> None:
        self.rt = rt
        self._enqueue = enqueue
        self._warn = warn
        self._migrated = False

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work on the ledger (schema brought up to date on first use)."""
        if not self._migrated:
            migrate(self.rt.db_url)
            with session_scope(self.rt.db_url) as session:
                key_checks.ensure_suppression_key(session, self.rt.settings.keys.suppression)
            self._migrated = True
        with session_scope(self.rt.db_url) as session:
            yield session

    def send(self, follow: Iterable[Step]) -> None:
        """Enqueue committed work; with the broker down, the ledger keeps it for re-drive."""
        follow = list(follow)
        if not follow:
            return
        try:
            self._enqueue(follow)
        except Exception as err:  # noqa: BLE001 - any broker failure; the ledger holds the work
            self._warn(
                f"broker unreachable ({type(err).__name__}); the request is saved and "
                "re-drive will send it"
            )

    def _load(self, session: Session, request_id: str, by: Caller | None = None) -> Request:
        """The request; NotFound also when ``by`` may not see it (its existence is not told)."""
        request = session.get(Request, request_id) if _REQUEST_ID.fullmatch(request_id) else None
        if request is None or (by is not None and not by.sees(request)):
            raise NotFound("no such request")
        return request

    # -- requests ---------------------------------------------------------------------------

    def submit(self, sub: intake.Submission, *, by: Caller | None = None) -> dict[str, Any]:
        """File a request: validated completely before anything is written; ``by`` owns it.

        A subject (privacy center) files under the same rules as staff without ``--verified``:
        nothing is proven until the code comes back, and they cannot vouch for themselves. What
        they get back is the subject's view with the request's status link (``status_token``).
        """
        if by is not None and by.is_subject:
            if sub.verified or sub.by or by.owner is None:
                raise PermissionDenied("a subject files unverified, as a visitor")
        valid = intake.validate(self.rt, sub)
        try:
            data = self._submit(sub, valid, owner=by.owner if by is not None else None)
        except OSError as err:  # its e-mail could not be written: nothing was committed
            raise storage.storage_error(err) from None
        if by is not None and by.is_subject:
            return self._subject_view(data["id"])
        return data

    def _submit(
        self, sub: intake.Submission, valid: intake.Submission, *, owner: str | None
    ) -> dict[str, Any]:
        with self.session() as session:
            actor = sub.by or "subject"
            pseudonyms = self.rt.settings.keys.suppression
            joined = subjects.join(session, valid, pseudonyms, actor=actor, owner=owner)
            if joined is not None:  # an identical request is open: one request, one reply
                session.commit()
                return {**request_json(session, joined), "duplicate_of": joined.id}
            try:
                request, follow = intake.submit(session, self.rt, sub, owner=owner)
            except OSError:
                # Its e-mails are written before the row commits; the row will not, so the
                # folder must not stay either (no folder without a ledger row).
                for obj in list(session.identity_map.values()):
                    if isinstance(obj, Request):
                        storage.remove_tree(
                            paths.request_dir(self.rt.settings.resolved_export_dir, obj.id)
                        )
                raise
            session.commit()
            data = request_json(session, request)
        self.send(follow)
        return data

    def verify(self, request_id: str, code: str, *, by: Caller) -> dict[str, Any]:
        """The subject's one-time code (typed in by ``by``); the request continues."""
        with self.session() as session:
            self._load(session, request_id, by)
            verdict = verification.verify(session, self.rt, request_id, code)
            session.commit()  # a wrong code's attempt counts, though the command fails
            data = _for(by, request_json(session, self._load(session, request_id)))
        if verdict.refused is not None:
            raise InvalidInput(verdict.refused)
        self.send(verdict.follow)
        return self._subject_view(request_id) if by.is_subject else data

    def retry(self, request_id: str, *, by: Caller) -> dict[str, Any]:
        """Re-drive a request (ops): a needs_attention one runs its failed tasks (or re-sends
        its failed reply) again; any other open one has its current step re-sent, as
        ``redrive`` does; a finished one is a StateConflict."""
        self._require(by, Role.OPS)
        with self.session() as session:
            request = self._load(session, request_id)
            if request.status == RequestStatus.NEEDS_ATTENTION:
                follow = tasks.retry(session, self.rt, request_id, by=by.actor)
            elif request.status in OPEN_REQUEST:
                follow = redrive.stuck(
                    session, self.rt, older_than_seconds=0, request_id=request_id
                )
                audit.record(session, actor=by.actor, action="redriven", request_id=request_id)
            else:
                raise StateConflict(f"request {request_id} is {request.status}: nothing to retry")
            session.commit()
            data = request_json(session, self._load(session, request_id))
        self.send(follow)
        return data

    def review(
        self,
        request_id: str,
        *,
        include: list[str],
        exclude: list[str],
        exclude_all: bool = False,
        by: Caller,
    ) -> dict[str, Any]:
        """Staff decision on a needs_review request's candidate records (ops): included ones are
        acted on as the subject's, excluded ones never; the audit log names who decided."""
        self._require(by, Role.OPS)
        with self.session() as session:
            self._load(session, request_id)
            follow = review.decide(
                session,
                self.rt,
                request_id,
                include=include,
                exclude=exclude,
                exclude_all=exclude_all,
                by=by.actor,
            )
            session.commit()
            data = request_json(session, self._load(session, request_id))
        self.send(follow)
        return data

    def redrive(self, request_id: str | None = None, *, by: Caller) -> dict[str, Any]:
        """Re-send the steps of stuck work now: one request, or every request."""
        self._require(by, Role.OPS)
        with self.session() as session:
            if request_id is not None:
                self._load(session, request_id)
            follow = redrive.stuck(session, self.rt, older_than_seconds=0, request_id=request_id)
        self.send(follow)
        return {"request_id": request_id, "steps": len(follow)}

    def status(self, request_id: str, *, by: Caller) -> dict[str, Any]:
        """The request with its tasks, who filed it and its audit trail (ids and counts only);
        a subject gets only where it stands (``dsr.core.subject_status``)."""
        with self.session() as session:
            request = self._load(session, request_id, by)
            if by.is_subject:
                return self._subject_view(request.id, session)
            data = _for(by, request_json(session, request))
            data["filed_by"] = _filed_by(session, request.id)
            data["complaint"] = complaints.to_json(complaints.of(session, request.id))
            data["audit"] = [
                {
                    "seq": e.seq,
                    "at": iso(e.at),
                    "actor": e.actor,
                    "action": e.action,
                    "detail": e.detail,
                }
                for e in audit.events_for(session, request.id)
            ]
        return RequestDetail.model_validate(data).model_dump(exclude_unset=True)

    def listing(
        self,
        *,
        by: Caller,
        status: str | None = None,
        overdue: bool = False,
        limit: int | None = None,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """The requests ``by`` may see, newest first; ``overdue``: open ones past due."""
        self._require(by, Role.SUPPORT)  # staff only: a subject follows one request by its link
        if status is not None and status not in RequestStatus.__members__.values():
            raise InvalidInput(f"unknown status {status!r}")
        if kind is not None and kind not in RequestKind.__members__.values():
            raise InvalidInput(f"unknown request kind {kind!r} ({', '.join(RequestKind)})")
        with self.session() as session:
            query = select(Request).order_by(col(Request.received_at).desc())
            if not by.may(Role.OPS):  # as Caller.sees: its own requests and the complaint queue
                mine = and_(col(Request.owner) == by.owner, col(Request.owner).is_not(None))
                query = query.where(or_(mine, col(Request.kind) == RequestKind.COMPLAINT))
            if status:
                query = query.where(Request.status == status)
            if kind:
                query = query.where(Request.kind == kind)
            if overdue:
                query = query.where(overdue_clause())
            if limit is not None:
                query = query.limit(limit)
            return [_for(by, d) for d in requests_json(session, list(session.exec(query)))]

    def export(self, request_id: str, *, by: Caller) -> Path:
        """The access bundle for ops, or for the support key that filed the request; the
        download is recorded in the audit log. A subject's download is the link in their reply,
        which goes only to the verified address (S4), never the status page."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            self._load(session, request_id, by)
        path = self.bundle(request_id)
        self.record_download(request_id, actor=by.actor)
        return path

    def bundle(self, request_id: str) -> Path:
        """The access bundle on disk; Gone when an erasure removed it, else NotFound when there
        is none (yet)."""
        path = paths.bundle(self.rt.settings.resolved_export_dir, request_id)
        with self.session() as session:
            if artefacts.revoked(session, request_id):
                raise Gone("this export was deleted when the data was erased")
        if not path.is_file():
            raise NotFound("no export for this request")
        return path

    def record_download(self, request_id: str, *, actor: str) -> None:
        """Who downloaded a subject's data goes in the audit log."""
        with self.session() as session:
            audit.record(session, actor=actor, action="export_downloaded", request_id=request_id)

    def may_download(self, data: dict[str, Any], by: Caller) -> bool:
        """Whether ``by`` may download the bundle of the request ``data`` shows (from status)."""
        if (
            by.is_subject
            or not paths.bundle(self.rt.settings.resolved_export_dir, data["id"]).is_file()
        ):
            return False
        with self.session() as session:
            request = session.get(Request, data["id"])
            return request is not None and by.sees(request)

    # -- the privacy center -----------------------------------------------------------------

    def subject_by_link(self, token: str) -> Caller:
        """The subject holding a status link, who sees that one request; NotFound alike for a
        tampered, expired or malformed link (nothing says which check failed)."""
        try:
            request_id = status_links.read_token(token, self.rt.settings)
        except InvalidInput:
            raise NotFound("no such request") from None
        return Caller.subject(request_id=request_id)

    def _subject_view(self, request_id: str, session: Session | None = None) -> dict[str, Any]:
        if session is None:
            with self.session() as own:
                return self._subject_view(request_id, own)
        data = subject_status.view(
            session,
            self._load(session, request_id),
            max_attempts=self.rt.settings.verification_max_attempts,
        )
        data["status_token"] = status_links.make_token(request_id, self.rt.settings)
        return data

    def _require(self, by: Caller, needed: Role) -> None:
        if not by.may(needed):
            raise PermissionDenied("not allowed for this role")

    # -- complaints -------------------------------------------------------------------------

    def answer(
        self, request_id: str, *, template: str, by: Caller, note: str | None = None
    ) -> dict[str, Any]:
        """Staff answer a complaint from a template (ops, or the support key that filed it);
        the reply goes out."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            self._load(session, request_id, by)
            follow = complaints.answer(
                session, self.rt, request_id, template=template, by=by.actor, note=note
            )
            session.commit()
            data = _for(by, request_json(session, self._load(session, request_id)))
            data["complaint"] = complaints.to_json(complaints.of(session, request_id))
        self.send(follow)
        return data

    def complaint_templates(self) -> list[dict[str, Any]]:
        """The answers staff may choose, and whether each needs a note."""
        return [
            {"name": name, "needs_note": complaints.needs_note(name)}
            for name in complaints.answer_templates()
        ]

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
    ) -> dict[str, Any]:
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

    def hold_list(self) -> list[dict[str, Any]]:
        with self.session() as session:
            return [_hold_json(h) for h in holds.active(session)]

    def hold_lift(self, hold_id: str, *, by: Caller) -> dict[str, Any]:
        self._require(by, Role.OPS)
        with self.session() as session:
            return _hold_json(holds.lift(session, hold_id, by=by.actor))

    # -- retention --------------------------------------------------------------------------

    def purge(
        self,
        *,
        by: Caller,
        dry_run: bool = False,
        connectors: list[str] | None = None,
        chunk_size: int | None = None,
        as_of: datetime | None = None,
        progress: Report = ignore,
    ) -> dict[str, Any]:
        """A retention sweep now, in this process: per-store counts, and the stores that failed.

        One store being down does not stop the other stores' sweeps. ``progress`` hears of each
        rule as it starts and ends (the CLI draws it on a terminal).
        """
        self._require(by, Role.OPS)
        policy = retention.policy_for(self.rt)
        for name in connectors or []:
            if name not in self.rt.connectors:
                raise InvalidInput(f"unknown connector {name!r}")
            if name not in policy.connectors:
                raise InvalidInput(f"no retention rule for connector {name!r}")
        now = utcnow()
        if as_of is not None:
            as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
            if as_of > now and not dry_run:
                raise InvalidInput("--as-of in the future would purge early; add --dry-run")
            now = as_of
        with self.session():
            pass  # the sweep writes PurgeRun rows: the ledger's schema must be there first
        stores: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
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
                    now=now,
                    dry_run=dry_run,
                    chunk_size=chunk_size,
                    by=by.actor,
                    policy=policy,
                    progress=relay,
                )
            except StoreError as err:
                errors.append({"connector": name, "error": str(err)})
                for task in (f"{name}.{r.table}" for r in policy.for_connector(name)):
                    if task not in finished:  # the rule that failed, and those never reached
                        progress(Progress(task, 0, None, finished=True, failed=True))
                continue
            stores += [asdict(r) for r in reports]
        return {"dry_run": dry_run, "as_of": now.isoformat(), "stores": stores, "errors": errors}

    # -- API keys and the audit log ---------------------------------------------------------

    def key_create(self, *, name: str, role: str, by: Caller) -> dict[str, Any]:
        """A new API key; the key itself is in the result once and never stored."""
        self._require(by, Role.OPS)
        if role not in apikeys.KEY_ROLES:
            raise InvalidInput(f"unknown role {role!r} (support, ops)")  # before the ledger
        with self.session() as session:
            row, key = apikeys.create(session, name=name, role=role, by=by.actor)
            return {**_key_json(row), "key": key}

    def key_list(self) -> list[dict[str, Any]]:
        with self.session() as session:
            return [_key_json(row) for row in apikeys.listing(session)]

    def key_revoke(self, key_id: str, *, by: Caller) -> dict[str, Any]:
        self._require(by, Role.OPS)
        with self.session() as session:
            return _key_json(apikeys.revoke(session, key_id, by=by.actor))

    def audit_verify(self) -> dict[str, Any]:
        """Seal what is pending, then check the chain link by link; ``ok`` False names the
        first broken event."""
        with self.session():
            pass  # the ledger's schema, before sealing
        audit.seal_all(units_of_work(self.rt.db_url))
        with self.session() as session:
            return asdict(audit.verify(session))


def _for(by: Caller, data: dict[str, Any]) -> dict[str, Any]:
    """A request's JSON as ``by`` may see it: where the reply lies on the server is for ops."""
    if data.get("reply") and not by.may(Role.OPS):
        data["reply"] = {**data["reply"], "path": None}
    return data


def _filed_by(session: Session, request_id: str) -> str | None:
    """Who filed the request, as the audit log names them (shown, never used to decide)."""
    return session.exec(
        select(AuditEvent.actor)
        .where(
            AuditEvent.request_id == request_id,
            AuditEvent.action == "received",
        )
        .order_by(col(AuditEvent.seq))
        .limit(1)
    ).first()


def _hold_json(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "email": hold.email,
        "phone": hold.phone,
        "reason": hold.reason,
        "connectors": hold.connectors,
        "until": iso(hold.until),
        "created_by": hold.created_by,
        "created_at": iso(hold.created_at),
        "lifted_at": iso(hold.lifted_at),
    }


def _key_json(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "created_at": iso(row.created_at),
        "revoked_at": iso(row.revoked_at),
    }
