"""The web page's session: who is logged in, the CSRF token, the language, and rendering.

A logged-in session lives in the ledger (``api/sessions.py``): the cookie holds only its random
id, so logging out, revoking the key or reaching the expiry ends it at once, copies included.
It holds the API key's id, never the key; every page reloads the key row. Every form carries the
session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache
from types import ModuleType
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from api.auth import Principal
from api.deps import service
from api.page_format import format_when
from config.settings import CONFIG_DIR
from dsr.core.ledger.models import LANGUAGES
from dsr.service import format_date

LOGIN_PATH = "/web/login"


class LoginRequired(Exception):
    """No live session: the page redirects to the login form."""


class CsrfRejected(Exception):
    """A form came without this session's CSRF token."""


def language(request: Request) -> str:
    """``?lang=`` switches the language for the session; Vietnamese by default."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        request.session["lang"] = asked
    lang = request.session.get("lang")
    return lang if lang in LANGUAGES else "vi"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, sent: str) -> None:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected()


def log_in(request: Request, key: str) -> Principal | None:
    """Start a session for a live key; a fresh CSRF token (the pre-login one is discarded)."""
    found = service(request).authenticate(key)
    if found is None:
        return None
    who = Principal.of(found)
    lang = language(request)
    request.session.clear()
    request.session.update({"key_id": who.key_id, "lang": lang, "csrf": secrets.token_urlsafe(32)})
    return who


def current(request: Request) -> Principal:
    """The logged-in staff member (a FastAPI dependency); LoginRequired when there is none."""
    key_id = request.session.get("key_id")
    if not isinstance(key_id, str):
        raise LoginRequired()
    found = service(request).live_key(key_id)
    if found is None:
        request.session.clear()
        raise LoginRequired()
    return Principal.of(found)


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(CONFIG_DIR / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = format_date
    env.filters["when"] = format_when
    return Jinja2Templates(env=env)


def words(lang: str, pages: str = "web") -> ModuleType:
    """The page phrases of ``lang`` (``config/templates/<pages>/_words.<lang>.j2``)."""
    module: Any = templates().env.get_template(f"{pages}/_words.{lang}.j2").module
    return module  # type: ignore[no-any-return]


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    who: Principal | None = None,
    **values: Any,
) -> HTMLResponse:
    """A page in the session's language, with what every page's frame needs."""
    lang = language(request)
    context = {
        "lang": lang,
        "w": words(lang),
        "who": who,
        "csrf": csrf_token(request),
        "path": request.url.path,
        **values,
    }
    return templates().TemplateResponse(request, name, context, status_code=status_code)
