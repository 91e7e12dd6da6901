"""The archive of recorded support calls: WAV files on disk plus a SQLite metadata index.

Layout: ``<root>/index.db`` (table ``calls``, see ``recordings_schema``) and
``<root>/audio/<file>``, where ``calls.file`` is relative to ``<root>/audio/``. Every path is
resolved and must stay inside ``<root>/audio``: a crafted name (``../../etc/passwd``, an absolute
path, a symlink out) stops the operation with FatalStoreError before any file is read or deleted.
Recordings are history: rectify never rewrites them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connectors import purge_log
from connectors.base import (
    Action,
    Candidate,
    Found,
    Match,
    OnChunk,
    Operation,
    Outcome,
    Policy,
    PurgeReport,
    RetentionRule,
    Shared,
    TaskResult,
    Verdict,
)
from connectors.export import earliest, json_row, write_table
from connectors.identifier_index import IdentifierIndex
from connectors.recordings_schema import calls, removals
from connectors.sql_config import parse_entry
from connectors.sql_purge import cutoff_for, naive_utc
from connectors.sql_tables import search_values, store_errors
from dsr.errors import ConfigError, FatalStoreError, NotApplicable
from dsr.files import copy_private
from dsr.identity import PHONE, Identity

HISTORICAL_REASON = "call recordings are historical records and are not rewritten"
_EXPORT_COLUMNS = [c.name for c in calls.columns if c.name != "phone_norm"]


class RecordingsConfig(BaseModel):
    """A ``kind: recordings`` entry of ``connectors.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["recordings"] = "recordings"
    root: str
    labels: dict[str, str] = Field(default_factory=dict)
    recipients: list[str] = Field(default_factory=list)


