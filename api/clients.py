"""Who the client is: the peer's address, or the forwarded one only from a trusted proxy.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
peer is one of ``DSR_TRUSTED_PROXIES`` (CIDRs; default none). Then the client is the right-most
hop that is not itself a trusted proxy: each proxy appends the address it saw, so everything to
the left of the last untrusted hop is the client's own (possibly forged) claim. Throttles
(``api/throttle.py``, ``api/privacy_guard.py``) count whatever ``scope["client"]`` holds after
this middleware, so a rotated header from an untrusted peer is one client, as it is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The trusted proxies' networks; ValueError names the entry that is not a CIDR."""
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR: {cidr.strip()!r}") from None
    return tuple(out)


def _trusted(host: str, trusted: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in trusted)


def client_host(peer: str, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy; then the right-most hop
    of ``forwarded`` (the X-Forwarded-For values, in order) that is not a trusted proxy."""
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    host = peer
    for hop in reversed([h for h in hops if h]):
        host = hop
        if not _trusted(hop, trusted):
            break
    return host


class ClientAddress:
    """ASGI middleware: ``scope["client"]`` becomes the client as :func:`client_host` says."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            peer, _port = scope.get("client") or ("-", 0)
            forwarded = Headers(scope=scope).getlist("x-forwarded-for")
            host = client_host(str(peer), forwarded, self.trusted)
            if host != peer:
                scope = {**scope, "client": (host, 0)}
        await self.app(scope, receive, send)
