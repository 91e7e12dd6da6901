"""Browsers never see a JSON error body: an error on a page's address is a page.

The staff page (``/web``) and the privacy center (``/privacy``) answer every error with HTML in
the session's language. A GET on an address that only takes a form (the language link or a
reload after a form's error page) is sent to the page the form belongs to, keeping the query
string (``?lang=en``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api import privacy
from api.web_session import render

# A form's address -> the page it belongs to.
_FORM_PAGES = (
    (re.compile(r"(/web/requests/[^/]+)/(?:verify|answer|retry|review|cancel)"), r"\1"),
    (re.compile(r"/web/logout"), "/web/requests"),
    (re.compile(r"(/privacy/status/[^/]+)/code"), r"\1"),
)
_PRIVACY_PROBLEM = {404: "not_found", 403: "csrf", 405: "not_found"}


def is_page(path: str) -> bool:
    """Whether a path is one a browser opens (not the JSON API)."""
    return path in ("/", "/web", "/privacy") or path.startswith(("/web/", "/privacy/"))


def form_page(path: str) -> str | None:
    """The page a form's address belongs to, or None when it is not a form's address."""
    for pattern, target in _FORM_PAGES:
        if pattern.fullmatch(path):
            return pattern.sub(target, path)
    return None


def page_error(request: Request, status_code: int) -> Response:
    """The HTML answer to an error at a page's address."""
    path = request.url.path
    if status_code == 405 and request.method in ("GET", "HEAD"):
        target = form_page(path)
        if target is not None:
            query = request.url.query
            return RedirectResponse(target + (f"?{query}" if query else ""), status_code=303)
    if path.startswith("/privacy"):
        problem = _PRIVACY_PROBLEM.get(status_code, "rejected")
        return privacy.problem_page(request, problem, status_code)
    return render(request, "web/page_error.html", status_code, status=status_code)


def for_pages(
    status_code: int, handler: Callable[[Request, Exception], Response]
) -> Callable[[Request, Exception], Any]:
    """``handler`` for the API; an HTML page with ``status_code`` for a page's address."""

    def handle(request: Request, exc: Exception) -> Response:
        if is_page(request.url.path):
            return page_error(request, status_code)
        return handler(request, exc)

    return handle
