"""Failed authentication is throttled per client, and watched per key prefix, in Redis.

Every 401 answered to a request that tried a key (a wrong or revoked API key in a header, or a
failed login on the web page) counts against the client's address (as ``api/clients.py`` decides
it) and against the prefix of the key it tried. After ``DSR_AUTH_FAILURE_LIMIT`` failures within
``DSR_AUTH_FAILURE_WINDOW_SECONDS`` (counted from the first), every request of that client that
tries a key gets 429 with ``Retry-After`` until the window ends, before its key is even looked
up. A prefix that reaches the limit raises an ops alert (``key_prefix_attack``) but blocks
nothing: a prefix is seen by whoever glimpses a key, and blocking it would let them keep the
key's real holder out, while the rest of a key (256 random bits) cannot be guessed anyway.
Requests trying no key (a page with a session cookie), and routes
that take no key (``open_paths``: the subject's download link, ``/healthz``), are neither counted
nor blocked: they guess nothing. The
counters live in Redis so that every API process shares them (``api/rate.py``); when Redis does
not answer, the check is skipped (logged), since the broker's outage is already reported by
``/healthz``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import rate

TOO_MANY = "too many failed attempts; try again later"
PREFIX_LENGTH = 12  # "dsr_" and 8 characters of the key
AUTH_FAILURES = "auth-failures"
PRIVACY = "privacy-throttle"  # the privacy center's counters (api/privacy_guard.py)


def _presented_key(headers: Headers) -> str | None:
    key = headers.get("x-api-key")
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return key or (token.strip() if scheme.lower() == "bearer" else None) or None


def _subject(kind: str, value: str) -> str:
    # Hashed: neither a client address nor a fragment of a real key sits in Redis as written.
    return rate.hashed(kind, value)


def forget(client: Any, namespace: str) -> None:
    """Drop every counter of ``namespace``, failed logins and the privacy center's (tests; or
    ops lifting a lockout by hand)."""
    for name in (AUTH_FAILURES, PRIVACY):
        rate.forget(client, f"{namespace}:{name}:")


class AuthThrottle:
    """ASGI middleware: 429 for throttled clients and key prefixes; counts every 401."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        redis: Callable[[], Any],
        namespace: str,
        limit: int,
        window_seconds: int,
        login_path: str,
        on_prefix_attack: Callable[[int], None] = lambda count: None,
        open_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.window = rate.FixedWindow(redis, f"{namespace}:{AUTH_FAILURES}:", window_seconds)
        self.limit = limit
        self.login_path = login_path
        self.on_prefix_attack = on_prefix_attack
        self.open_paths = open_paths

    def _wait(self, subjects: list[str]) -> int:
        """Seconds until every subject may try again (0: none is throttled)."""
        return self.window.wait(dict.fromkeys(subjects, self.limit))

    def _failed(self, subjects: list[str]) -> None:
        counts = self.window.count(subjects)  # the window starts at the first failure
        if len(counts) == 2 and counts[1] == self.limit:  # once per window, when it is reached
            self.on_prefix_attack(counts[1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.open_paths):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = _presented_key(headers)
        if scope["path"] == self.login_path and scope["method"] == "POST":
            body, receive = await _buffered(receive)  # bounded by BodyLimit, outside this one
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = parse_qs(body.decode("latin-1"), max_num_fields=20)
                key = (form.get("api_key") or [""])[0].strip() or None
        if not key:
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("-", 0)
        subjects = [_subject("client", str(client[0])), _subject("prefix", key[:PREFIX_LENGTH])]
        wait = await run_in_threadpool(self._wait, subjects[:1])  # the client only
        if wait:
            response = JSONResponse({"detail": TOO_MANY}, 429, headers={"Retry-After": str(wait)})
            await response(scope, receive, send)
            return
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, sending)
        if status == 401:
            await run_in_threadpool(self._failed, subjects)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
