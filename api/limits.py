"""Request bodies are capped before anything reads them: authentication, parsing, the routes.

A body announced larger than the cap (``Content-Length``) is answered 413 without reading a byte
of it; a body without a length (chunked) is counted as it arrives and refused as soon as it goes
past the cap. The cap (``DSR_MAX_BODY_BYTES``, 64 KB by default) is far above any request this
API takes: a JSON request is under 20 KB, a web form a few.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "the request body is too large"


class _TooLarge(HTTPException):
    """The body went past the cap while being read (FastAPI passes an HTTPException through
    its body parsing untouched; the app's handler answers it)."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE, headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware refusing request bodies larger than ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = Headers(scope=scope).get("content-length")
        if announced is not None and (not announced.isdigit() or int(announced) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, sending)
        except _TooLarge:
            if started:  # too late for a status; the connection is dropped instead
                raise
            await self._refuse(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        # Connection: close, so the server does not read the rest of the body to reuse it.
        response = JSONResponse({"detail": TOO_LARGE}, 413, headers={"Connection": "close"})
        await response(scope, receive, send)
