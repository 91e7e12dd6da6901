"""The validated shape of one ``kind: sql`` entry of ``config/connectors.yaml``.

Adding a SQL-backed store is a YAML entry, so everything the connector does is described here:
which columns identify the subject, which are rectifiable, and how each table is erased.
Invalid entries become a ``ConfigError`` naming the connector and the offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from dsr import yamlconfig
from dsr.identity import KINDS

Kind = Literal["email", "phone", "name", "customer_id"]
Strategy = Literal["null", "redact", "hash"]
# Table and connector names become file names in the staging folder: keep them plain.
_NAME = r"^[A-Za-z0-9_]+$"
_CONNECTOR_NAME = r"^[A-Za-z0-9_.-]+$"

if set(get_args(Kind)) != set(KINDS):  # kept in step with dsr.identity by hand
    raise ImportError("connectors.sql_config.Kind differs from dsr.identity.KINDS")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FileSpec(_Strict):
    """A column naming a file under ``root`` (a call recording): access copies the file into
    the export, erasure removes it and then its row, and so does a retention sweep.

    ``folder`` places the name in a sub-folder made from the row, for archives that file by
    date: FreePBX keeps ``recordingfile`` as a bare name under ``YYYY/MM/DD/``, which is
    ``folder: "{calldate:%Y/%m/%d}"`` (a Python format string over the row's columns).
    """

    column: str
    root: str
    folder: str | None = None

    @field_validator("folder")
    @classmethod
    def _named_columns(cls, value: str | None) -> str | None:
        if value is not None and not [f for _, f, _, _ in Formatter().parse(value) if f]:
            raise ValueError("folder names no column ({column} or {column:format})")
        return value

    def columns(self) -> set[str]:
        """The row's columns the file's path is made from."""
        names = {self.column}
        if self.folder is not None:
            names |= {f for _, f, _, _ in Formatter().parse(self.folder) if f}
        return names


class HistoricalWhen(_Strict):
    """Rows whose ``column`` holds one of ``values`` are history and never rewritten."""

    column: str
    values: list[str] = Field(alias="in", min_length=1)
    reason: str | None = None


class DeferWhen(_Strict):
    """Rows whose ``column`` holds one of ``values`` are still needed (an order not yet
    delivered): erasure defers them, and a later run (the retention sweep) finishes them."""

    column: str
    values: list[str] = Field(alias="in", min_length=1)
    reason: str = "still needed"


class Parent(_Strict):
    """A child table reached through ``column``, which holds its parent's key."""

    table: str = Field(pattern=_NAME)
    column: str


class Retention(_Strict):
    """How long anonymised records are kept, counted from ``source``."""

    years: int = Field(gt=0)
    source: str = Field(alias="from")
    fiscal_year_end: bool = False


class Erase(_Strict):
    """What erasure does to a table: delete rows, anonymise columns, or keep them."""

    mode: Literal["delete", "anonymise", "keep"]
    columns: dict[str, Strategy] = Field(default_factory=dict)
    legal_basis: str | None = None
    retention: Retention | None = None

    @model_validator(mode="after")
    def _columns_fit_mode(self) -> Erase:
        if self.mode == "anonymise":
            # Anonymised rows are recognised (and never re-anonymised or re-matched) by their
            # redacted / nulled columns; a hash-only strategy would leave no such sign.
            if not any(s in ("null", "redact") for s in self.columns.values()):
                raise ValueError("mode anonymise needs at least one 'null' or 'redact' column")
        elif self.columns:
            raise ValueError(f"columns only apply to mode anonymise, not {self.mode}")
        return self


class SharedSpec(_Strict):
    """Which of a table's rows went to a third party, and what that party knows them by.

    ``column`` holds, per row, the recipient it went to (its id, name or an alias in the
    ``recipients`` section; NULL: not shared); without it every row went to every recipient the
    store lists. ``reference`` is what the recipient knows a row by (an order number): notices
    carry it, never the subject's other details. ``fields`` are the public fields it received
    (default: the table's rectifiable fields).
    """

    column: str | None = None
    reference: str
    fields: list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)  # language -> what a reference is


class ReviewSpec(_Strict):
    """The columns staff see when they decide whose a record is (``dsr review``, the staff
    page). Unnamed ones default only to columns the table's entry already names: ``name`` to
    ``rectifiable.name``, ``created`` to ``collected_at``; ``last_activity`` has no default (a
    last write, ``changed_at``, is shown as such, never as activity)."""

    name: str | None = None
    created: str | None = None
    last_activity: str | None = None


