"""Downloading access bundles: the subject's signed link, and staff by role."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from dsr.core.ledger import paths
from dsr.core.ledger.models import utcnow
from dsr.core.replies.links import make_download_token
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys

H = Keys.header


def _request_with_bundle(client: TestClient, rt: Runtime, key: str) -> dict[str, Any]:
    """A request filed with ``key`` whose access bundle is on disk (as aggregate leaves it)."""
    data = client.post(
        "/requests",
        headers=H(key),
        json={"kind": "access", "email": "an.nguyen@example.vn", "verified": True},
    ).json()
    path = paths.bundle(rt.settings.resolved_export_dir, data["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("summary.txt", "Tóm tắt dữ liệu")
        zf.writestr("crm/customers.json", "[]" + " " * 300_000)  # several streamed chunks
    return data


def _actions(client: TestClient, keys: Keys, request_id: str) -> list[tuple[str, str]]:
    detail = client.get(f"/requests/{request_id}", headers=H(keys.ops)).json()
    return [(e["actor"], e["action"]) for e in detail["audit"]]


def test_signed_link_streams_the_bundle_without_a_key(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """The link from the reply e-mail downloads that request's ZIP, and the download is audited."""
    data = _request_with_bundle(client, rt, keys.alice)
    token = make_download_token(data["id"], rt.settings)
    response = client.get(f"/exports/{token}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names == ["summary.txt", "crm/customers.json"]
    assert ("subject", "export_downloaded") in _actions(client, keys, data["id"])


def test_tampered_expired_or_unknown_links_are_404_alike(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A forged, expired or bundle-less link gets one fixed 404 body."""
    data = _request_with_bundle(client, rt, keys.alice)
    token = make_download_token(data["id"], rt.settings)
    expired = make_download_token(
        data["id"],
        rt.settings,
        now=utcnow() - timedelta(seconds=rt.settings.download_link_ttl_seconds + 60),
    )
    no_bundle = make_download_token("f" * 32, rt.settings)
    bodies = set()
    for bad in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        expired,
        no_bundle,
        "not-a-token",
        token.replace(".", "", 1),
    ):
        response = client.get(f"/exports/{bad}")
        assert response.status_code == 404, bad
        bodies.add(response.text)
    assert bodies == {'{"detail":"this download link is not valid or has expired"}'}


def test_staff_download_follows_roles(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Ops may download; the filing support key once ops grant it (the request was vouched for
    by staff: issue 22); to another support key it does not exist."""
    data = _request_with_bundle(client, rt, keys.alice)
    url = f"/requests/{data['id']}/export"
    assert client.get(url, headers=H(keys.alice)).status_code == 403
    grant = client.post(f"/requests/{data['id']}/export-grant", headers=H(keys.ops))
    assert grant.status_code == 200
    mine = client.get(url, headers=H(keys.alice))
    assert mine.status_code == 200 and mine.content.startswith(b"PK")
    assert client.get(url, headers=H(keys.ops)).status_code == 200
    other = client.get(url, headers=H(keys.bob))
    assert other.status_code == 404
    assert other.json() == {"detail": "no such request"}
    actions = _actions(client, keys, data["id"])
    assert ("api:alice", "export_downloaded") in actions
    assert ("api:olga", "export_downloaded") in actions
    assert ("api:bob", "export_downloaded") not in actions


def test_staff_download_without_bundle_is_404(client: TestClient, keys: Keys) -> None:
    """A request with no bundle yet, or no request at all, is a 404."""
    data = client.post(
        "/requests", headers=H(keys.alice), json={"kind": "access", "email": "an.nguyen@example.vn"}
    ).json()
    assert client.get(f"/requests/{data['id']}/export", headers=H(keys.alice)).status_code == 404
    assert client.get(f"/requests/{'e' * 32}/export", headers=H(keys.ops)).status_code == 404


def test_access_log_names_the_route_never_the_token(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """The request log line carries the route template, so a download link never reaches logs."""
    from structlog.testing import capture_logs

    data = _request_with_bundle(client, rt, keys.alice)
    token = make_download_token(data["id"], rt.settings)
    with capture_logs() as logs:
        assert client.get(f"/exports/{token}").status_code == 200
    lines = [e for e in logs if e["event"] == "http_request"]
    assert [(e["route"], e["status"]) for e in lines] == [("/exports/{token}", 200)]
    assert token not in repr(logs)
