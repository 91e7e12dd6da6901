"""The one small protocol every connector implements, and the values it exchanges.

A connector owns ONE data store. It searches it for a subject, applies an access, rectify or
erase operation to what it found (``apply``), and purges what has outlived a retention rule
(``purge``). Everything it returns is plain, JSON-safe data.

A connector never decides whose a record is. ``apply`` takes the core's ``Policy``: the
connector searches by ``policy.search``, describes each record it hit as a ``Match`` (its key,
which identifiers hit it, the account identifiers it carries, the identifiers it would add) and
acts only on the records ``policy.decide`` admits. Every other record is reported back as a
``Candidate`` with the verdict, untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Any, Protocol, runtime_checkable

from dsr.errors import FatalStoreError
from dsr.identity import EMAIL, NAME, PHONE, Identity, normalise_text, normalise_value


class Operation(StrEnum):
    ACCESS = "access"
    RECTIFY = "rectify"
    ERASE = "erase"


class Action(StrEnum):
    """What happened to one table's (or one file set's) records; shown in replies."""

    EXPORTED = "exported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # rectify: field absent here, or value already current
    HISTORICAL = "historical"  # rectify: historical records, deliberately not rewritten
    ERASED = "erased"
    ANONYMISED = "anonymised"
    RETAINED = "retained"  # kept under a legal duty (basis + end date given)
    DEFERRED = "deferred"  # legal hold, or a record still needed (an open order)
    NOT_FOUND = "not_found"  # searched, nothing there


@dataclass
class Outcome:
    """One table's result: the action, how many records, and why where it matters."""

    table: str
    action: Action
    count: int
    legal_basis: str | None = None
    retained_until: str | None = None  # ISO date
    reason: str | None = None
    fields: list[str] = field(default_factory=list)  # rectify: the fields changed

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        return data


class Verdict(StrEnum):
    """The core's decision on one matched record."""

    ADMIT = "admit"  # the subject's: act on it
    UNPROVEN = "unproven"  # hit only by identifiers the requester typed but did not prove
    OTHER_ACCOUNT = "other_account"  # carries account identifiers, none of them the subject's
    SHARED_IDENTIFIER = "shared_identifier"  # no account of its own; hit only by an identifier
    # that another account also holds (a family's shared phone line)
    EXCLUDED = "excluded"  # staff decided it is not the subject's


Pair = tuple[str, str]  # (identifier kind, normalised value)


class Why(StrEnum):
    """Why a record is still reachable by the subject's identifiers after an erasure."""

    KEPT = "kept"  # a legal duty: kept as it is, or anonymised with only a pseudonymous link
    DEFERRED = "deferred"  # still needed (an open order); a later sweep erases it
    REVIEW = "review"  # matched, but not proven the subject's: left for staff
    NOT_ERASED = "not_erased"  # should have gone and did not: the request waits for ops


@dataclass(frozen=True)
class Remaining:
    """Records of one table the search after an erasure still reached, and why."""

    table: str
    count: int
    why: Why

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "count": self.count, "why": self.why.value}


@dataclass(frozen=True)
class Match:
    """One record a search hit, described only as far as the policy needs to judge it."""

    table: str
    key: str  # the record's primary key, as text
    matched: tuple[Pair, ...]  # the searched identifiers that hit it
    owner: tuple[Pair, ...] = ()  # account identifiers it carries (empty: no account of its own)
    provides: tuple[Pair, ...] = ()  # identifiers it adds to the subject's once admitted


@dataclass(frozen=True)
class Candidate:
    """A matched record the policy did not admit: reported, never touched."""

    match: Match
    verdict: Verdict


@dataclass(frozen=True)
class IdentifierChange:
    """A rectify replaced an identifier of a record; the old value stays a *former* identifier
    of the account (``account``: the record's account identifiers after the change)."""

    table: str
    key: str
    kind: str
    old: str
    new: str
    account: tuple[Pair, ...]


class Policy(Protocol):
    """The core's decision on which records are the subject's; a connector only obeys it.

    ``search`` is what to search by now; it grows as admitted records add identifiers, so a
    connector searches again with what is new until nothing is. ``decide`` judges a batch
    (records of one round judged together, so the order they come back in never matters).
    ``trusted`` is the identifiers proven to be the subject's (e.g. what an erasure suppresses).
    """

    @property
    def search(self) -> Identity: ...

    @property
    def trusted(self) -> Identity: ...

    def decide(self, matches: Sequence[Match]) -> list[Verdict]: ...


