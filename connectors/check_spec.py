"""What ``dsr connectors check`` needs to know of one ``kind: sql`` entry of connectors.yaml.

Read from the entry as the registry reads the file (``read_entries``), not through the
connector's own model: ``check`` is how an operator finds out whether an entry fits the live
store, so it reports what it can of an entry the model might still refuse. It accepts ``match``
values as one column or a list of columns, and the per-table keys ``null_when``, ``changed_at``
and ``file`` as well as the older ``derived`` shadow columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dsr.errors import ConfigError

ERASE_PRIVILEGE = {"delete": "DELETE", "anonymise": "UPDATE", "keep": None}


@dataclass(frozen=True)
class TableView:
    """One configured table: what it is matched by and every column it names."""

    name: str
    key: str
    match: dict[str, tuple[str, ...]]
    parent: tuple[str, str] | None  # (parent table, column holding the parent's key)
    changed_at: str | None
    file: tuple[str, str] | None  # (column naming a file, the folder it is under)
    null_when: dict[str, tuple[str, ...]]  # column -> stored values meaning "none", as text
    rectifiable: bool
    erase_mode: str
    columns: frozenset[str]

    def needed_privileges(self) -> dict[str, str]:
        """Each privilege the configuration needs on this table, and what needs it."""
        needed = {"SELECT": "find and export"}
        if self.rectifiable:
            needed["UPDATE"] = "rectifiable"
        erase = ERASE_PRIVILEGE.get(self.erase_mode)
        if erase:
            needed.setdefault(erase, f"erase mode {self.erase_mode}")
        return needed


@dataclass(frozen=True)
class StoreView:
    """One configured store (only ``kind: sql`` ones have tables)."""

    name: str
    kind: str
    url: str
    tables: tuple[TableView, ...] = ()
    suppression: tuple[str, str] | None = None  # (table, column)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    return value


def _columns(value: Any, where: str) -> tuple[str, ...]:
    """One column name or a list of them."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: expected a column or a list of columns")
    return tuple(names)


def _need(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: needs {key!r}")
    return value


def _opt_str(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    return value if isinstance(value, str) else None


def table_view(spec: Mapping[str, Any], where: str) -> TableView:
    """A table entry as ``check`` reads it (ConfigError when it cannot be read at all)."""
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: a table has no name")
    where = f"{where}.{name}"
    key = spec.get("key", "id")
    match = {
        k: _columns(v, f"{where}.match.{k}") for k, v in _mapping(spec.get("match"), where).items()
    }
    named: set[str] = {str(key), *(c for cols in match.values() for c in cols)}
    for section in ("provides", "rectifiable", "derived"):
        for k, v in _mapping(spec.get(section), f"{where}.{section}").items():
            if section == "derived":
                named.add(k)
                v = _mapping(v, f"{where}.derived.{k}").get("from")
            if isinstance(v, str):
                named.add(v)
    parent_spec = _mapping(spec.get("parent"), f"{where}.parent")
    parent = None
    if parent_spec:
        parent = (_need(parent_spec, "table", where), _need(parent_spec, "column", where))
    file_spec = _mapping(spec.get("file"), f"{where}.file")
    file = None
    if file_spec:
        file = (_need(file_spec, "column", where), _need(file_spec, "root", where))
    null_when = {
        str(c): tuple(str(v) for v in (vs if isinstance(vs, list) else [vs]))
        for c, vs in _mapping(spec.get("null_when"), f"{where}.null_when").items()
    }
    erase = _mapping(spec.get("erase"), f"{where}.erase")
    named |= set(_mapping(erase.get("columns"), f"{where}.erase.columns"))
    retention = _mapping(erase.get("retention"), f"{where}.erase.retention")
    shared = _mapping(spec.get("shared"), f"{where}.shared")
    for extra in (
        _opt_str(spec, "collected_at"),
        _opt_str(spec, "changed_at"),
        parent and parent[1],
        file and file[0],
        _opt_str(shared, "column"),
        _opt_str(shared, "reference"),
        _opt_str(_mapping(spec.get("historical_when"), where), "column"),
        _opt_str(_mapping(spec.get("defer_when"), where), "column"),
        _opt_str(retention, "from"),
        *null_when,
    ):
        if extra:
            named.add(extra)
    return TableView(
        name=name,
        key=str(key),
        match=match,
        parent=parent,
        changed_at=_opt_str(spec, "changed_at"),
        file=file,
        null_when=null_when,
        rectifiable=bool(_mapping(spec.get("rectifiable"), where)),
        erase_mode=str(erase.get("mode", "delete")),
        columns=frozenset(named),
    )


def store_view(entry: Mapping[str, Any]) -> StoreView:
    """One connectors.yaml entry as ``check`` reads it."""
    name, kind = str(entry.get("name", "?")), str(entry.get("kind", "?"))
    if kind != "sql":
        return StoreView(name, kind, "")
    where = f"connector {name!r}"
    url = entry.get("url")
    if not isinstance(url, str):
        raise ConfigError(f"{where}: no url")
    tables = entry.get("tables")
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: no tables")
    views = tuple(table_view(_mapping(t, f"{where}.tables"), f"{where}.tables") for t in tables)
    suppression = _mapping(entry.get("suppression"), f"{where}.suppression")
    supp = None
    if suppression:
        supp = (_need(suppression, "table", where), _need(suppression, "column", where))
    return StoreView(name, kind, url, views, supp)
