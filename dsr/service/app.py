"""The application service: what every door (CLI, HTTP API, web pages, demo) may do.

Each method is one unit of work: open a short transaction, call the core, commit, then hand the
next steps to ``enqueue``. A broker that cannot be reached never fails a request that is already
committed: the ledger holds the work and re-drive sends it; the door is told through ``warn``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from dsr.core.identity import artefacts
from dsr.core.intake import approval, complaints, filing, subject_status, verification
from dsr.core.intake.views import RequestDetail, RequestOut, iso, request_view, request_views
from dsr.core.ledger import audit, exports, paths, storage
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.models import (
    OPEN_REQUEST,
    AuditEvent,
    Request,
    RequestKind,
    RequestStatus,
)
from dsr.core.pipeline import redrive, review, subjects, tasks
from dsr.core.replies import links, status_links
from dsr.core.runtime.deadlines import overdue_clause
from dsr.errors import Gone, InvalidInput, NotFound, PermissionDenied, StateConflict, StoreError
from dsr.objects import Blob
from dsr.service.access import AccessOps
from dsr.service.admin import AdminOps
from dsr.service.approvals import ApprovalOps
from dsr.service.callers import Caller
from dsr.service.desk import DeskOps
from dsr.service.guards import GuardOps
from dsr.service.metrics import MetricsOps
from dsr.service.review_details import ReviewOps
from dsr.service.views import AnsweredOut, AnswerTemplateOut, RedriveOut, SubjectStatusOut


class Service(DeskOps, ReviewOps, ApprovalOps, GuardOps, AdminOps, AccessOps, MetricsOps):
    """The operations of the system over one Runtime; ``enqueue`` sends steps after commit."""

    # -- requests ---------------------------------------------------------------------------

    def submit(self, sub: filing.Submission, *, by: Caller) -> RequestOut | SubjectStatusOut:
        """File a request: validated completely before anything is written; ``by`` owns it.

        A subject (privacy center) files under the same rules as staff without ``--verified``:
        nothing is proven until the code comes back, and they cannot vouch for themselves. What
        they get back is the subject's view with the request's status link (``status_token``).
        """
        if by.is_subject and (sub.verified or sub.by or by.owner is None):
            raise PermissionDenied("a subject files unverified, as a visitor")
        if sub.verified:
            approval.check_voucher(self.rt.settings, sub.kind, is_ops=by.may(Role.OPS))
        valid = filing.validate(self.rt, sub)  # the only check: the core takes it as is
        try:
            data = self._submit(valid, owner=by.owner)
        except OSError as err:  # its e-mail could not be written: nothing was committed
            raise storage.storage_error(err) from None
        if by.is_subject:
            return self._subject_view(data.id)
        return data

    def _submit(self, valid: filing.ValidSubmission, *, owner: str | None) -> RequestOut:
        with self.session() as session:
            actor = valid.by or "subject"
            pseudonyms = self.rt.settings.keys.suppression
            joined = subjects.join(session, valid, pseudonyms, actor=actor, owner=owner)
            if joined is not None:  # an identical request is open: one request, one reply
                session.commit()
                view = request_view(session, joined)
                view.duplicate_of = joined.id
                return view
            try:
                request, follow = filing.submit(session, self.rt, valid, owner=owner)
            except (OSError, StoreError):
                # Its e-mails are written before the row commits; the row will not, so the
                # folder (or the bucket's objects) must not stay either (none without a row).
                for obj in list(session.identity_map.values()):
                    if isinstance(obj, Request):
                        exports.remove_request(self.rt.settings, obj.id)
                raise
            session.commit()
            data = request_view(session, request)
        self.send(follow)
        return data

    def verify(self, request_id: str, code: str, *, by: Caller) -> RequestOut | SubjectStatusOut:
        """The subject's one-time code (typed in by ``by``); the request continues."""
        with self.session() as session:
            self._load(session, request_id, by)
            verdict = verification.verify(session, self.rt, request_id, code)
            session.commit()  # a wrong code's attempt counts, though the command fails
            data = _for(by, request_view(session, self._load(session, request_id)))
        self.send(verdict.follow)  # on a refusal: an ops alert's e-mail, if any
        if verdict.refused is not None:
            raise InvalidInput(verdict.refused)
        return self._subject_view(request_id) if by.is_subject else data

    def retry(self, request_id: str, *, by: Caller) -> RequestOut:
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
            data = request_view(session, self._load(session, request_id))
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
    ) -> RequestOut:
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
            data = request_view(session, self._load(session, request_id))
        self.send(follow)
        return data

    def redrive(self, request_id: str | None = None, *, by: Caller) -> RedriveOut:
        """Re-send the steps of stuck work now: one request, or every request."""
        self._require(by, Role.OPS)
        with self.session() as session:
            if request_id is not None:
                self._load(session, request_id)
            follow = redrive.stuck(session, self.rt, older_than_seconds=0, request_id=request_id)
        self.send(follow)
        return RedriveOut(request_id=request_id, steps=len(follow))

    def status(self, request_id: str, *, by: Caller) -> RequestDetail | SubjectStatusOut:
        """The request with its tasks, who filed it and its audit trail (ids and counts only);
        a subject gets only where it stands (``dsr.core.intake.subject_status``). Staff may
        name the request by a unique prefix of 8 or more characters (audited as a search)."""
        if not by.is_subject and len(request_id) != 32:
            request_id = self.resolve_id(request_id, by=by)
        with self.session() as session:
            request = self._load(session, request_id, by)
            if by.is_subject:
                return self._subject_view(request.id, session)
            data = _for(by, request_view(session, request)).model_dump(exclude_unset=True)
            if request.status == RequestStatus.AWAITING_VERIFICATION:
                data["attempts_left"] = verification.attempts_left(session, self.rt, request)
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
        return RequestDetail.model_validate(data)

    def listing(
        self,
        *,
        by: Caller,
        status: str | None = None,
        overdue: bool = False,
        limit: int | None = None,
        kind: str | None = None,
    ) -> list[RequestOut]:
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
            return [_for(by, v) for v in request_views(session, list(session.exec(query)))]

    def export(self, request_id: str, *, by: Caller) -> Path | Blob:
        """The access bundle for ops, or for the support key that filed the request; the
        download is recorded in the audit log. A subject's download is the link in their reply,
        which goes only to the verified address (S4), never the status page."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            request = self._load(session, request_id, by)
            if approval.download_refused(request, is_ops=by.may(Role.OPS)):
                raise PermissionDenied("a staff-vouched export is the subject's; ops may grant it")
        path = self.bundle(request_id, by=by)
        self.record_download(request_id, by=by)
        return path

    def bundle(self, request_id: str, *, by: Caller) -> Path | Blob:
        """The access bundle (on disk, or in the bucket), for a caller who sees the request;
        Gone when an erasure removed it, else NotFound when there is none (yet)."""
        with self.session() as session:
            self._load(session, request_id, by)  # first: an unknown id is NotFound, nothing else
            if artefacts.revoked(session, request_id):
                raise Gone("this export was deleted when the data was erased")
        if exports.is_remote(self.rt.settings):
            blob = Blob(exports.store(self.rt.settings), exports.bundle_key(request_id))
            if blob.store.size(blob.key) is None:
                raise NotFound("no export for this request")
            return blob
        path = paths.bundle(self.rt.settings.resolved_export_dir, request_id)
        if not path.is_file():
            raise NotFound("no export for this request")
        return path

    def record_download(self, request_id: str, *, by: Caller) -> None:
        """Who downloaded a subject's data goes in the audit log."""
        with self.session() as session:
            self._load(session, request_id, by)
            audit.record(session, actor=by.actor, action="export_downloaded", request_id=request_id)

    def may_download(self, request_id: str, *, by: Caller) -> bool:
        """Whether ``by`` may download the bundle of the request (a page shows the link)."""
        if by.is_subject or not self._has_bundle(request_id):
            return False
        with self.session() as session:
            request = session.get(Request, request_id)
            return (
                request is not None
                and by.sees(request)
                and not approval.download_refused(request, is_ops=by.may(Role.OPS))
            )

    def _has_bundle(self, request_id: str) -> bool:
        if exports.is_remote(self.rt.settings):
            return exports.store(self.rt.settings).size(exports.bundle_key(request_id)) is not None
        return paths.bundle(self.rt.settings.resolved_export_dir, request_id).is_file()

    # -- the privacy center -----------------------------------------------------------------

    def subject_by_link(self, token: str) -> Caller:
        """The subject holding a status link, who sees that one request; NotFound alike for a
        tampered, expired or malformed link (nothing says which check failed)."""
        try:
            request_id = status_links.read_token(token, self.rt.settings)
        except InvalidInput:
            raise NotFound("no such request") from None
        return Caller.subject(request_id=request_id)

    def holder_of_download_link(self, token: str) -> Caller:
        """The subject holding a download link (from their reply), who may fetch that one
        request's bundle; NotFound alike for a tampered, expired or malformed link."""
        try:
            request_id = links.read_download_token(token, self.rt.settings)
        except InvalidInput:
            raise NotFound("no such export") from None
        return Caller.subject(request_id=request_id)

    def _subject_view(self, request_id: str, session: Session | None = None) -> SubjectStatusOut:
        if session is None:
            with self.session() as own:
                return self._subject_view(request_id, own)
        request = self._load(session, request_id)
        data = subject_status.view(
            session, request, max_attempts=self.rt.settings.verification_max_attempts
        )
        left = verification.attempts_left(session, self.rt, request)
        data["attempts_left"] = left if data["code_open"] else 0
        if data["code_open"] and left == 0:  # the mailbox's codes are refused for today
            data["code_open"] = False
            data["phase"] = subject_status.Phase.CODE_CLOSED
        data["status_token"] = status_links.make_token(request_id, self.rt.settings)
        return SubjectStatusOut.model_validate(data)

    # -- complaints -------------------------------------------------------------------------

    def answer(
        self, request_id: str, *, template: str, by: Caller, note: str | None = None
    ) -> AnsweredOut:
        """Staff answer a complaint from a template (ops, or the support key that filed it);
        the reply goes out."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            self._load(session, request_id, by)
            follow = complaints.answer(
                session, self.rt, request_id, template=template, by=by.actor, note=note
            )
            session.commit()
            data = _for(by, request_view(session, self._load(session, request_id)))
            complaint = complaints.to_json(complaints.of(session, request_id))
        self.send(follow)
        return AnsweredOut.model_validate(
            {**data.model_dump(exclude_unset=True), "complaint": complaint}
        )

    def complaint_templates(self, *, by: Caller) -> list[AnswerTemplateOut]:
        """The answers staff may choose, and whether each needs a note."""
        self._require(by, Role.SUPPORT)
        return [
            AnswerTemplateOut(name=name, needs_note=complaints.needs_note(name))
            for name in complaints.answer_templates()
        ]


def _for(by: Caller, view: RequestOut) -> RequestOut:
    """A request as ``by`` may see it: where the reply lies on the server is for ops."""
    if view.reply is not None and not by.may(Role.OPS):
        view.reply = view.reply.model_copy(update={"path": None})
    return view


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
