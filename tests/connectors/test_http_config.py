"""A ``kind: http`` entry: what it refuses at start-up, and templates that keep every value
inside its own path segment."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from connectors.http_templates import render
from connectors.registry import load_connectors
from dsr.errors import ConfigError
from tests.connectors.test_http_client import entry


def _load(tmp_path: Path, config: dict[str, Any]) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump({"connectors": [config]}), "utf-8")
    load_connectors(path, data_dir=tmp_path, secret_key="k" * 32, region="VN", secrets={})


def _resource(**change: Any) -> dict[str, Any]:
    config = entry("https://desk.example.com/api/")
    config["resources"][0].update(change)
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_resource(find={"fax": {"path": "x"}}), "unknown identifier kind fax"),
        (_resource(erase=[]), "'erase' requests"),
        (_resource(owner=["phone"]), "owner kind phone"),
        (_resource(holds=[{"resource": "nope", "field": "a", "value": "b"}]), "no resource nope"),
        (
            _resource(find={"email": {"path": "t", "exact": True}}, match={}, owner=[]),
            "'exact' finds need",
        ),
        (_resource(erase=[{"method": "DELETE", "path": "t", "none": [503]}]), "4xx"),
        ({**entry("ftp://desk.example.com/")}, "base_url"),
        ({**entry("https://d.example.com/"), "pagination": {"style": "cursor"}}, "next"),
        ({**entry("https://d.example.com/"), "auth": {"type": "basic", "secret": "s"}}, "username"),
        ({**entry("https://d.example.com/"), "verify": False}, "verify"),
    ],
)
def test_an_invalid_entry_is_a_config_error_naming_the_fault(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    """Each mistake is refused at start-up with a message naming it (TLS verification cannot
    be turned off: there is no such key)."""
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, config)


BASE = "https://lists.example.com/3.1/"


@given(st.text(min_size=1, max_size=40))
def test_a_value_stays_inside_its_path_segment(value: str) -> None:
    """Whatever an identifier holds (slashes, dots, ?, #, spaces), it fills one path segment:
    the URL stays below the base and reads back as the value."""
    url = urljoin(BASE, render("addresses/{value}/memberships", {"value": value}, quoted=True))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == (
        "https",
        "lists.example.com",
        "",
        "",
    )
    segments = parts.path.split("/")
    assert segments[:3] == ["", "3.1", "addresses"] and segments[4:] == ["memberships"]
    assert unquote(segments[3]) == value
