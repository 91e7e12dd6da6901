"""Security headers on every response: no framing, no sniffing, no referrer, no caching.

Pages and downloads carry personal data, so nothing is stored by browsers or proxies
(``Cache-Control: no-store``), no other site may frame them (CSP ``frame-ancestors 'none'`` and
``X-Frame-Options: DENY`` for older browsers), a download is never guessed into something
executable (``nosniff``), and links never leak a URL that may hold a download token
(``Referrer-Policy: no-referrer``). The staff pages run no script: their CSP allows only their
own inline style and forms posting to this site. ``/docs`` keeps a CSP that lets Swagger UI load.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
DOCS_CSP = "frame-ancestors 'none'"  # Swagger UI loads its script and styles from a CDN
COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp, *, docs_path: str = "/docs", hsts: bool = False) -> None:
        self.app = app
        self.docs_path = docs_path
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"].startswith(self.docs_path) else STRICT_CSP

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers[name] = value
                headers["Content-Security-Policy"] = csp
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, sending)
