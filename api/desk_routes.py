"""``/requests/search`` and ``/requests/{id}/cancel``: find a caller's requests, end one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import Principal, require
from api.deps import service
from api.routes import errors
from api.schemas import printable
from api.strict_json import StrictJsonRoute
from dsr.service import Role
from dsr.service.desk import Canceled, FoundRequest

# Registered before ``/requests/{request_id}``, so ``search`` is never read as an id.
router = APIRouter(prefix="/requests", tags=["requests"], route_class=StrictJsonRoute)


class CancelIn(BaseModel):
    """Why the request ends (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(min_length=1, max_length=500)

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str) -> str:
        return printable(value)


@router.get("/search", response_model=list[FoundRequest], responses=errors(401, 403, 422))
def search_requests(
    request: Request,
    email: str | None = Query(None, max_length=320, description="The caller's e-mail (exact)."),
    phone: str | None = Query(None, max_length=40, description="The caller's phone (exact)."),
    request_id: str | None = Query(
        None, alias="id", max_length=32, description="A request id or its 8+ prefix."
    ),
    who: Principal = Depends(require(Role.SUPPORT)),
) -> list[FoundRequest]:
    """Requests matching every identifier given, newest first: status and dates for any
    support key, ``may_open`` (details, export) for the filer and ops. Audited."""
    return service(request).find_requests(
        by=who.caller, email=email, phone=phone, request_id=request_id
    )


@router.post(
    "/{request_id}/cancel",
    response_model=Canceled,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def cancel_request(
    request_id: str,
    body: CancelIn,
    request: Request,
    who: Principal = Depends(require(Role.SUPPORT)),
) -> Canceled:
    """End an open request (ops, or the key that filed it); not one whose reply is being sent."""
    return service(request).cancel(request_id, reason=body.reason, by=who.caller)
