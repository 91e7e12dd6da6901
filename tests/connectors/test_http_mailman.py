"""What the HTTP connector must do on Mailman 3 beyond the contract: lookups that read
patterns, and the scope logic across a user's addresses."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Describes, Operation, RecordSummary, Verdict
from connectors.registry import read_entries
from dsr.core.identity.scope import Scope
from dsr.identity import EMAIL, Identity
from tests.connectors.http_stores import EXAMPLE, mailman_connector
from tests.mailman_server import Mailman

# An address may hold "*", which members/find reads as a wildcard (and "_" with it).
SUBJECT, LOOKALIKE = "a*b@example.com", "a.x_b@example.com"


def test_a_lookup_reading_patterns_keeps_only_exact_hits(tmp_path: Path, mailman: Mailman) -> None:
    """members/find reads "*" as "anything": finding a*b@ must not return a.x_b@'s
    membership (an exact find keeps only records holding the searched address)."""
    news = mailman.add_list("news")
    mailman.subscribe(news, SUBJECT)
    mailman.subscribe(news, LOOKALIKE)
    assert len(mailman.entries("members/find", subscriber=SUBJECT)) == 2  # Mailman's own answer
    store = mailman_connector(tmp_path, mailman)
    found = store.find(Identity({EMAIL: {SUBJECT}})).records
    assert [m["email"] for m in found["memberships"]] == [SUBJECT]


def test_scope_reaches_a_second_address_only_through_an_admitted_user(
    tmp_path: Path, mailman: Mailman
) -> None:
    """With the core's scope, the user found by the proven address provides its other address,
    whose membership is then searched and admitted; an address typed but not proven finds
    records that stay candidates, untouched by an erasure."""
    news, events = mailman.add_list("news"), mailman.add_list("events")
    mailman.subscribe(news, "first@example.com")
    mailman.add_address("first@example.com", "second@example.com")
    mailman.subscribe(events, "second@example.com")
    mailman.subscribe(news, "typed@example.com")
    store = mailman_connector(tmp_path, mailman)
    scope = Scope(
        trusted_at_start=Identity({EMAIL: {"first@example.com"}}),
        asserted=Identity({EMAIL: {"typed@example.com"}}),
    )
    result = store.apply(Operation.ERASE, scope, staging=tmp_path / "staging")
    assert scope.derived.get(EMAIL) == {"second@example.com"}
    erased = {o.table: o.count for o in result.outcomes if o.action.value == "erased"}
    assert erased == {"memberships": 2, "addresses": 2, "users": 1}
    assert {c.verdict for c in result.candidates} == {Verdict.UNPROVEN, Verdict.OTHER_ACCOUNT}
    assert [m["list_id"] for m in mailman.members("typed@example.com")] == [news]
    assert mailman.members("second@example.com") == []


def test_review_reads_each_candidate_by_key(tmp_path: Path, mailman: Mailman) -> None:
    """A membership and an address reached only through a typed address are shown to staff as
    Mailman holds them (name, address, registration date); once gone from Mailman, as gone; a
    resource without a ``read`` request cannot be described."""
    news = mailman.add_list("news")
    mailman.subscribe(news, "first@example.com")
    mailman.subscribe(news, "Typed@Example.com", "Trần Thị Bình")
    store = mailman_connector(tmp_path, mailman)
    scope = Scope(
        trusted_at_start=Identity({EMAIL: {"first@example.com"}}),
        asserted=Identity({EMAIL: {"typed@example.com"}}),
    )
    result = store.apply(Operation.ACCESS, scope, staging=tmp_path / "staging")
    refs = {c.match.table: c.match.key for c in result.candidates}
    assert set(refs) >= {"memberships", "addresses"}
    assert isinstance(store, Describes)

    member = store.describe("memberships", refs["memberships"])
    assert member is not None and member.present
    assert member.name == "Trần Thị Bình"
    assert member.identifiers == ((EMAIL, "typed@example.com"),)
    address = store.describe("addresses", refs["addresses"])
    assert address is not None and address.identifiers == ((EMAIL, "typed@example.com"),)
    assert address.created_at is not None  # Mailman's registered_on

    mailman.delete(f"members/{refs['memberships']}")
    assert store.describe("memberships", refs["memberships"]) == RecordSummary(present=False)
    assert store.describe("no_such_resource", "1") is None
    entry = read_entries(EXAMPLE, data_dir=tmp_path)[0]
    unread = [
        {k: v for k, v in r.items() if k not in ("read", "review")} for r in entry["resources"]
    ]
    bare = mailman_connector(tmp_path, mailman, resources=unread)
    assert isinstance(bare, Describes)
    assert bare.describe("addresses", refs["addresses"]) is None
