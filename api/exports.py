"""``/exports/{token}``: the signed, expiring download link sent in an access reply.

The link goes to the subject, who has no API key: the token is the credential. It is signed with
``DSR_SECRET_KEY``, names one request and expires after ``download_link_ttl_seconds``; it serves
that request's bundle and nothing else. Staff download through ``/requests/{id}/export``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from api.deps import service
from api.downloads import bundle_response
from api.schemas import ErrorOut
from dsr.errors import InvalidInput, NotFound

router = APIRouter(tags=["exports"])
GONE = "this download link is not valid or has expired"


@router.get(
    "/exports/{token}",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"application/zip": {}},
            "description": "The access bundle (ZIP), streamed",
        },
        404: {"model": ErrorOut, "description": GONE},
        410: {"model": ErrorOut, "description": "The export was deleted when the data was erased"},
    },
)
def download(token: str, request: Request) -> Response:
    """Stream the bundle the link names; 404 alike for tampered, expired or unknown links,
    410 for a genuine link whose export an erasure deleted."""
    svc = service(request)
    try:
        holder = svc.holder_of_download_link(token)
        request_id = str(holder.request_id)
        path = svc.bundle(request_id, by=holder)
    except InvalidInput:  # NotFound included: say nothing about which check failed
        raise NotFound(GONE) from None
    svc.record_download(request_id, by=holder)
    return bundle_response(path, f"dsr-export-{request_id[:8]}.zip")
