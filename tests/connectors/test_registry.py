"""Building connectors from connectors.yaml: validation, dependency stages, rectifiable fields."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import CONFIG_DIR
from connectors.registry import dependency_stages, load_connectors, rectifiable_fields
from connectors.sql import SqlStore
from dsr.errors import ConfigError

DEFAULT = CONFIG_DIR / "connectors.yaml"
SQL_ENTRY: dict[str, Any] = {
    "name": "shop",
    "kind": "sql",
    "url": "sqlite:///{data_dir}/shop.db",
    "tables": [{"name": "customers", "match": {"email": "email"}, "erase": {"mode": "delete"}}],
}


def load(tmp_path: Path, entries: list[dict[str, Any]]) -> dict[str, Any]:
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump({"connectors": entries}), "utf-8")
    return load_connectors(path, data_dir=tmp_path, secret_key="k", region="VN")


def test_default_file_builds_every_connector(tmp_path: Path) -> None:
    """The shipped connectors.yaml builds four SQL stores with {data_dir} substituted: the
    call archive is the PBX's cdr table, its recordings under the monitor folder."""
    connectors = load_connectors(DEFAULT, data_dir=tmp_path, secret_key="k", region="VN")
    assert list(connectors) == ["crm", "newsletter", "orders", "recordings"]
    assert all(isinstance(c, SqlStore) for c in connectors.values())
    crm, recordings = connectors["crm"], connectors["recordings"]
    assert isinstance(crm, SqlStore) and str(tmp_path / "crm.db") in crm.config.url
    assert isinstance(recordings, SqlStore)
    assert str(tmp_path / "recordings" / "cdr.db") in recordings.config.url
    (cdr,) = recordings.config.tables
    assert cdr.file is not None and cdr.file.root == str(tmp_path / "recordings" / "monitor")


def test_the_recordings_kind_is_gone(tmp_path: Path) -> None:
    """The bespoke archive connector was replaced by a SQL store: its kind is unknown now."""
    entry = {"name": "recordings", "kind": "recordings", "root": str(tmp_path)}
    with pytest.raises(ConfigError, match="unknown kind 'recordings' \\(known: http, sql\\)"):
        load(tmp_path, [entry])


def test_dependency_stages_of_the_default_file(tmp_path: Path) -> None:
    """The CRM runs first; the stores keyed by what it provides run after it."""
    connectors = load_connectors(DEFAULT, data_dir=tmp_path, secret_key="k", region="VN")
    assert dependency_stages(connectors) == {
        "crm": 0,
        "newsletter": 1,
        "orders": 1,
        "recordings": 1,
    }


def test_a_dependency_cycle_is_a_config_error(tmp_path: Path) -> None:
    """Two stores each needing what only the other provides cannot be ordered."""
    a = {
        **SQL_ENTRY,
        "name": "a",
        "tables": [
            {
                "name": "t",
                "match": {"phone": "p"},
                "provides": {"email": "e"},
                "erase": {"mode": "delete"},
            }
        ],
    }
    b = {
        **SQL_ENTRY,
        "name": "b",
        "tables": [
            {
                "name": "t",
                "match": {"email": "e"},
                "provides": {"phone": "p"},
                "erase": {"mode": "delete"},
            }
        ],
    }
    with pytest.raises(ConfigError, match="cycle"):
        dependency_stages(load(tmp_path, [a, b]))


def test_rectifiable_fields_of_the_default_file(tmp_path: Path) -> None:
    """The public fields a rectify request may set are the union over every store."""
    connectors = load_connectors(DEFAULT, data_dir=tmp_path, secret_key="k", region="VN")
    assert rectifiable_fields(connectors) == {"name", "email", "phone", "address"}


def test_unknown_kind_is_a_config_error(tmp_path: Path) -> None:
    """A kind with no registered connector class is refused at start-up, naming it."""
    with pytest.raises(ConfigError, match="unknown kind 'mongo'"):
        load(tmp_path, [{**SQL_ENTRY, "kind": "mongo"}])


def _broken(change: str) -> dict[str, Any]:
    entry = copy.deepcopy(SQL_ENTRY)
    table = entry["tables"][0]
    if change == "no table name":
        del table["name"]
    elif change == "no match":
        del table["match"]
    elif change == "no erase":
        del table["erase"]
    elif change == "bad erase mode":
        table["erase"] = {"mode": "shred"}
    elif change == "anonymise without columns":
        table["erase"] = {"mode": "anonymise", "columns": {"email": "hash"}}
    elif change == "unknown identifier kind":
        table["match"] = {"passport": "passport_no"}
    elif change == "table name with a path":
        table["name"] = "../etc"
    elif change == "child before parent":
        entry["tables"].insert(
            0,
            {
                "name": "items",
                "parent": {"table": "customers", "column": "customer"},
                "erase": {"mode": "keep"},
            },
        )
    elif change == "no url":
        del entry["url"]
    elif change == "unknown key":
        table["colour"] = "blue"
    return entry


@pytest.mark.parametrize(
    "change",
    [
        "no table name",
        "no match",
        "no erase",
        "bad erase mode",
        "anonymise without columns",
        "unknown identifier kind",
        "table name with a path",
        "child before parent",
        "no url",
        "unknown key",
    ],
)
def test_invalid_entries_are_config_errors(tmp_path: Path, change: str) -> None:
    """Each malformed table or connector entry is a ConfigError naming the connector."""
    with pytest.raises(ConfigError, match="connector 'shop'"):
        load(tmp_path, [_broken(change)])


def test_duplicate_names_are_a_config_error(tmp_path: Path) -> None:
    """Two connectors may not share a name (tasks and replies are keyed by it)."""
    with pytest.raises(ConfigError, match="defined twice"):
        load(tmp_path, [SQL_ENTRY, SQL_ENTRY])


@pytest.mark.parametrize("text", ["connectors: [", "just: a mapping", "- a list"])
def test_malformed_files_are_config_errors(tmp_path: Path, text: str) -> None:
    """A file that is not YAML, or has no connectors list, is a ConfigError."""
    path = tmp_path / "connectors.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError):
        load_connectors(path, data_dir=tmp_path, secret_key="k", region="VN")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A connectors file that does not exist is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_connectors(tmp_path / "nope.yaml", data_dir=tmp_path, secret_key="k", region="VN")
