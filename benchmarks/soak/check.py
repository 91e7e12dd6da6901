"""The invariants the soak checks at the end, from the ledger, the stores and the SMTP server."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import (
    Alert,
    AuditEvent,
    ErasureDeferral,
    Outbox,
    PurgeRun,
    Request,
)
from dsr.core.runtime.process import Runtime
from dsr.identity import EMAIL, PHONE, Identity

from .load import Load
from .servers import FaultySmtp
from .subjects import RULES, aged_at, all_keys

TERMINAL = ("completed", "rejected", "canceled")


@dataclass
class Findings:
    rows: list[tuple[str, str, bool]] = field(default_factory=list)  # (invariant, value, ok)
    detail: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: object, ok: bool) -> None:
        self.rows.append((name, str(value), ok))

    @property
    def ok(self) -> bool:
        return all(ok for _, _, ok in self.rows)


def check(
    rt: Runtime,
    load: Load,
    smtp: FaultySmtp,
    initial: dict[str, dict[object, str | None]],
    now: datetime,
    *,
    max_duplicate_share: float | None = None,
) -> Findings:
    out = Findings()
    with Session(get_engine(rt.db_url)) as session:
        requests = {r.id: r for r in session.exec(select(Request))}
        alerted = {a.request_id for a in session.exec(select(Alert)) if a.request_id}
        alerts = Counter(a.reason for a in session.exec(select(Alert)))
        chain = audit.verify(session)
        purge_events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "retention_purged")
        ).all()
        runs = session.exec(select(PurgeRun).where(col(PurgeRun.dry_run).is_(False))).all()
        detected = session.exec(select(sa.func.coalesce(sa.func.sum(Outbox.resends), 0))).one()
        counted = set(session.exec(select(Outbox.message_id).where(col(Outbox.resends) > 0)))

    filed = load.filed
    lost = [i for i in filed if i not in requests]
    out.add("submissions (accepted, incl. joined)", load.submissions, True)
    out.add("requests filed (distinct)", len(filed), True)
    out.add("submissions refused every time (caller told)", load.gave_up, True)
    out.add("identical submissions joined (duplicate_of)", load.joined, True)
    out.add("requests lost", len(lost), not lost)
    states = Counter(requests[i].status for i in filed if i in requests)
    out.detail["statuses"] = dict(states)
    out.add("completed", states.get("completed", 0), True)
    open_ = [i for i in filed if i in requests and requests[i].status not in TERMINAL]
    silent = [i for i in open_ if i not in alerted]
    out.add("requests open at the end (each with an alert)", len(open_), True)
    out.add("requests stuck without an alert", len(silent), not silent)
    out.detail["stuck_without_alert"] = {i: requests[i].status for i in silent}

    by_mid = Counter(mid for mid, _ in smtp.messages())
    replies = {m: n for m, n in by_mid.items() if ".reply@" in m}
    dup = sum(n - 1 for n in replies.values() if n > 1)
    share = 100.0 * dup / max(len(replies), 1)
    out.add("replies sent (distinct)", len(replies), True)
    out.add(
        "duplicate replies" + (f" (<= {max_duplicate_share} %)" if max_duplicate_share else ""),
        f"{dup} ({share:.2f} %)",
        max_duplicate_share is None or share <= max_duplicate_share,
    )
    out.add("resends the ledger detected (dsr_duplicate_sends_total)", _metric(rt), True)
    out.detail["resends_in_outbox"] = detected
    dup_all = sum(n - 1 for n in by_mid.values() if n > 1)
    out.add("duplicate e-mails of any kind (same Message-ID)", dup_all, True)
    hidden = [mid for mid, n in by_mid.items() if n > 1 and mid not in counted]
    out.add("duplicate e-mails the ledger did not count", len(hidden), not hidden)
    kinds: Counter[str] = Counter()
    for mid, n in by_mid.items():
        if n > 1:  # <request.purpose@domain>: what was sent twice
            kinds[mid.split("@")[0].split(".", 1)[-1].split("-")[0]] += n - 1
    out.detail["duplicates_by_purpose"] = dict(kinds)
    completed = [i for i in filed if i in requests and requests[i].status == "completed"]
    unreplied = [i for i in completed if not any(m.startswith(f"<{i}.reply@") for m in replies)]
    out.add("completed without a reply received", len(unreplied), not unreplied)

    out.add("audit chain verifies", f"{chain.ok} ({chain.events} events)", chain.ok)

    final = all_keys(rt.settings.resolved_data_dir)
    aged = aged_at(initial, now)
    swept = {t: {k for k in set(initial[t]) - set(final[t]) if k in aged[t]} for t in initial}
    audited: Counter[str] = Counter()
    for event in purge_events:
        audited[event.detail["table"]] += int(event.detail["purged"])
    recorded: Counter[str] = Counter()
    for run in runs:
        for store in run.report.get("stores", []):
            recorded[store["table"]] += int(store["purged"])
    match = all(audited[t] == len(swept[t]) == recorded[t] for t in swept)
    summary = ", ".join(f"{t} {len(swept[t])}/{audited[t]}/{recorded[t]}" for t in swept)
    out.add("purge records match rows removed (removed/audited/recorded)", summary, match)

    residue = _residue(rt, [requests[i] for i in completed if requests[i].kind == "erase"])
    out.add("residue after erasure (records still found)", residue, residue == 0)
    orphans, missing = _recordings(rt)
    out.add("recordings without a call / calls without their recording", f"{orphans} / {missing}",
            orphans == 0 and missing == 0)  # fmt: skip

    late = [
        i for i in filed if (r := requests.get(i)) is not None
        and r.completed_at is not None and r.completed_at > r.due_at
    ]  # fmt: skip
    out.add("deadlines missed", len(late), not late)
    out.detail["alerts"] = dict(alerts)
    out.detail["intake_refusals_seen_by_callers"] = dict(load.refused)
    out.detail["intake_refusal_samples"] = load.samples
    return out


def _metric(rt: Runtime) -> int:
    """The resends as ops see them: the sum of ``dsr_duplicate_sends_total`` over purposes."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from dsr.service.metrics import registry

    text = generate_latest(registry(rt.db_url)).decode()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "dsr_duplicate_sends"
            for sample in family.samples
            if sample.name == "dsr_duplicate_sends_total"
        )
    )