class TableSpec(_Strict):
    """One table of a SQL store, as configured."""

    name: str = Field(pattern=_NAME)
    key: str = "id"
    # Identifier kind -> the store's own columns holding it, as people typed the values.
    match: dict[str, list[str]] = Field(default_factory=dict)
    provides: dict[str, str] = Field(default_factory=dict)
    null_when: dict[str, list[str]] = Field(default_factory=dict)  # column -> values meaning none
    changed_at: str | None = None  # set by the product on every write: incremental re-indexing
    file: FileSpec | None = None
    rectifiable: dict[str, str] = Field(default_factory=dict)
    historical_when: HistoricalWhen | None = None
    defer_when: DeferWhen | None = None
    parent: Parent | None = None
    collected_at: str | None = None
    shared: SharedSpec | None = None
    # Account identifiers the rows carry (kinds from ``match``). "any": the row is the
    # subject's when any of them is; "first": only the first one that holds a value names the
    # row's account (an order's customer id; its e-mail only for a guest order without one).
    owner: list[Kind] = Field(default_factory=list)
    owner_rule: Literal["any", "first"] = "any"
    erase: Erase
    # What the subject's export says: why the table is kept (``{vi: ..., en: ...}``) and each
    # exported column's heading in the CSV (``{column: {vi: ..., en: ...}}``).
    purpose: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    title: dict[str, str] = Field(default_factory=dict)  # what replies call the table {vi, en}
    review: ReviewSpec = Field(default_factory=ReviewSpec)

    @field_validator("match", mode="before")
    @classmethod
    def _columns_as_lists(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("null_when", mode="before")
    @classmethod
    def _values_as_text(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {
                k: [str(v) for v in (vs if isinstance(vs, list) else [vs])]
                for k, vs in value.items()
            }
        return value

    @field_validator("match", "provides")
    @classmethod
    def _known_kinds(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(
                f"unknown identifier kind {', '.join(unknown)} (known: {', '.join(KINDS)})"
            )
        if any(isinstance(v, list) and not v for v in value.values()):
            raise ValueError("a match kind needs at least one column")
        return value

    @model_validator(mode="after")
    def _top_level_or_child(self) -> TableSpec:
        if self.parent is None and not self.match:
            raise ValueError("a table without 'parent' needs 'match' (how the subject is found)")
        if self.parent is not None and (self.provides or self.owner):
            raise ValueError("a child table ('parent') belongs to its parent's account")
        if self.parent is not None and self.changed_at and not self.match:
            raise ValueError("changed_at is for tables searched by 'match'")
        if self.shared is not None:
            if self.parent is not None:
                raise ValueError("'shared' is for tables found by 'match', not child tables")
            known = set(self.rectifiable) | set(KINDS)
            unknown = sorted(set(self.shared.fields or []) - known)
            if unknown:
                raise ValueError(f"shared.fields: unknown field {', '.join(unknown)}")
        unmatched = [k for k in self.owner if k not in self.match]
        if unmatched:
            raise ValueError(f"owner kind {', '.join(unmatched)} is not one of 'match'")
        if self.defer_when is not None and self.erase.mode == "keep":
            raise ValueError("defer_when needs erase mode delete or anonymise")
        return self

    @property
    def shared_fields(self) -> frozenset[str]:
        """The public fields the table's recipients received (none when it is not shared)."""
        if self.shared is None:
            return frozenset()
        fields = self.shared.fields
        return frozenset(self.rectifiable if fields is None else fields)

    @property
    def name_column(self) -> str | None:
        """The column holding the record's name (review), as configured."""
        return self.review.name or self.rectifiable.get("name")

    @property
    def created_column(self) -> str | None:
        """The column saying when the record was created (review), as configured."""
        return self.review.created or self.collected_at

    def columns(self) -> set[str]:
        """Every column this spec names (checked against the real table at start)."""
        names = {self.key, *(c for cs in self.match.values() for c in cs)}
        names |= set(self.provides.values()) | set(self.rectifiable.values())
        names |= set(self.erase.columns) | set(self.null_when)
        names |= self.file.columns() if self.file else set()
        for extra in (
            self.collected_at,
            self.shared and self.shared.column,
            self.shared and self.shared.reference,
            self.parent and self.parent.column,
            self.historical_when and self.historical_when.column,
            self.defer_when and self.defer_when.column,
            self.erase.retention and self.erase.retention.source,
            self.changed_at,
            self.review.name,
            self.review.created,
            self.review.last_activity,
        ):
            if extra:
                names.add(extra)
        return names


class Suppression(_Strict):
    """The store's never-re-add list: keyed hashes of erased addresses."""

    table: str = Field(pattern=_NAME)
    column: str


class SqlConfig(_Strict):
    """A whole ``kind: sql`` connector entry."""

    name: str = Field(pattern=_CONNECTOR_NAME)
    kind: Literal["sql"] = "sql"
    url: str
    labels: dict[str, str] = Field(default_factory=dict)
    recipients: list[str] = Field(default_factory=list)
    suppression: Suppression | None = None
    # Where the tables this system keeps in the store go (the sweep's purge log): a
    # PostgreSQL schema or MariaDB database of their own; None: beside the data.
    own_schema: str | None = Field(default=None, pattern=_NAME)
    tables: list[TableSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _tables_consistent(self) -> SqlConfig:
        seen: set[str] = set()
        parents = {t.name: t for t in self.tables}
        for spec in self.tables:
            if spec.name in seen:
                raise ValueError(f"table {spec.name} is listed twice")
            parent = parents.get(spec.parent.table) if spec.parent else None
            if spec.match and parent is not None and parent.parent is not None:
                raise ValueError(
                    f"table {spec.name}: 'match' on a child needs a top-level parent "
                    f"({parent.name} is a child itself)"
                )
            # Parents first: find, export and erase walk the list in order (children after).
            if spec.parent is not None and spec.parent.table not in seen:
                raise ValueError(
                    f"table {spec.name}: parent {spec.parent.table} must be listed before it"
                )
            seen.add(spec.name)
        shared = [t for t in self.tables if t.shared is not None]
        if self.recipients and not shared:
            raise ValueError("recipients are listed but no table says what it shared ('shared')")
        if any(t.shared and t.shared.column is None for t in shared) and not self.recipients:
            raise ValueError("a table 'shared' without a column needs the store's 'recipients'")
        if self.own_schema is not None and self.url.startswith("sqlite"):
            raise ValueError("own_schema needs PostgreSQL or MariaDB (SQLite has no schemas)")
        if self.suppression is not None and self.suppression.table in seen:
            raise ValueError("the suppression table must not be one of the data tables")
        return self


M = TypeVar("M", bound=BaseModel)


def parse_entry(model: type[M], entry: Mapping[str, Any]) -> M:
    """Validate one connector entry, turning pydantic's errors into one clear ConfigError."""
    return yamlconfig.validate(model, entry, f"connector {entry.get('name', '?')!r}")
