"""Schemathesis fuzzes every operation of the app's own OpenAPI schema: no server error.

Driven through schemathesis's Python API (one Hypothesis run per operation, valid and invalid
input) rather than its pytest plugin, whose fixture-based loader does not run on pytest 9.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Keys

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of the schema loads
        operations.append(result.ok())
    assert len(operations) >= 8
    return operations


def _fuzz(operation: Any, headers: dict[str, str], examples: int) -> None:
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_no_server_error_and_responses_match_the_schema(app: FastAPI, keys: Keys) -> None:
    """Generated calls with an ops key never get a 5xx, and every response is as documented."""
    for operation in _operations(app):
        _fuzz(operation, Keys.header(keys.ops), examples=30)


def test_no_server_error_for_support_or_without_a_key(app: FastAPI, keys: Keys) -> None:
    """With a support key, or none at all, answers are documented 2xx/4xx, never a 5xx."""
    for operation in _operations(app):
        _fuzz(operation, Keys.header(keys.alice), examples=8)
        _fuzz(operation, {}, examples=5)
