"""Scope: which records are the subject's. A pure decision, made here and nowhere else.

A record is the subject's (``ADMIT``) when

* it carries account identifiers (``owner``: a customer id, an e-mail, as ``connectors.yaml``
  declares per table) and at least one of them is *trusted* — verified, or derived from a
  record already admitted (a *former* identifier of such an account counts only when every
  account identifier the record carries is trusted); or
* it carries none (a call recording, a guest order without e-mail) and a trusted identifier hit
  it that no other account also holds (``contested``: it hit a record of another account).

Otherwise it is a candidate, never acted on without a staff decision: ``OTHER_ACCOUNT`` (its
account identifiers are none of the subject's), ``UNPROVEN`` (only identifiers the requester
typed but did not prove hit it), ``SHARED_IDENTIFIER`` (no account of its own, and every trusted
identifier that hit it is also another account's). Staff decisions override: ``included``
records are admitted, ``excluded`` ones never are.

Admission only ever grows with what is trusted, and an admitted record adds its ``provides`` to
what is trusted; ``Scope.decide`` therefore takes a batch to its least fixed point, so the order
records come back in never changes a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from connectors.base import Match, Pair, Verdict
from dsr.identity import Identity

Ref = tuple[str, str]  # (table, record key) within one connector


def verdict(
    match: Match,
    *,
    trusted: Identity,
    former: Identity | None = None,
    contested: frozenset[Pair] = frozenset(),
    included: frozenset[Ref] = frozenset(),
    excluded: frozenset[Ref] = frozenset(),
) -> Verdict:
    """The decision on one record, given what is trusted now (pure).

    ``former`` (a subset of ``trusted``) are identifiers the subject's accounts had before a
    rectify: they still find records, but an address given up may have been taken by someone
    else, so a record they alone link to the subject must carry no other account identifier
    that is not the subject's.
    """
    ref = (match.table, match.key)
    if ref in excluded:
        return Verdict.EXCLUDED
    if ref in included:
        return Verdict.ADMIT
    if match.owner:
        weak = former or Identity()
        known = [value in trusted.get(kind) for kind, value in match.owner]
        strong = any(
            value in trusted.get(kind) and value not in weak.get(kind)
            for kind, value in match.owner
        )
        own = strong or (any(known) and all(known))
        return Verdict.ADMIT if own else Verdict.OTHER_ACCOUNT
    hits = [(kind, value) for kind, value in match.matched if value in trusted.get(kind)]
    if not hits:
        return Verdict.UNPROVEN
    if all(hit in contested for hit in hits):
        return Verdict.SHARED_IDENTIFIER
    return Verdict.ADMIT


def _identity(pairs: Iterable[Pair]) -> Identity:
    out = Identity()
    for kind, value in pairs:
        out.add(kind, [value])
    return out


@dataclass
class Scope:
    """The core's policy for one connector task (``connectors.base.Policy``).

    ``derived`` collects what admitted records added: the request's new derived identifiers.
    """

    trusted_at_start: Identity
    asserted: Identity = field(default_factory=Identity)
    former: Identity = field(default_factory=Identity)
    contested: frozenset[Pair] = frozenset()
    included: frozenset[Ref] = frozenset()
    excluded: frozenset[Ref] = frozenset()
    derived: Identity = field(default_factory=Identity)

    def __post_init__(self) -> None:
        self._trusted = Identity.from_json(self.trusted_at_start.to_json())

    @property
    def trusted(self) -> Identity:
        return self._trusted

    @property
    def search(self) -> Identity:
        everything = Identity.from_json(self.asserted.to_json())
        everything.merge(self._trusted)
        return everything

    def decide(self, matches: Sequence[Match]) -> list[Verdict]:
        """Verdicts for a batch, taken to the fixed point: an admitted record's ``provides``
        become trusted, and every record not yet admitted is judged again."""
        verdicts: list[Verdict | None] = [None] * len(matches)
        grew = True
        while grew:
            grew = False
            for i, match in enumerate(matches):
                if verdicts[i] is Verdict.ADMIT:
                    continue
                verdicts[i] = verdict(
                    match,
                    trusted=self._trusted,
                    former=self.former,
                    contested=self.contested,
                    included=self.included,
                    excluded=self.excluded,
                )
                if verdicts[i] is Verdict.ADMIT and self._absorb(match.provides):
                    grew = True
        return [v if v is not None else Verdict.UNPROVEN for v in verdicts]

    def _absorb(self, provides: Iterable[Pair]) -> bool:
        new = [(k, v) for k, v in provides if v not in self._trusted.get(k)]
        if not new:
            return False
        added = _identity(new)
        self._trusted.merge(added)
        self.derived.merge(added)
        return True


@dataclass(frozen=True)
class KeysOnly:
    """A policy admitting exactly the named records (finishing a deferred erasure)."""

    search: Identity
    keys: frozenset[Ref]

    @property
    def trusted(self) -> Identity:
        return Identity()

    def decide(self, matches: Sequence[Match]) -> list[Verdict]:
        return [
            Verdict.ADMIT if (m.table, m.key) in self.keys else Verdict.EXCLUDED for m in matches
        ]
