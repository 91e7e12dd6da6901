"""Fixtures: every connector instance the contract suite runs on, each on a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connectors.http_stores import make_mailman
from tests.connectors.stores import SQL_STORES, Harness

ENGINES = ["sqlite", "postgres", "mariadb"]
INSTANCES = [(store, engine) for store in SQL_STORES for engine in ENGINES]
INSTANCES.append(("mailman", "mailman3"))  # the HTTP connector on a real Mailman 3


def _url(request: pytest.FixtureRequest, engine: str, tmp_path: Path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue(f"{engine}_url"))


@pytest.fixture(params=INSTANCES, ids=[f"{s}-{e}" for s, e in INSTANCES])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """One connector (the four demo stores, the call archive among them, on three engines; the
    HTTP connector on Mailman 3)."""
    name, engine = request.param
    if name == "mailman":
        harness: Harness = make_mailman(tmp_path, request.getfixturevalue("mailman"))
    else:
        harness = SQL_STORES[name](tmp_path, _url(request, engine, tmp_path))
    yield harness
    harness.close()


@pytest.fixture(params=ENGINES)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each engine the SQL connector supports."""
    return _url(request, str(request.param), tmp_path)


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    """An empty staging folder for one task's export."""
    path = tmp_path / "staging"
    path.mkdir()
    return path