@dataclass
class Shared:
    """Records of one table that went to a third party, as that party knows them.

    ``recipient`` is what the store says the records were shared with (e.g. the value of
    ``orders.delivery_partner``), or None when every recipient the store lists received them.
    ``references`` are what the recipient knows the records by (order numbers), never more;
    ``fields`` the public fields it received that this request changes (rectify) or that it
    must erase (erase).
    """

    table: str
    action: Action  # updated | historical (rectify); erased | anonymised (erase)
    references: list[str]
    fields: list[str]
    recipient: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # language -> what a reference is

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        return data


@dataclass
class Found:
    """The subject's records in one store, keyed by table, plus identifiers discovered."""

    records: dict[str, list[dict[str, Any]]]
    provides: Identity = field(default_factory=Identity)
    files: dict[str, list[PurePath]] = field(default_factory=dict)  # e.g. recordings' audio

    @property
    def count(self) -> int:
        return sum(len(rows) for rows in self.records.values())


@dataclass
class TaskResult:
    """What a connector did for one request; stored in the ledger and the staging folder."""

    operation: Operation
    records: int
    outcomes: list[Outcome]
    provides: Identity = field(default_factory=Identity)  # from admitted records only
    collected_from: str | None = None  # earliest record timestamp, ISO (for the summary)
    shared: list[Shared] = field(default_factory=list)  # changed records third parties hold
    searched: list[str] = field(default_factory=list)  # identifier kinds searched by
    candidates: list[Candidate] = field(default_factory=list)  # matched, not admitted
    changes: list[IdentifierChange] = field(default_factory=list)  # rectify: identifiers replaced
    deferred: list[Match] = field(default_factory=list)  # erase: admitted but kept for now
    # erase: what the same search found afterwards (None: the store cannot search again)
    remaining: list[Remaining] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ledger's copy: outcomes and kinds, never an identifier's value."""
        data: dict[str, Any] = {
            "operation": self.operation.value,
            "records": self.records,
            "outcomes": [o.to_json() for o in self.outcomes],
            "collected_from": self.collected_from,
            "shared": [s.to_json() for s in self.shared],
            "searched": sorted(self.searched),
        }
        if self.remaining is not None:
            data["remaining"] = [r.to_json() for r in self.remaining]
        return data


@dataclass(frozen=True)
class RetentionRule:
    """One line of ``config/retention.yaml``: what ages out of a store, from when, and how."""

    connector: str
    table: str
    column: str  # the age is measured from this column
    days: int
    action: str = "delete"  # delete | anonymise
    fiscal_year_end: bool = False  # count from 31 Dec of the column's year (accounting records)
    only_when_set: str | None = None  # e.g. unsubscribed_at: rows where it is NULL never age out


@dataclass
class PurgeReport:
    """A sweep's counts for one rule; ``done`` False means it stopped early and can resume."""

    connector: str
    table: str
    action: str
    cutoff: str
    matched: int = 0
    purged: int = 0
    skipped_held: int = 0
    chunks: int = 0
    dry_run: bool = False
    done: bool = True


OnChunk = Callable[[PurgeReport], None]


@dataclass(frozen=True)
class PurgeJob:
    """One sweep of one retention rule on one store: what has aged out by ``now`` goes, except
    the records of ``held`` identities.

    ``on_chunk`` is called with the report so far right after each chunk commits, so the caller
    can put every committed chunk on record before the next one starts. With ``run_id`` each
    chunk is also counted in the store, in its own transaction (``connectors.purge_log``): what a
    run killed between the two commits removed.
    """

    rule: RetentionRule
    now: datetime
    held: Identity
    dry_run: bool = False
    chunk_size: int = 5000
    max_chunks: int | None = None  # stop early (``done`` False); a rerun resumes
    on_chunk: OnChunk | None = None
    run_id: str | None = None


def after_erasure(
    store: str, counts: Mapping[tuple[str, Why], int], candidates: Iterable[Candidate]
) -> list[Remaining]:
    """What the search after an erasure still reaches, per table and why (``counts``, plus the
    matched records still waiting for review); FatalStoreError when one should have gone."""
    tally = dict(counts)
    for candidate in candidates:
        if candidate.verdict is not Verdict.EXCLUDED:  # staff's "not theirs" is said elsewhere
            key = (candidate.match.table, Why.REVIEW)
            tally[key] = tally.get(key, 0) + 1
    remaining = [Remaining(table, n, why) for (table, why), n in sorted(tally.items())]
    left = [r for r in remaining if r.why is Why.NOT_ERASED]
    if left:
        where = ", ".join(f"{r.table} ({r.count})" for r in left)
        raise FatalStoreError(
            f"{store}: after the erasure the subject's identifiers still reach records that "
            f"should have been erased: {where}"
        )
    return remaining