class RecordingArchive:
    """Support-call recordings, found by the caller's phone."""

    kind = "recordings"

    def __init__(
        self,
        *,
        name: str,
        root: Path,
        labels: Mapping[str, str] | None = None,
        recipients: list[str] | None = None,
        region: str = "VN",
    ) -> None:
        self.name = name
        self.root = Path(root).resolve()
        self.audio_dir = self.root / "audio"
        self.labels = dict(labels or {})
        self.recipients = list(recipients or [])
        self.needs = frozenset({PHONE})
        self.provides: frozenset[str] = frozenset()
        self.rectifiable_fields: frozenset[str] = frozenset()
        # Recordings are never rewritten: recipients hear of their erasure only.
        self.shared_fields: frozenset[str] = frozenset()
        self.retention_tables = frozenset({calls.name})
        self.region = region
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        entry: Mapping[str, Any],
        *,
        secret_key: str,
        region: str = "VN",
        index: IdentifierIndex | None = None,
    ) -> RecordingArchive:
        """Build from one validated ``connectors.yaml`` entry (ConfigError when invalid)."""
        config = parse_entry(RecordingsConfig, entry)
        return cls(
            name=config.name,
            root=Path(config.root),
            labels=config.labels,
            recipients=config.recipients,
            region=region,
        )

    def __repr__(self) -> str:
        return f"RecordingArchive({self.name!r})"

    # -- storage ----------------------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """The index database (FatalStoreError when the archive has none: never create one)."""
        with self._lock:
            if self._engine is None:
                index = self.root / "index.db"
                if not index.is_file():
                    raise FatalStoreError(f"{self.name}: archive index is missing")
                engine = sa.create_engine(sa.URL.create("sqlite", database=str(index)))
                with store_errors(self.name):
                    if not sa.inspect(engine).has_table(calls.name):
                        engine.dispose()
                        raise FatalStoreError(f"{self.name}: index has no table {calls.name}")
                    removals.create(engine, checkfirst=True)  # archives indexed before it
                self._engine = engine
            return self._engine

    def audio_path(self, call_id: object, file: str) -> Path:
        """The resolved audio file of a call, refused unless it lies inside ``<root>/audio``."""
        relative = file.removeprefix("audio/")  # tolerate paths written relative to the root
        path = (self.audio_dir / relative).resolve()
        if not path.is_relative_to(self.audio_dir) or path == self.audio_dir:
            raise FatalStoreError(f"{self.name}: call {call_id} names a file outside the archive")
        return path

    def _rows(self, conn: sa.Connection, where: Any) -> list[tuple[dict[str, Any], Path]]:
        """Matching calls with their checked audio paths (all checked before any is used)."""
        stmt = sa.select(calls).where(where).order_by(calls.c.started_at, calls.c.id)
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
        return [(r, self.audio_path(r["id"], r["file"])) for r in rows]

    def _subject(self, identity: Identity) -> Any:
        phones = search_values(identity, [PHONE], self.region).get(PHONE)
        if not phones:
            raise NotApplicable(f"{self.name}: searches by phone only")
        return calls.c.phone_norm.in_(phones)

    def _forget(self, conn: sa.Connection, rows: list[tuple[dict[str, Any], Path]]) -> None:
        """Delete the calls' rows and list their files for removal, in the caller's transaction."""
        if not rows:
            return
        files = [{"file": p.relative_to(self.audio_dir).as_posix()} for _, p in rows]
        conn.execute(sqlite_insert(removals).on_conflict_do_nothing(), files)
        conn.execute(sa.delete(calls).where(calls.c.id.in_([r["id"] for r, _ in rows])))

    def _drain(self) -> int:
        """Unlink the listed files (their rows' deletion has committed), then clear the list."""
        with store_errors(self.name), self.engine.connect() as conn:
            files = list(conn.execute(sa.select(removals.c.file)).scalars())
        if not files:
            return 0
        self._remove([self.audio_path("removal", f) for f in files])
        with store_errors(self.name), self.engine.begin() as conn:
            conn.execute(sa.delete(removals).where(removals.c.file.in_(files)))
        return len(files)

    def _remove(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                path.unlink(missing_ok=True)  # gone already: an earlier run got this far
            except OSError as err:
                raise FatalStoreError(
                    f"{self.name}: cannot delete a recording ({type(err).__name__})"
                ) from None

    # -- the protocol -----------------------------------------------------------------------

    def find(self, identity: Identity, *, as_of: datetime | None = None) -> Found:
        """The subject's call metadata and the audio files that exist for them."""
        where = self._subject(identity)
        with store_errors(self.name), self.engine.connect() as conn:
            rows = self._rows(conn, where)
        return Found(
            records={calls.name: [json_row(r, _EXPORT_COLUMNS) for r, _ in rows]},
            files={calls.name: [p for _, p in rows if p.is_file()]},
        )

    def apply(
        self,
        operation: Operation,
        policy: Policy,
        *,
        staging: Path,
        changes: dict[str, str] | None = None,
        now: datetime | None = None,
        as_of: datetime | None = None,
    ) -> TaskResult:
        """Export (metadata + audio), report recordings as history (rectify), or delete both;
        only for the calls ``policy`` admits."""
        operation = Operation(operation)
        where = self._subject(policy.search)
        searched = [PHONE]
        if operation is Operation.ACCESS:
            return self._access(policy, where, staging)
        if operation is Operation.RECTIFY:
            with store_errors(self.name), self.engine.connect() as conn:
                admitted, candidates = self._judged(conn, where, policy)
            count = len(admitted)
            outcome = (
                Outcome(calls.name, Action.HISTORICAL, count, reason=HISTORICAL_REASON)
                if count
                else Outcome(calls.name, Action.NOT_FOUND, 0)
            )
            return TaskResult(operation, count, [outcome], searched=searched, candidates=candidates)
        with store_errors(self.name), self.engine.begin() as conn:
            admitted, candidates = self._judged(conn, where, policy)
            self._forget(conn, admitted)
        self._drain()  # files only once their rows' deletion has committed
        action = Action.ERASED if admitted else Action.NOT_FOUND
        count = len(admitted)
        outcomes = [Outcome(calls.name, action, count), Outcome("audio", action, count)]
        shared = (
            [Shared(calls.name, Action.ERASED, sorted(str(r["id"]) for r, _ in admitted), [])]
            if admitted and self.recipients
            else []
        )
        return TaskResult(
            operation, count, outcomes, shared=shared, searched=searched, candidates=candidates
        )

    def _judged(
        self, conn: sa.Connection, where: Any, policy: Policy
    ) -> tuple[list[tuple[dict[str, Any], Path]], list[Candidate]]:
        """The matching calls the policy admits (with checked audio paths), and the rest."""
        phones = set(search_values(policy.search, [PHONE], self.region).get(PHONE, []))
        rows = self._rows(conn, where)
        matches = [
            Match(
                calls.name,
                str(r["id"]),
                ((PHONE, r["phone_norm"]),) if r["phone_norm"] in phones else (),
            )
            for r, _ in rows
        ]
        verdicts = policy.decide(matches)
        admitted = [row for row, v in zip(rows, verdicts, strict=True) if v is Verdict.ADMIT]
        candidates = [
            Candidate(m, v)
            for m, v in zip(matches, verdicts, strict=True)
            if v is not Verdict.ADMIT
        ]
        return admitted, candidates

    def _access(self, policy: Policy, where: Any, staging: Path) -> TaskResult:
        with store_errors(self.name), self.engine.connect() as conn:
            admitted, candidates = self._judged(conn, where, policy)
        records = [json_row(r, _EXPORT_COLUMNS) for r, _ in admitted]
        files = [p for _, p in admitted if p.is_file()]
        if not records:
            return TaskResult(
                Operation.ACCESS,
                0,
                [Outcome(calls.name, Action.NOT_FOUND, 0), Outcome("audio", Action.NOT_FOUND, 0)],
                searched=[PHONE],
                candidates=candidates,
            )
        write_table(staging, calls.name, records)
        target = staging / "audio"
        for path in files:
            copy_private(path, target / path.relative_to(self.audio_dir))
        copied = len(files)
        missing = len(records) - copied
        audio = Outcome(
            "audio",
            Action.EXPORTED if copied else Action.NOT_FOUND,
            copied,
            reason=f"{missing} recording file(s) missing from the archive" if missing else None,
        )
        return TaskResult(
            Operation.ACCESS,
            len(records),
            [Outcome(calls.name, Action.EXPORTED, len(records)), audio],
            collected_from=earliest(r["started_at"] for r in records),
            searched=[PHONE],
            candidates=candidates,
        )

    def purge(
        self,
        rule: RetentionRule,
        *,
        now: datetime,
        held: Identity,
        dry_run: bool = False,
        chunk_size: int = 5000,
        max_chunks: int | None = None,
        on_chunk: OnChunk | None = None,
        run_id: str | None = None,
    ) -> PurgeReport:
        """Delete calls (audio and metadata) older than the rule allows, skipping held phones."""
        column = rule.only_when_set or rule.column
        if rule.table != calls.name or column not in calls.c or rule.action != "delete":
            raise ConfigError(
                f"retention rule for {self.name}: only 'delete' of "
                f"{calls.name} by one of its timestamp columns is supported"
            )
        if chunk_size < 1:
            raise ConfigError("chunk_size must be at least 1")
        cutoff = cutoff_for(rule, naive_utc(now))
        aged = calls.c[column] < cutoff
        phones = search_values(held, [PHONE], self.region).get(PHONE)
        cond = aged
        if phones:
            cond = sa.and_(
                aged, sa.or_(calls.c.phone_norm.is_(None), calls.c.phone_norm.not_in(phones))
            )
        report = PurgeReport(self.name, calls.name, "delete", cutoff.isoformat(), dry_run=dry_run)
        count = sa.select(sa.func.count()).select_from(calls)
        with store_errors(self.name):
            with self.engine.connect() as conn:
                report.matched = int(conn.execute(count.where(cond)).scalar_one())
                if phones:
                    held_hit = sa.and_(aged, calls.c.phone_norm.in_(phones))
                    report.skipped_held = int(conn.execute(count.where(held_hit)).scalar_one())
            if dry_run:
                return report
            self._drain()  # what a killed run deleted from the index but not yet from disk
            if run_id is not None:
                purge_log.ensure(self.engine)
            last: str | None = None
            while True:
                page = sa.select(calls.c.id).where(cond).order_by(calls.c.id).limit(chunk_size)
                if last is not None:
                    page = page.where(calls.c.id > last)
                with self.engine.begin() as conn:
                    ids = list(conn.execute(page).scalars())
                    if not ids:
                        break
                    if max_chunks is not None and report.chunks >= max_chunks:
                        report.done = False  # more aged calls remain: a rerun continues
                        break
                    rows = self._rows(conn, sa.and_(calls.c.id.in_(ids), cond))
                    self._forget(conn, rows)
                    if run_id is not None:
                        purge_log.note(conn, run_id, calls.name, report.chunks, len(rows))
                last = ids[-1]
                report.purged += len(rows)
                report.chunks += 1
                if on_chunk is not None:
                    on_chunk(report)  # on record before the files go and the next chunk starts
                self._drain()
        return report

    def purged_in(self, run_id: str) -> dict[str, int]:
        with store_errors(self.name):
            return purge_log.purged(self.engine, run_id)

    def forget_run(self, run_id: str) -> None:
        with store_errors(self.name):
            purge_log.forget(self.engine, run_id)

    def close(self) -> None:
        """Release the index database."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
