"""The check after an erasure: the same widest search again, and why each record it reaches
is still there.

The search runs with everything the erasure searched by (every identifier, every spelling,
what admitted records added), and this time it also sees anonymised rows. A record it reaches
remains for a reason the certificate states: a legal duty (kept as it is, or anonymised down to
a pseudonymous link such as a customer number), deferred (still needed), or left for staff
review. Anything else should have gone and did not (a misconfigured anonymisation that leaves
the address in the clear, a row the erasure never saw): FatalStoreError, so the task fails, the
request goes to needs_attention with an ops alert, and no certificate claims completion.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from connectors.base import Policy, Remaining, Why, after_erasure
from connectors.sql_config import TableSpec
from connectors.sql_scan import Row, Scanner
from connectors.sql_store import Store
from connectors.sql_tables import REDACTED, Bound, Normaliser
from dsr.identity import CUSTOMER_ID


def verify_erasure(
    store: Store,
    policy: Policy,
    deferred: list[tuple[TableSpec, Row]],
    normalise: Normaliser,
) -> list[Remaining]:
    """What the subject's identifiers still reach after an erasure, by table and reason."""
    later = {(spec.name, str(row[spec.key])) for spec, row in deferred}
    counts: Counter[tuple[str, Why]] = Counter()
    tables = store.tables()
    with store.engine.connect() as conn:
        again = Scanner(store, conn, policy, normalise, anonymised_too=True)
        rows = again.collect()
    for spec in store.config.tables:
        bound = tables[spec.name]
        for row in rows.get(spec.name, []):
            counts[(spec.name, _why(store, bound, row, again, later))] += 1
    return after_erasure(store.name, counts, again.candidates)


def _why(
    store: Store, bound: Bound, row: dict[str, Any], scan: Scanner, later: set[tuple[str, str]]
) -> Why:
    spec = bound.spec
    if spec.parent is not None:
        parent = spec.parent
        if (parent.table, str(row[parent.column])) in later:
            return Why.DEFERRED
        return Why.KEPT if spec.erase.mode == "keep" else Why.NOT_ERASED
    if (spec.name, str(row[spec.key])) in later:
        return Why.DEFERRED
    if spec.erase.mode == "keep":
        return Why.KEPT
    if spec.erase.mode == "anonymise" and not _live(bound, row):
        # Anonymised: only a pseudonymous link (a customer number) may still reach it.
        match = scan.match(spec, row)
        if all(kind == CUSTOMER_ID for kind, _ in match.matched):
            return Why.KEPT
    return Why.NOT_ERASED


def _live(bound: Bound, row: dict[str, Any]) -> bool:
    """Whether a row is not yet anonymised (``Bound.live_clause``, read from the row)."""
    marker_columns = [
        (c, s) for c, s in bound.spec.erase.columns.items() if s in ("redact", "null")
    ]
    for column, strategy in marker_columns:
        if strategy == "null" and row[column] is not None:
            return True
        if strategy == "redact" and row[column] != bound.fit(column, REDACTED):
            return True
    return False
