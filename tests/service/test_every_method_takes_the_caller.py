"""Every service method a door calls takes the caller and checks what that caller may do."""

from __future__ import annotations

import inspect

import pytest

from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import migrate
from dsr.errors import NotFound, PermissionDenied
from dsr.service import Caller, Service, Submission
from dsr.service.views import dump
from tests.core.conftest import EMAIL, STAFF, Core

SUPPORT = Caller("api:desk", Role.SUPPORT, owner="k" * 32)
# What establishes the caller cannot take one: a key, a session or a link is who calls.
ESTABLISH_THE_CALLER = {
    "authenticate", "live_key", "web_session", "web_session_update", "web_session_start",
    "web_session_end", "subject_by_link", "holder_of_download_link", "ledger_ok",
    "session", "send", "check_not_me", "not_me", "key_prefix_attacked",
}  # fmt: skip


def test_every_public_method_requires_by() -> None:
    """Each public operation of the service has a required keyword ``by: Caller``."""
    missing = []
    for name, fn in inspect.getmembers(Service, inspect.isfunction):
        if name.startswith("_") or name in ESTABLISH_THE_CALLER:
            continue
        by = inspect.signature(fn).parameters.get("by")
        if by is None or by.default is not inspect.Parameter.empty:
            missing.append(name)
    assert missing == []


@pytest.mark.parametrize("call", ["hold_list", "key_list", "audit_verify", "metrics"])
def test_ops_listings_refuse_a_support_key(core: Core, call: str) -> None:
    """Legal holds, API keys, the audit check and the metrics are for ops, not support."""
    migrate(core.rt.db_url)
    with pytest.raises(PermissionDenied):
        getattr(core.service, call)(by=SUPPORT)
    getattr(core.service, call)(by=STAFF)  # ops may


def test_a_bundle_is_only_for_a_caller_who_sees_the_request(core: Core) -> None:
    """Another support key gets NotFound for a request it did not file (its existence untold)."""
    request_id = dump(core.service.submit(Submission("access", EMAIL), by=STAFF))["id"]
    with pytest.raises(NotFound, match="no such request"):
        core.service.bundle(request_id, by=SUPPORT)
