"""Clients as they are (issue 22, way 5): a forged X-Forwarded-For is no new client, and
failures against a key's prefix alert ops without locking its holder out."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from api import serve
from api.clients import client_host, networks
from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import Alert
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    """The app as ``dsr api`` runs it (api.serve), on a free localhost port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(serve.config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_rotated_forwarded_for_from_an_untrusted_peer_is_one_client(app: FastAPI) -> None:
    """Twenty wrong keys, each claiming another X-Forwarded-For, from one local peer with no
    proxy trusted: the next try gets 429 (main believed the header and answered 401 forever)."""
    with _served(app) as base, httpx.Client(base_url=base) as http:
        for i in range(20):
            wrong = http.get(
                "/requests",
                headers={"X-API-Key": f"dsr_guess{i:04d}", "X-Forwarded-For": f"10.9.8.{i}"},
            )
            assert wrong.status_code == 401
        blocked = http.get(
            "/requests", headers={"X-API-Key": "dsr_guess9999", "X-Forwarded-For": "10.9.9.9"}
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) > 0


def test_failures_against_a_keys_prefix_alert_ops_but_never_lock_its_holder_out(
    app: FastAPI, rt: Runtime, keys: Keys
) -> None:
    """Twenty wrong keys carrying bob's prefix, from twenty clients: bob's key still works, and
    ops have a key_prefix_attack alert."""
    prefix = keys.bob[:12]
    for i in range(20):
        with TestClient(app, client=(f"192.0.2.{i + 1}", 4000)) as one:
            assert one.get("/requests", headers={"X-API-Key": f"{prefix}x{i}"}).status_code == 401
    with TestClient(app, client=("192.0.2.200", 4000)) as bobs_desk:
        assert bobs_desk.get("/requests", headers=Keys.header(keys.bob)).status_code == 200
        assert bobs_desk.get("/requests", headers={"X-API-Key": f"{prefix}zz"}).status_code == 401
    with session_scope(rt.db_url) as session:
        reasons = [a.reason for a in session.exec(select(Alert))]
    assert reasons.count("key_prefix_attack") == 1


def test_a_trusted_proxy_forwards_the_client_it_saw(app: FastAPI, rt: Runtime) -> None:
    """Behind a trusted proxy each client is its own: the right-most untrusted hop counts, so a
    client's forged left-hand entries change nothing."""
    trusted = networks(["127.0.0.0/8"])
    assert client_host("127.0.0.1", ["6.6.6.6, 198.51.100.4"], trusted) == "198.51.100.4"
    assert client_host("127.0.0.1", ["198.51.100.4", "127.0.0.2"], trusted) == "198.51.100.4"
    assert client_host("203.0.113.9", ["198.51.100.4"], trusted) == "203.0.113.9"
    assert client_host("127.0.0.1", [], trusted) == "127.0.0.1"


@given(
    peer=st.ip_addresses(v=4).map(str),
    hops=st.lists(st.ip_addresses().map(str), max_size=6),
)
def test_without_trusted_proxies_the_peer_is_the_client(peer: str, hops: list[str]) -> None:
    """With no proxy trusted, no header moves the client away from the peer."""
    assert client_host(peer, [", ".join(hops)], ()) == peer


@given(hops=st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=6))
def test_the_client_is_never_a_trusted_proxy_when_an_untrusted_hop_exists(hops: list[str]) -> None:
    """Through trusted 10.0.0.0/8 proxies, the client is the right-most hop outside it."""
    trusted = networks(["10.0.0.0/8"])
    outside = [h for h in hops if ipaddress.ip_address(h) not in trusted[0]]
    host = client_host("10.1.1.1", [", ".join(hops)], trusted)
    assert host == (outside[-1] if outside else hops[0])
