"""The scope policy (dsr.core.identity.scope): which matched records are the subject's, decided
purely."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Match, Verdict
from dsr.core.identity.scope import Scope, verdict
from dsr.identity import CUSTOMER_ID, EMAIL, PHONE, Identity

A, B = "a@example.com", "b@example.com"
P = "+84912345678"


def test_another_accounts_record_is_never_admitted_by_a_shared_phone() -> None:
    """A CRM row hit by the subject's proven phone but carrying another customer id and e-mail
    belongs to another account (the shared family phone)."""
    trusted = Identity({EMAIL: {A}, PHONE: {P}})
    row = Match("customers", "2", ((PHONE, P),), ((CUSTOMER_ID, "K2"), (EMAIL, B)))
    assert verdict(row, trusted=trusted) is Verdict.OTHER_ACCOUNT


def test_unproven_identifiers_alone_admit_nothing() -> None:
    """A call recording hit only by a phone the requester typed is not the subject's."""
    call = Match("calls", "c1", ((PHONE, P),))
    assert verdict(call, trusted=Identity({EMAIL: {A}})) is Verdict.UNPROVEN


def test_a_contested_identifier_leaves_ownerless_records_to_staff() -> None:
    """A call from a phone another account also holds waits for staff, even when the phone is
    the subject's own (derived from their account)."""
    call = Match("calls", "c1", ((PHONE, P),))
    trusted = Identity({EMAIL: {A}, PHONE: {P}})
    assert verdict(call, trusted=trusted, contested=frozenset({(PHONE, P)})) is (
        Verdict.SHARED_IDENTIFIER
    )
    assert verdict(call, trusted=trusted) is Verdict.ADMIT


def test_a_former_address_taken_by_another_account_links_nothing() -> None:
    """A former e-mail finds a guest order placed under it, but a CRM row that carries it with
    another customer id (someone registered the address since) is another account's."""
    trusted = Identity({EMAIL: {A, B}, CUSTOMER_ID: {"K1"}})
    former = Identity({EMAIL: {B}})
    guest = Match("orders", "7", ((EMAIL, B),), ((EMAIL, B),))
    taken = Match("customers", "9", ((EMAIL, B),), ((CUSTOMER_ID, "K9"), (EMAIL, B)))
    own = Match("customers", "1", ((EMAIL, B),), ((CUSTOMER_ID, "K1"), (EMAIL, B)))
    assert verdict(guest, trusted=trusted, former=former) is Verdict.ADMIT
    assert verdict(taken, trusted=trusted, former=former) is Verdict.OTHER_ACCOUNT
    assert verdict(own, trusted=trusted, former=former) is Verdict.ADMIT


def test_staff_decisions_override() -> None:
    """An included record is admitted and an excluded one never is, whatever it carries."""
    other = Match("customers", "2", ((PHONE, P),), ((EMAIL, B),))
    own = Match("customers", "1", ((EMAIL, A),), ((EMAIL, A),))
    trusted = Identity({EMAIL: {A}})
    assert verdict(other, trusted=trusted, included=frozenset({("customers", "2")})) is (
        Verdict.ADMIT
    )
    assert verdict(own, trusted=trusted, excluded=frozenset({("customers", "1")})) is (
        Verdict.EXCLUDED
    )


def test_admitted_records_add_their_identifiers_to_the_batch() -> None:
    """A row with no e-mail of its own, hit by the customer id another admitted row provides,
    is admitted in the same batch, whichever comes first; what they add is recorded as derived."""
    first = Match(
        "customers", "1", ((EMAIL, A),), ((CUSTOMER_ID, "K1"), (EMAIL, A)), ((CUSTOMER_ID, "K1"),)
    )
    second = Match("customers", "9", ((CUSTOMER_ID, "K1"),), ((CUSTOMER_ID, "K1"),))
    for batch in ([first, second], [second, first]):
        scope = Scope(Identity({EMAIL: {A}}))
        assert scope.decide(batch) == [Verdict.ADMIT, Verdict.ADMIT]
        assert scope.derived.get(CUSTOMER_ID) == {"K1"}


EMAILS = ["a@example.com", "b@example.com", "c@example.com"]
PHONES = ["+84911000001", "+84911000002"]
CIDS = ["K1", "K2", "K3"]
pairs = st.one_of(
    st.tuples(st.just(EMAIL), st.sampled_from(EMAILS)),
    st.tuples(st.just(PHONE), st.sampled_from(PHONES)),
    st.tuples(st.just(CUSTOMER_ID), st.sampled_from(CIDS)),
)
matches = st.builds(
    Match,
    table=st.sampled_from(["customers", "calls"]),
    key=st.text("0123456789", min_size=1, max_size=2),
    matched=st.lists(pairs, max_size=2).map(tuple),
    owner=st.lists(
        st.one_of(
            st.tuples(st.just(EMAIL), st.sampled_from(EMAILS)),
            st.tuples(st.just(CUSTOMER_ID), st.sampled_from(CIDS)),
        ),
        max_size=2,
    ).map(tuple),
    provides=st.lists(pairs, max_size=3).map(tuple),
)


@settings(max_examples=300)
@given(batch=st.lists(matches, max_size=6), order=st.randoms(use_true_random=False))
def test_verdicts_do_not_depend_on_the_order_records_come_back_in(batch, order) -> None:  # type: ignore[no-untyped-def]
    """However a store orders its rows, each record gets the same verdict."""
    shuffled = list(batch)
    order.shuffle(shuffled)
    one = dict(
        zip(map(id, batch), Scope(Identity({EMAIL: {EMAILS[0]}})).decide(batch), strict=True)
    )
    two = dict(
        zip(map(id, shuffled), Scope(Identity({EMAIL: {EMAILS[0]}})).decide(shuffled), strict=True)
    )
    assert one == two


@settings(max_examples=300)
@given(batch=st.lists(matches, max_size=6), verified=st.sampled_from(EMAILS))
def test_an_admitted_record_is_always_linked_to_the_verified_subject(batch, verified) -> None:  # type: ignore[no-untyped-def]
    """Every admitted record carries an account identifier that is verified or provided by
    another admitted record, or has no account and was hit by such an identifier."""
    scope = Scope(Identity({EMAIL: {verified}}))
    verdicts = scope.decide(batch)
    known = {(EMAIL, verified)} | {
        p for m, v in zip(batch, verdicts, strict=True) if v is Verdict.ADMIT for p in m.provides
    }
    for m, v in zip(batch, verdicts, strict=True):
        if v is Verdict.ADMIT:
            linked = m.owner if m.owner else m.matched
            assert any(p in known for p in linked)