def current_value(field: str, stored: object, region: str) -> str | None:
    """A stored value in the form a new value of ``field`` has (to tell "already current")."""
    if stored is None:
        return None
    if field in (EMAIL, PHONE, NAME):
        return normalise_value(field, stored, region)
    return normalise_text(stored)


@runtime_checkable
class Connector(Protocol):
    """A data store the system can search, edit, erase and sweep."""

    name: str
    labels: dict[str, str]  # language -> human name of the store ("vi", "en")
    needs: frozenset[str]  # identifier kinds it can search by (any one suffices)
    provides: frozenset[str]  # identifier kinds it may add to the identity
    recipients: list[str]  # ids of third parties that received its data (connectors.yaml)
    shared_fields: frozenset[str]  # public fields those third parties received
    retention_tables: frozenset[str]  # tables a retention rule may name (config/retention.yaml)

    def find(self, identity: Identity, *, as_of: datetime | None = None) -> Found:
        """Every record the identifiers hit, read only (tools and checks; the pipeline acts
        through ``apply``), as the store stood at ``as_of`` or later (None: as the store's
        search stands); raises RetriableStoreError when unreachable."""
        ...

    def apply(
        self,
        operation: Operation,
        policy: Policy,
        *,
        staging: Path,
        changes: dict[str, str] | None = None,
        now: datetime | None = None,
        as_of: datetime | None = None,
        before_commit: Callable[[TaskResult], None] | None = None,
    ) -> TaskResult:
        """Export to ``staging`` (access), edit (rectify) or erase/anonymise (erase) the records
        ``policy`` admits, and nothing else; idempotent. Every record written before ``as_of``
        (the request's receipt) is searched. An erasure searches again afterwards and reports
        what ``remaining`` records it still reaches; FatalStoreError when one should have gone.
        A store that erases in one transaction calls ``before_commit`` with what it is about to
        commit (no ``remaining`` yet), so that what it erased is known even if its caller dies
        between that commit and its own; if the call raises, nothing is committed.
        """
        ...

    def purge(self, job: PurgeJob) -> PurgeReport:
        """Delete or anonymise what the job's rule says has aged out, in chunks, skipping held
        ones (see ``PurgeJob``)."""
        ...

    def purged_in(self, run_id: str) -> dict[str, int]:
        """Rows removed per table by the sweep ``run_id``, as this store committed them."""
        ...

    def forget_run(self, run_id: str) -> None:
        """Drop the store's count of a sweep the ledger has on record."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class RecordSummary:
    """One record as staff need it to decide whose it is (``Describes.describe``).

    ``present`` False: the record is no longer in the store. ``identifiers`` are every
    identifier its ``match`` columns hold, normalised; ``name`` as the store holds it. The dates
    come only from columns the configuration names: ``created_at`` (the account's creation),
    ``last_activity_at`` (the product's own "last seen"), ``updated_at`` (its last write).
    """

    present: bool = True
    name: str | None = None
    identifiers: tuple[Pair, ...] = ()
    created_at: datetime | None = None
    last_activity_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def read(
        cls,
        *,
        name: object,
        identifiers: Iterable[Pair],
        created: object = None,
        last_activity: object = None,
        updated: object = None,
    ) -> RecordSummary:
        """A present record from the values its store holds: the name on one line, each date
        read from a datetime, a date or ISO text (any other shape is not shown, never guessed)."""
        text = " ".join(str(name).split()) if name is not None else ""
        return cls(
            name=text or None,
            identifiers=tuple(dict.fromkeys(identifiers)),
            created_at=_moment(created),
            last_activity_at=_moment(last_activity),
            updated_at=_moment(updated),
        )


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


@runtime_checkable
class Describes(Protocol):
    """A store that can read one record by key for staff review (an optional capability)."""

    name: str

    def describe(self, table: str, key: str) -> RecordSummary | None:
        """The record ``key`` of ``table``, read only; None when this table cannot be described
        (RetriableStoreError when the store is unreachable)."""
        ...


@runtime_checkable
class SuppressionList(Protocol):
    """A store that keeps a never-re-add list of keyed hashes (an optional capability)."""

    name: str

    def rekey_suppression(self, new_key: str, *, now: datetime) -> int | None:
        """Wrap every stored hash in ``new_key`` in one transaction (idempotent); how many were
        re-keyed, None when this store keeps no list."""
        ...


@runtime_checkable
class Indexed(Protocol):
    """A store searched through an identifier index it must keep current (an optional
    capability: the scheduler refreshes it, ``dsr connectors index`` builds it ahead)."""

    name: str

    def refresh_index(
        self, *, full: bool = False, progress: Callable[[str, int, int | None], None] | None = None
    ) -> list[Any]:
        """Index what changed since the last refresh (``full``: read every row again)."""
        ...