def _residue(rt: Runtime, erased: list[Request]) -> int:
    """Records still found by an erased subject's e-mail and phone, except those the erasure
    deferred on purpose (an open order, and the rows kept with it): those are reported to the
    subject and finished by the retention sweep."""
    with Session(get_engine(rt.db_url)) as session:
        kept = {
            (d.request_id, d.connector, d.table_name, d.record_key)
            for d in session.exec(
                select(ErasureDeferral).where(col(ErasureDeferral.done_at).is_(None))
            )
        }
    found = 0
    for request in erased:
        identity = Identity()
        identity.add(EMAIL, [request.email])
        identity.add(PHONE, [request.phone])
        for name, connector in rt.connectors.items():
            tables = {t.name: t for t in getattr(getattr(connector, "config", None), "tables", [])}
            for table, rows in connector.find(identity).records.items():
                spec = tables.get(table)
                for row in rows:
                    if spec is not None and spec.parent is not None:
                        ref = (request.id, name, spec.parent.table, str(row[spec.parent.column]))
                    else:
                        key = spec.key if spec is not None else "id"
                        ref = (request.id, name, table, str(row.get(key)))
                    found += ref not in kept
    return found


def _recordings(rt: Runtime) -> tuple[int, int]:
    """Files in the PBX's monitor folder no call names, and calls naming a file that is gone."""
    root = rt.settings.resolved_data_dir / "recordings"
    engine = sa.create_engine(f"sqlite:///{root / 'cdr.db'}")
    with engine.connect() as conn:
        named = set(
            conn.execute(sa.text("SELECT recordingfile FROM cdr WHERE recordingfile <> ''"))
            .scalars()
            .all()
        )
    engine.dispose()
    monitor = root / "monitor"
    on_disk = {str(p.relative_to(monitor)) for p in monitor.rglob("*") if p.is_file()}
    return len(on_disk - named), len(named - on_disk)


__all__ = ["RULES", "Findings", "check"]
