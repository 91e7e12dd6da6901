"""Talking to one HTTP store: authentication, a request-rate limit, retries, and the one place
where transport errors and statuses become this system's store errors.

Classified as the SQL connector's driver errors are: no answer (refused, reset, timed out), 429
and 5xx are the store's trouble and are retried here a few times, then raised as
``RetriableStoreError`` (the task is retried later, then needs attention); any other 4xx means
the request or the configuration is wrong and is ``FatalStoreError`` at once. ``Retry-After``
is honoured, and holds back every request to the store until it has passed. TLS certificates
are always verified. Messages name the method, the configured path template and the status,
never the URL sent: it holds the subject's address.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from connectors.http_config import Call, HttpConfig, Pagination
from connectors.http_templates import at, records_at, render, render_body
from dsr.errors import ConfigError, FatalStoreError, RetriableStoreError

Record = dict[str, Any]
NONE, DONE = "none", "done"  # a call's answer read as "nothing there" / "already so"


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


class RateLimit:
    """At most ``per_second`` requests to one store from this process, and none before a time
    the store named (``Retry-After``); shared by every thread using the connector."""

    def __init__(self, per_second: float | None, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self.clock() + seconds)


class Retriable(Exception):
    """One attempt failed in a way another attempt may not (internal to the client)."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait = reason, wait


def _ssl_context(config: HttpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.ca_file)  # verifies; never CERT_NONE


def _auth(
    config: HttpConfig, secrets: Mapping[str, str]
) -> tuple[httpx.Auth | None, dict[str, str]]:
    auth = config.auth
    if auth is None:
        return None, {}
    secret = secrets.get(auth.secret)
    if not secret:
        raise ConfigError(
            f"connector {config.name!r}: auth secret {auth.secret!r} is not in DSR_HTTP_SECRETS"
        )
    if auth.type == "basic":
        assert auth.username is not None  # checked by the model
        return httpx.BasicAuth(auth.username, secret), {}
    if auth.type == "bearer":
        return None, {"Authorization": f"Bearer {secret}"}
    assert auth.header is not None
    return None, {auth.header: secret}


