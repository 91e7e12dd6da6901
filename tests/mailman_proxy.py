"""A tiny real HTTP proxy in front of Mailman that injects faults: 500s, slow answers, or
Mailman killed while a request is in flight (after it did the work, before it answered).

It forwards everything else unchanged, rewriting Mailman's own links to point at the proxy, so
the connector never learns another address. Nothing of ours is mocked: the connector talks
HTTP to it as to any store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.connectors.json_api import Answer, Api, Seen, serve
from tests.mailman_server import USER, Mailman

NORMAL, FAIL_500, SLOW, KILL_ON_DELETE = "normal", "500", "slow", "kill_on_delete"


@dataclass
class Proxy:
    mailman: Mailman
    mode: str = NORMAL
    delay: float = 5.0
    api: Api | None = None
    faults: list[str] = field(default_factory=list)  # what was injected, in order

    @property
    def base_url(self) -> str:
        assert self.api is not None
        return f"http://127.0.0.1:{self.api.port}/3.1/"

    def handle(self, request: Seen) -> Answer:
        if self.mode == FAIL_500:
            self.faults.append("500")
            return Answer(500, {"title": "500 Internal Server Error"})
        answer = self._forward(request)
        if self.mode == SLOW:
            self.faults.append("slow")
            answer.delay = self.delay
        if self.mode == KILL_ON_DELETE and request.method == "DELETE":
            self.faults.append("killed")
            self.mailman.stop()  # Mailman did the delete and died before answering
            self.mode = NORMAL
            return Answer(drop=True)
        return answer

    def _forward(self, request: Seen) -> Answer:
        target = self.mailman.base_url + request.path.removeprefix("/3.1/")
        try:
            response = httpx.request(
                request.method,
                target,
                params=request.query,
                json=request.body,
                auth=(USER, self.mailman.password),
                timeout=30,
            )
        except httpx.TransportError:
            self.faults.append("unreachable")
            return Answer(drop=True)  # Mailman is down: the client's connection dies too
        text = response.text.replace(self.mailman.base_url, self.base_url)
        return Answer(response.status_code, json.loads(text) if text else None)


@contextmanager
def proxied(mailman: Mailman) -> Iterator[Proxy]:
    """A proxy in front of ``mailman`` until the block ends."""
    proxy = Proxy(mailman)
    with serve(proxy.handle) as api:
        proxy.api = api
        yield proxy
