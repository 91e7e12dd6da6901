"""The recipients section of connectors.yaml: checked at load, resolved by name, asked at intake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import CONFIG_DIR
from connectors.registry import load_connectors
from dsr.core.runtime.recipients import RecipientBook, load
from dsr.errors import ConfigError

SECRET = "a-webhook-secret-of-some-length"


def _document() -> dict[str, Any]:
    return dict(yaml.safe_load((CONFIG_DIR / "connectors.yaml").read_text("utf-8")))


def _book(
    tmp_path: Path, document: dict[str, Any], secrets: dict[str, str] | None = None
) -> RecipientBook:
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    connectors = load_connectors(path, data_dir=tmp_path, secret_key="k" * 32, region="VN")
    return load(path, connectors, secrets or {})


def test_default_file_names_the_demo_partners_with_addresses(tmp_path: Path) -> None:
    """The shipped file gives GHN and Viettel Post a notice address and lists them for orders."""
    book = _book(tmp_path, _document())
    assert [r.id for r in book.of_store("orders")] == ["ghn", "viettel_post"]
    assert book.of_store("crm") == []
    assert {r.channel for r in book.by_id.values()} == {"email"}
    assert book.resolve("  giao hàng nhanh (GHN) ").id == "ghn"  # the column's spelling


def test_parties_are_who_must_act_on_this_request(tmp_path: Path) -> None:
    """Erasure and a changed address involve the couriers; a new e-mail or an access does not."""
    path = tmp_path / "connectors.yaml"
    path.write_text((CONFIG_DIR / "connectors.yaml").read_text("utf-8"), "utf-8")
    connectors = load_connectors(path, data_dir=tmp_path, secret_key="k" * 32, region="VN")
    book = load(path, connectors, {})

    def names(kind: str, changes: dict[str, str]) -> list[str]:
        return [r.name for r in book.parties(kind, changes, connectors)]

    both = ["Giao Hàng Nhanh (GHN)", "Viettel Post"]
    assert names("erase", {}) == both
    assert names("rectify", {"address": "1 Lê Lợi"}) == both
    assert names("rectify", {"email": "a@example.com"}) == []
    assert names("access", {}) == []


def test_unlisted_partner_resolves_to_one_without_a_contact(tmp_path: Path) -> None:
    """A courier the stores name but the file does not is never dropped: it has no contact."""
    book = _book(tmp_path, _document())
    unknown = book.resolve("J&T Express")
    assert unknown.id.startswith("unlisted-") and unknown.channel is None
    assert unknown.name == "J&T Express" and book.resolve("j&t  express").id == unknown.id


def _viettel(document: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in document["recipients"] if r["id"] == "viettel_post")


def _orders(document: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in document["connectors"] if c["name"] == "orders")


CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown id in a store": lambda d: _orders(d)["recipients"].append("jnt"),
    "email and webhook": lambda d: _viettel(d).update(webhook={"url": "https://vtp.example.net"}),
    "plain http webhook": lambda d: _viettel(d).update(
        email=None, webhook={"url": "http://vtp.example.net/hook"}
    ),
    "webhook without secret": lambda d: _viettel(d).update(
        email=None, webhook={"url": "https://vtp.example.net/hook"}
    ),
    "malformed email": lambda d: _viettel(d).update(email="privacy@@viettelpost"),
    "duplicate id": lambda d: d["recipients"].append(dict(_viettel(d), name="Other")),
    "alias naming another": lambda d: _viettel(d).update(aliases=["Giao Hàng Nhanh (GHN)"]),
    "unknown kind": lambda d: _viettel(d).update(kinds=["access"]),
    "unknown key": lambda d: _viettel(d).update(phone="1900 8095"),
    "bad id": lambda d: _viettel(d).update(id="Viettel Post"),
    "not a list": lambda d: d.update(recipients={"ghn": {}}),
    "shared unknown field": lambda d: _orders(d)["tables"][0]["shared"].update(fields=["iban"]),
    "recipients without shared": lambda d: _orders(d)["tables"][0].pop("shared"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_invalid_recipients_are_config_errors(tmp_path: Path, change: str) -> None:
    """Anything wrong in the recipients configuration stops the start, naming the problem."""
    document = _document()
    CHANGES[change](document)
    with pytest.raises(ConfigError):
        _book(tmp_path, document)


def test_webhook_with_its_secret_loads(tmp_path: Path) -> None:
    """An HTTPS webhook (or plain HTTP on loopback) with a long secret is a valid contact."""
    document = _document()
    _viettel(document).update(email=None, webhook={"url": "http://127.0.0.1:8099/hook"})
    book = _book(tmp_path, document, {"viettel_post": SECRET})
    assert book.by_id["viettel_post"].channel == "webhook"
    with pytest.raises(ConfigError):  # a secret for a recipient that has no webhook
        _book(tmp_path, document, {"viettel_post": SECRET, "ghn": SECRET})
    with pytest.raises(ConfigError):  # too short to be a secret
        _book(tmp_path, document, {"viettel_post": "short"})
