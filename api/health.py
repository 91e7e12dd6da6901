"""``/healthz`` (ledger and broker answer) and ``/metrics`` (Prometheus, from the ledger)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.auth import Principal, require
from api.deps import service
from api.schemas import ErrorOut, HealthOut
from dsr.service import Role

router = APIRouter(tags=["operations"])
log = structlog.get_logger(__name__)


def _broker_ok(broker: Any) -> bool:
    try:
        broker.client.ping()
    except Exception as err:  # noqa: BLE001
        log.warning("health_broker_failed", error=type(err).__name__)
        return False
    return True


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A dependency does not answer"}},
)
def healthz(request: Request) -> Any:
    """Whether the ledger answers ``SELECT 1`` and the broker answers ``PING`` (no key needed)."""
    checks = {
        "ledger": service(request).ledger_ok(),
        "broker": _broker_ok(request.app.state.broker()),
    }
    body = {
        "status": "ok" if all(checks.values()) else "fail",
        "checks": {k: "ok" if v else "fail" for k, v in checks.items()},
    }
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition"},
        401: {"model": ErrorOut, "description": "Missing or wrong API key"},
        403: {"model": ErrorOut, "description": "Not an ops key"},
        429: {"model": ErrorOut, "description": "Too many failed authentications"},
    },
)
def metrics(request: Request, who: Principal = Depends(require(Role.OPS))) -> Response:
    """Requests by status and kind, overdue, task durations, replies sent, rows purged (ops)."""
    return Response(service(request).metrics(by=who.caller), media_type=CONTENT_TYPE_LATEST)
