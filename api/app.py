"""The app factory: JSON API, web page, error mapping, sessions and the access log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import (
    alerts,
    approvals,
    certificates,
    desk_routes,
    docs,
    exports,
    health,
    page_errors,
    privacy,
    privacy_not_me,
    routes,
    web,
    web_alerts,
    web_approvals,
    web_dashboard,
    web_desk,
    web_report,
)
from api.auth import FORBIDDEN
from api.clients import ClientAddress, networks
from api.deps import broker_enqueue
from api.headers import SecurityHeaders
from api.limits import BodyLimit
from api.privacy_guard import PrivacyThrottle
from api.sessions import ServerSessions
from api.throttle import AuthThrottle
from api.web_session import LOGIN_PATH, CsrfRejected, LoginRequired, render
from dsr.errors import Gone, InvalidInput, NotFound, PermissionDenied, StateConflict
from dsr.service import Enqueue, Runtime, Service
from workers import runtime as worker_runtime

log = structlog.get_logger("api")


class AccessLog:
    """One log line per request with the route *template*: a raw path may hold a download token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            log.info(
                "http_request",
                method=scope["method"],
                route=getattr(route, "path", "-"),
                status=status,
                ms=round((time.perf_counter() - start) * 1000, 1),
            )


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    # One clear line plus each problem; the input is not echoed back (it may be personal data).
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "invalid")}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    where = ".".join(p for p in first["loc"] if p != "body") or "request"
    return _error(422, f"{where}: {first['msg']}", errors=problems)


def _handlers() -> dict[Any, Callable[..., Any]]:
    def not_found(_: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc))

    def invalid(_: Request, exc: Exception) -> JSONResponse:
        return _error(422, str(exc))

    def conflict(_: Request, exc: Exception) -> JSONResponse:
        return _error(409, str(exc))

    def gone(_: Request, exc: Exception) -> JSONResponse:
        return _error(410, str(exc))

    def denied(_: Request, exc: Exception) -> JSONResponse:
        return _error(403, FORBIDDEN)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if page_errors.is_page(request.url.path):  # a browser never sees a JSON body
            return page_errors.page_error(request, exc.status_code)
        if exc.status_code == 400:  # FastAPI's "error parsing the body": bad input like any other
            return _error(422, "the request body could not be parsed; send UTF-8 JSON")
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    def login_required(_: Request, exc: Exception) -> Response:
        return RedirectResponse(LOGIN_PATH, status_code=303)

    def csrf_rejected(request: Request, exc: Exception) -> Response:
        return render(request, "web/error.html", 403, problem="csrf")

    return {
        NotFound: page_errors.for_pages(404, not_found),
        InvalidInput: page_errors.for_pages(422, invalid),
        StateConflict: page_errors.for_pages(409, conflict),
        Gone: page_errors.for_pages(410, gone),
        PermissionDenied: page_errors.for_pages(403, denied),
        RequestValidationError: page_errors.for_pages(422, _validation_error),
        StarletteHTTPException: http_error,
        LoginRequired: login_required,
        CsrfRejected: csrf_rejected,
    }


def _default_broker() -> Any:
    # Imported on first use: importing it wires the broker from the environment, which an app
    # given its own ``broker`` (tests, the demo) must not do.
    from workers.broker import broker

    return broker


def create_app(
    rt: Runtime, *, enqueue: Enqueue | None = None, broker: Any | None = None
) -> FastAPI:
    """The HTTP API and the support-staff web page over ``rt``'s ledger.

    ``enqueue`` sends steps after commit (default: the dramatiq actors); ``broker`` is what
    ``/healthz`` pings (default: the process's dramatiq broker).
    """
    # Fan-in steps run inline inside ``enqueue``, against the process's Runtime: this one.
    worker_runtime.set_runtime(rt)
    settings = rt.settings
    production = settings.env == "production"
    app = FastAPI(
        title="Data-subject requests",
        version="1.0",
        summary="File and follow access, rectify and erase requests; download access exports.",
        description="Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>` "
        "(keys from `dsr apikey create`). Roles: `support` files, views and "
        "downloads the exports it filed; `ops` may do everything.",
        openapi_url=None if production else docs.SCHEMA,
        docs_url=None if production else docs.DOCS,
        redoc_url=None,
        exception_handlers=_handlers(),
    )
    app.state.service = Service(rt, enqueue or broker_enqueue)
    app.state.broker = (lambda: broker) if broker is not None else _default_broker
    app.state.privacy_throttle = PrivacyThrottle(
        redis=lambda: app.state.broker().client,
        namespace=settings.broker_namespace,
        key=lambda: settings.keys.privacy.current,
        client_limit=settings.privacy_client_limit,
        address_limit=settings.privacy_address_limit,
        window_seconds=settings.privacy_window_seconds,
    )
    for router in (
        desk_routes.router,  # before routes.router: /requests/search is not an id
        routes.router,
        routes.complaints_router,
        approvals.router,
        exports.router,
        health.router,
        web_desk.router,
        web.router,
        web_dashboard.router,
        web_report.router,
        certificates.router,  # before privacy's /privacy/{kind}
        web_approvals.router,
        privacy_not_me.router,
        privacy.router,
        alerts.router,
        web_alerts.router,
    ):
        app.include_router(router)
    if production:
        docs.guard(app)
    # Outermost last. A request meets: the access log, the security headers, the body cap,
    # the failed-login throttle, the session, then the routes (authentication and parsing).
    app.add_middleware(
        ServerSessions,
        service=app.state.service,
        keys=lambda: settings.keys.sessions,
        ttl_seconds=settings.session_ttl_seconds,
        https_only=production,
    )
    app.add_middleware(
        AuthThrottle,
        redis=lambda: app.state.broker().client,
        namespace=settings.broker_namespace,
        limit=settings.auth_failure_limit,
        window_seconds=settings.auth_failure_window_seconds,
        login_path=LOGIN_PATH,
        on_prefix_attack=lambda count: app.state.service.key_prefix_attacked(count=count),
        # They take no key: nothing to guess there (the privacy center has its own throttle).
        open_paths=("/exports/", "/healthz", "/privacy"),
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, docs_path=docs.DOCS, hsts=production)
    app.add_middleware(AccessLog)
    # Outermost of all: every layer (the log, the throttles) sees the client as it is.
    app.add_middleware(ClientAddress, trusted=networks(settings.trusted_proxy_list))
    return app
