"""Input is validated once, at the service's door; the core files only a validated submission."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Request, RequestKind
from dsr.errors import InvalidInput
from dsr.service import Caller
from tests.core.conftest import Core


def test_validate_returns_a_distinct_normalised_type(core: Core) -> None:
    """``validate`` turns raw input into a ``ValidSubmission`` with every default filled in."""
    raw = filing.Submission("access", " An@Example.VN ", phone="0912 345 678")
    valid = filing.validate(core.rt, raw)
    assert isinstance(valid, filing.ValidSubmission)
    assert not isinstance(valid, filing.Submission)
    assert valid.kind is RequestKind.ACCESS
    assert (valid.email, valid.phone) == ("an@example.vn", "+84912345678")
    assert valid.language == core.rt.settings.default_language
    assert valid.jurisdiction == core.rt.settings.default_jurisdiction


def test_the_core_refuses_raw_input(core: Core) -> None:
    """A raw ``Submission`` handed to the core's filing is refused and writes nothing."""
    migrate(core.rt.db_url)
    with session_scope(core.rt.db_url) as session, pytest.raises(TypeError, match="validate"):
        filing.submit(session, core.rt, filing.Submission("access", "an@example.vn"))  # type: ignore[arg-type]
    with Session(get_engine(core.rt.db_url)) as session:
        assert session.exec(select(func.count()).select_from(Request)).one() == 0


def test_bad_input_at_the_service_is_one_clear_error_and_writes_nothing(core: Core) -> None:
    """The service's submit names the field of bad input and leaves the ledger empty."""
    migrate(core.rt.db_url)
    with pytest.raises(InvalidInput, match="changes"):
        core.service.submit(
            filing.Submission("access", "an@example.vn", changes={"name": "X"}),
            by=Caller.staff("t"),
        )
    with Session(get_engine(core.rt.db_url)) as session:
        assert session.exec(select(func.count()).select_from(Request)).one() == 0
