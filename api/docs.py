"""``/docs`` and ``/openapi.json`` in production: only for staff (an API key or a web session).

In development they are open, as FastAPI serves them. In production the schema names every
route and field, which is a map for an attacker: it is served to a caller with a live API key,
or to a browser with a live staff session (Swagger UI fetches the schema with the cookie).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from api.auth import Principal, _bearer, _header, principal, unauthorised
from api.deps import service

DOCS, SCHEMA = "/docs", "/openapi.json"


def staff(
    request: Request,
    header_key: str | None = Depends(_header),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Principal:
    """The caller's API key if one is sent, else the web session's; 401 without either."""
    if header_key or bearer:
        return principal(request, header_key, bearer)
    key_id = request.session.get("key_id")
    if isinstance(key_id, str):
        found = service(request).live_key(key_id)
        if found is not None:
            return Principal.of(found)
    raise unauthorised()


def guard(app: FastAPI) -> None:
    """Serve the schema and Swagger UI behind ``staff`` (the app was built without them)."""

    @app.get(SCHEMA, include_in_schema=False)
    def schema(who: Principal = Depends(staff)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(DOCS, include_in_schema=False)
    def docs(who: Principal = Depends(staff)) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=SCHEMA, title=f"{app.title} - docs")
