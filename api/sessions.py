"""Server-side sessions for the web page, as ``request.session`` (drop-in for Starlette's).

Starlette's SessionMiddleware keeps the whole session in a signed cookie, so logging out cannot
end a copy of it. Here a logged-in session (one with a ``key_id``) lives in the ledger
(through the service: ``dsr.service.access``) and the cookie carries only its random id; logout, key
revocation and expiry end it at once. Before login the session holds only the language and the
login form's CSRF token: that stays in a signed cookie, so visitors of the login page write
nothing.

The cookie is signed with the sessions key (the previous one verifies during its grace period).
Logging in always issues a new id: a session id known before login is worthless after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from itsdangerous import BadData, Signer, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.keys import PurposeKey
from dsr.service import Service

COOKIE = "dsr_session"
_SERVER, _ANONYMOUS = "s.", "a."


class ServerSessions:
    """ASGI middleware putting the session in ``scope["session"]`` and saving it after."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: Service,
        keys: Callable[[], PurposeKey],
        ttl_seconds: int,
        https_only: bool,
    ) -> None:
        self.app = app
        self.service = service
        self.keys = keys
        self.ttl = ttl_seconds
        self.flags = "; HttpOnly; SameSite=strict; Path=/" + ("; Secure" if https_only else "")

    def _signer(self) -> Signer:
        return Signer(self.keys().accepted(), salt="web-session")

    def _anonymous(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.keys().accepted(), salt="web-anonymous")

    def _load(self, cookie: str | None) -> tuple[str | None, dict[str, Any]]:
        """The session id (None before login) and the session's data."""
        if not cookie:
            return None, {}
        try:
            if cookie.startswith(_SERVER):
                session_id = self._signer().unsign(cookie[len(_SERVER) :]).decode()
                live = self.service.web_session(session_id)
                if live is None:
                    return None, {}
                return session_id, {**live.data, "key_id": live.key_id}
            if cookie.startswith(_ANONYMOUS):
                data = self._anonymous().loads(cookie[len(_ANONYMOUS) :], max_age=self.ttl)
                if isinstance(data, dict):
                    data.pop("key_id", None)  # authority only ever comes from the ledger
                    return None, data
        except (BadData, UnicodeDecodeError, json.JSONDecodeError):  # forged, expired, junk
            pass
        return None, {}

    def _save(
        self, session_id: str | None, before: dict[str, Any], after: dict[str, Any]
    ) -> str | None:
        """Store what changed; the cookie to set (``""`` to clear it), or None to leave it."""
        key_id = after.get("key_id")
        data = {k: v for k, v in after.items() if k != "key_id"}
        if isinstance(key_id, str):
            if session_id is not None and before.get("key_id") == key_id:
                if after != before:
                    self.service.web_session_update(session_id, data)
                return None
            new_id = self.service.web_session_start(
                key_id=key_id, data=data, ttl_seconds=self.ttl, replacing=session_id
            )
            return _SERVER + self._signer().sign(new_id).decode()
        if session_id is not None:  # logged out, or the key is gone
            self.service.web_session_end(session_id)
            return "" if not data else _ANONYMOUS + str(self._anonymous().dumps(data))
        if after == before:
            return None
        return _ANONYMOUS + str(self._anonymous().dumps(data)) if data else ""

    def _header(self, value: str) -> str:
        if not value:
            return f"{COOKIE}=; Max-Age=0{self.flags}"
        return f"{COOKIE}={value}; Max-Age={self.ttl}{self.flags}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = HTTPConnection(scope).cookies.get(COOKIE)
        session_id, data = await run_in_threadpool(self._load, cookie)
        before = dict(data)
        scope["session"] = data

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                after = dict(scope["session"])
                value = await run_in_threadpool(self._save, session_id, before, after)
                if value is None and cookie and not before and not after:
                    value = ""  # a cookie naming no live session: clear it
                if value is not None:
                    MutableHeaders(scope=message).append("Set-Cookie", self._header(value))
            await send(message)

        await self.app(scope, receive, sending)
