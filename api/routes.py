"""``/requests``: file, list, read, verify and retry data-subject requests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import FileResponse

from api.auth import Principal, require
from api.deps import service
from api.downloads import bundle_response
from api.schemas import (
    AnswerIn,
    ErrorOut,
    RequestIn,
    ReviewIn,
    VerifyIn,
)
from api.strict_json import StrictJsonRoute
from dsr.core.ledger.models import RequestKind, RequestStatus
from dsr.service import (
    AnswerTemplateOut,
    CandidateDetailOut,
    RequestDetail,
    RequestOut,
    Role,
    SubjectStatusOut,
    Submission,
)

router = APIRouter(prefix="/requests", tags=["requests"], route_class=StrictJsonRoute)
complaints_router = APIRouter(
    prefix="/complaints", tags=["complaints"], route_class=StrictJsonRoute
)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer (one body shape for all).

    A route that authenticates may also answer 429 (too many failed authentications).
    """
    text = {
        401: "Missing or wrong API key",
        403: "The key's role does not allow this",
        404: "No such request",
        409: "The request's status does not allow this",
        410: "Deleted when the subject's data was erased",
        413: "The request body is larger than the limit (64 KB by default)",
        422: "Invalid input; nothing was written",
        429: "Too many failed authentications from this client or key: retry after Retry-After",
    }
    if 401 in codes:
        codes = (*codes, 429)
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RequestOut,
    responses=errors(401, 403, 413, 422),
)
def create_request(
    body: RequestIn,
    request: Request,
    response: Response,
    who: Principal = Depends(require(Role.SUPPORT)),
) -> RequestOut | SubjectStatusOut:
    """File a request; the API key owns it, and its name is recorded as who filed it."""
    sub = Submission(
        kind=body.kind.value,
        email=body.email,
        phone=body.phone,
        name=body.name,
        changes=dict(body.changes),
        jurisdiction=body.jurisdiction,
        language=body.language,
        verified=body.verified,
        by=who.actor,
        text=body.text,
    )
    data = service(request).submit(sub, by=who.caller)
    response.headers["Location"] = f"/requests/{data.id}"
    return data


@router.get("", response_model=list[RequestOut], responses=errors(401, 403, 422))
def list_requests(
    request: Request,
    status_: RequestStatus | None = Query(None, alias="status"),
    overdue: bool = Query(False, description="Open requests past their due date."),
    limit: int = Query(100, ge=1, le=1000),
    kind: RequestKind | None = Query(None, description="Only this kind (e.g. complaint)."),
    who: Principal = Depends(require(Role.SUPPORT)),
) -> list[RequestOut]:
    """Requests, newest first: ops see all, support those filed with its key."""
    return service(request).listing(
        by=who.caller, status=status_, overdue=overdue, limit=limit, kind=kind
    )


@router.get("/{request_id}", response_model=RequestDetail, responses=errors(401, 403, 404))
def get_request(
    request_id: str, request: Request, who: Principal = Depends(require(Role.SUPPORT))
) -> RequestDetail | SubjectStatusOut:
    """The request, each connector task, the reply, who filed it and its audit trail (support:
    only requests filed with its key; others are 404)."""
    return service(request).status(request_id, by=who.caller)


@router.post(
    "/{request_id}/verify",
    response_model=RequestOut,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def verify_request(
    request_id: str,
    body: VerifyIn,
    request: Request,
    who: Principal = Depends(require(Role.SUPPORT)),
) -> RequestOut | SubjectStatusOut:
    """The subject's one-time code; on success the request continues to its stores."""
    return service(request).verify(request_id, body.code, by=who.caller)


@router.post("/{request_id}/retry", response_model=RequestOut, responses=errors(401, 403, 404, 409))
def retry_request(
    request_id: str, request: Request, who: Principal = Depends(require(Role.OPS))
) -> RequestOut:
    """Re-drive a needs_attention request's failed tasks (ops)."""
    return service(request).retry(request_id, by=who.caller)


@router.get(
    "/{request_id}/candidates",
    response_model=list[CandidateDetailOut],
    responses=errors(401, 403, 404),
)
def candidate_details(
    request_id: str, request: Request, who: Principal = Depends(require(Role.OPS))
) -> list[CandidateDetailOut]:
    """Each undecided candidate as its store holds it now, masked (ops): name, the identifiers
    that hit it and its others, the account's creation and last activity. Audited."""
    return service(request).candidate_details(request_id, by=who.caller)


@router.post(
    "/{request_id}/review",
    response_model=RequestOut,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def review_request(
    request_id: str,
    body: ReviewIn,
    request: Request,
    who: Principal = Depends(require(Role.OPS)),
) -> RequestOut:
    """Decide on a needs_review request's candidate records (ops): include the ones that are the
    subject's, exclude the rest; the request then continues. Audited with the key's name."""
    return service(request).review(
        request_id,
        include=body.include,
        exclude=body.exclude,
        exclude_all=body.exclude_all,
        by=who.caller,
    )


@router.get(
    "/{request_id}/export",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"application/zip": {}},
            "description": "The access bundle (ZIP), streamed",
        },
        **errors(401, 403, 404, 410),
    },
)
def download_export(
    request_id: str, request: Request, who: Principal = Depends(require(Role.SUPPORT))
) -> Response:
    """The access bundle: ops may download any, support only those of requests they filed."""
    path = service(request).export(request_id, by=who.caller)
    return bundle_response(path, f"dsr-export-{request_id}.zip")


@router.post(
    "/{request_id}/answer",
    response_model=RequestDetail,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def answer_complaint(
    request_id: str,
    body: AnswerIn,
    request: Request,
    who: Principal = Depends(require(Role.SUPPORT)),
) -> RequestDetail | SubjectStatusOut:
    """Answer a complaint from a template; the reply goes to the address that filed it."""
    svc = service(request)
    svc.answer(request_id, template=body.template, note=body.note, by=who.caller)
    return svc.status(request_id, by=who.caller)


@complaints_router.get(
    "/templates", response_model=list[AnswerTemplateOut], responses=errors(401, 403)
)
def complaint_templates(
    request: Request, who: Principal = Depends(require(Role.SUPPORT))
) -> list[AnswerTemplateOut]:
    """The answers staff may choose for a complaint, and whether each needs a note."""
    return service(request).complaint_templates(by=who.caller)
