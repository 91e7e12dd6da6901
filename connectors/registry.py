"""Building the connectors named in ``config/connectors.yaml``, and the order they run in.

``CONNECTOR_KINDS`` maps a ``kind`` to its class; each class validates its own entry
(``from_config``). Anything wrong in the file is a ``ConfigError`` at start-up, not a failed
request later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from connectors.base import Connector
from connectors.http import HttpStore
from connectors.identifier_index import IdentifierIndex
from connectors.sql import SqlStore
from dsr import yamlconfig
from dsr.errors import ConfigError


class ConnectorFactory(Protocol):
    """What a registry entry offers: build a connector from its validated YAML entry."""

    def from_config(
        self,
        entry: Mapping[str, Any],
        *,
        secret_key: str,
        region: str,
        index: IdentifierIndex | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> Connector: ...


CONNECTOR_KINDS: dict[str, ConnectorFactory] = {"sql": SqlStore, "http": HttpStore}


def _substitute(value: Any, data_dir: str) -> Any:
    """Replace ``{data_dir}`` in every string (plain replace: other braces stay as written)."""
    if isinstance(value, str):
        return value.replace("{data_dir}", data_dir)
    if isinstance(value, list):
        return [_substitute(v, data_dir) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, data_dir) for k, v in value.items()}
    return value


def read_entries(path: Path, *, data_dir: Path) -> list[dict[str, Any]]:
    """The connector entries of a connectors file, ``{data_dir}`` substituted."""
    document = yamlconfig.read(path)
    if not isinstance(document, dict) or not isinstance(document.get("connectors"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'connectors' list")
    entries = _substitute(document["connectors"], str(Path(data_dir)))
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: connectors[{i}] is not a mapping")
    return list(entries)


def load_connectors(
    path: Path,
    *,
    data_dir: Path,
    secret_key: str,
    region: str,
    index_url: str | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, Connector]:
    """Every connector of a connectors file, by name; ConfigError on anything invalid.

    Their identifier index lives at ``index_url`` (default: a SQLite file in ``data_dir``);
    ``secrets`` are the credentials HTTP stores name (``DSR_HTTP_SECRETS``).
    """
    connectors: dict[str, Connector] = {}
    index = IdentifierIndex(
        index_url or f"sqlite:///{Path(data_dir).resolve() / 'identifier-index.db'}", secret_key
    )
    for i, entry in enumerate(read_entries(path, data_dir=data_dir)):
        name, kind = entry.get("name"), entry.get("kind")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}: connectors[{i}] has no name")
        if name in connectors:
            raise ConfigError(f"{path}: connector {name!r} is defined twice")
        factory = CONNECTOR_KINDS.get(str(kind))
        if factory is None:
            known = ", ".join(sorted(CONNECTOR_KINDS))
            raise ConfigError(f"connector {name!r}: unknown kind {kind!r} (known: {known})")
        connectors[name] = factory.from_config(
            entry, secret_key=secret_key, region=region, index=index, secrets=secrets
        )
    return connectors


def dependency_stages(connectors: Mapping[str, Connector]) -> dict[str, int]:
    """The stage each connector runs in: after every connector providing an identifier it needs.

    Kahn's algorithm over "Y provides something X needs" edges; a connector's stage is one more
    than the latest stage it depends on. A cycle cannot be ordered and is a ConfigError.
    """
    names = sorted(connectors)
    after: dict[str, set[str]] = {
        x: {y for y in names if y != x and connectors[y].provides & connectors[x].needs}
        for x in names
    }
    stage: dict[str, int] = {}
    ready = [x for x in names if not after[x]]
    for x in ready:
        stage[x] = 0
    while ready:
        y = ready.pop(0)
        for x in names:
            if y in after[x] and x not in stage and all(d in stage for d in after[x]):
                stage[x] = max(stage[d] for d in after[x]) + 1
                ready.append(x)
    if len(stage) != len(names):
        stuck = ", ".join(x for x in names if x not in stage)
        raise ConfigError(f"connectors depend on each other in a cycle: {stuck}")
    return stage


def rectifiable_fields(connectors: Mapping[str, Connector] | Iterable[Connector]) -> set[str]:
    """Every public field name ``dsr submit rectify --set FIELD=VALUE`` may change."""
    items = connectors.values() if isinstance(connectors, Mapping) else connectors
    return {f for c in items for f in getattr(c, "rectifiable_fields", frozenset())}