class HttpClient:
    """One store's HTTP session (thread-safe: httpx.Client is)."""

    def __init__(
        self,
        config: HttpConfig,
        secrets: Mapping[str, str],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.base = str(config.base_url).rstrip("/") + "/"
        auth, headers = _auth(config, secrets)
        self.limit = RateLimit(config.rate_limit)
        self._client = httpx.Client(
            auth=auth,
            headers={"Accept": "application/json", **headers},
            timeout=httpx.Timeout(config.timeout),
            verify=_ssl_context(config),
            follow_redirects=False,  # a redirect could take the credentials elsewhere
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    # -- one request --------------------------------------------------------------------------

    def url(self, call: Call, values: Mapping[str, Any]) -> str:
        """The absolute URL of ``call`` for a record (a link it holds must stay on the host)."""
        path = render(call.path, values, quoted=True)
        if not path.startswith(("http://", "https://")):
            return urljoin(self.base, path.lstrip("/"))
        return self.on_host(path)

    def on_host(self, url: str) -> str:
        """``url`` when it is on the store's host (a link in an answer); FatalStoreError if not:
        the credentials must never be sent elsewhere."""
        base, target = urlsplit(self.base), urlsplit(url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise FatalStoreError(f"{self.name}: the store links outside its own host")
        return url

    def send(
        self,
        call: Call,
        values: Mapping[str, Any],
        *,
        url: str | None = None,
        params: Mapping[str, Any] | None = None,
        linked: bool = False,
    ) -> httpx.Response | str:
        """One request, retried while the store is in trouble; the answer, or NONE / DONE
        (``linked``: ``url`` is a link the store gave, with its query)."""
        target = url or self.url(call, values)
        query = {k: render(v, values, quoted=False) for k, v in call.query.items()}
        query.update(params or {})
        if linked:
            query = {}
        body = None if call.body is None else render_body(call.body, values)
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            try:
                return self._once(call, target, query, body)
            except Retriable as err:
                if attempt + 1 == attempts:
                    raise RetriableStoreError(
                        f"{self.name}: {call.method} {call.path}: {err.reason} "
                        f"(after {attempts} attempts)"
                    ) from None
                wait = err.wait if err.wait is not None else self.config.backoff * 2**attempt
                if err.wait is not None and err.wait > self.config.max_retry_after:
                    raise RetriableStoreError(
                        f"{self.name}: {call.method} {call.path}: {err.reason}, "
                        f"retry after {err.wait:.0f} s"
                    ) from None
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _once(self, call: Call, url: str, query: dict[str, Any], body: Any) -> httpx.Response | str:
        self.limit.wait()
        try:
            response = self._client.request(call.method, url, params=query or None, json=body)
        except httpx.TimeoutException as err:
            raise Retriable(f"no answer in time ({type(err).__name__})") from None
        except httpx.TransportError as err:
            if _untrusted(err):  # not the network's trouble: a certificate ops must look at
                raise FatalStoreError(
                    f"{self.name}: the store's TLS certificate is not trusted "
                    "(give its CA as ca_file; verification is never turned off)"
                ) from None
            raise Retriable(f"store unreachable ({type(err).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            wait = retry_after(response.headers.get("Retry-After"))
            if wait is not None:
                self.limit.hold(wait)
            raise Retriable(f"answered {status}", wait)
        if status in call.none:
            return NONE
        if status in call.done:
            return DONE
        if status >= 400 or 300 <= status < 400:
            raise FatalStoreError(f"{self.name}: {call.method} {call.path}: answered {status}")
        return response

    # -- records ------------------------------------------------------------------------------

    def records(self, call: Call, values: Mapping[str, Any]) -> Iterator[Record]:
        """Every record ``call`` returns, following the store's pagination."""
        paging = self.config.pagination if call.paginate else None
        url, linked = self.url(call, values), False
        params: dict[str, Any] = _first_page(paging)
        for page in range(paging.max_pages if paging else 1):
            answer = self.send(call, values, url=url, params=params, linked=linked)
            if isinstance(answer, str):
                return
            document = _json(answer, self.name, call)
            found = records_at(
                document, call.records, store=self.name, total=call.total, later=page > 0
            )
            yield from found
            if paging is None or call.records in ("$", ""):
                return
            following = _next_page(paging, params, answer, document, len(found))
            if following is None:
                return
            link, params = following
            if link:  # a next link carries its own query: sent as it is
                url, linked = self.on_host(link), True
        raise FatalStoreError(f"{self.name}: {call.path}: more than the pagination limit allows")


def _untrusted(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _json(response: httpx.Response, name: str, call: Call) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise FatalStoreError(f"{name}: {call.method} {call.path}: answer is not JSON") from None


def _first_page(paging: Pagination | None) -> dict[str, Any]:
    if paging is None or paging.style == "link":
        return {}
    params: dict[str, Any] = {}
    if paging.size_param:
        params[paging.size_param] = paging.size
    if paging.style == "page":
        params[paging.page_param] = paging.first_page
    return params


def _next_page(
    paging: Pagination,
    params: dict[str, Any],
    response: httpx.Response,
    document: Any,
    count: int,
) -> tuple[str, dict[str, Any]] | None:
    """Where the next page is (a URL, or "" for the same URL, and its query), None at the end."""
    if paging.style == "page":
        if count < paging.size:
            return None
        return "", {**params, paging.page_param: int(params[paging.page_param]) + 1}
    if paging.style == "cursor":
        assert paging.next is not None
        cursor = at(document, paging.next)
        if cursor in (None, ""):
            return None
        return "", {**params, paging.cursor_param: cursor}
    link = response.links.get("next", {}).get("url")
    if not link:
        return None
    return urljoin(str(response.url), link), {}  # checked with on_host before it is sent
