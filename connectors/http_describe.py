"""One record of an HTTP store read by key, as staff need it to decide whose it is (review).

Read only: the resource's ``read`` request, sent with the record's ``{key}``. Staff see the
identifiers its ``match`` fields hold (normalised) and the fields its ``review`` names. A
resource without ``read`` cannot be described: nothing is guessed from a search's answer.
"""

from __future__ import annotations

from connectors.base import RecordSummary
from connectors.http_client import HttpClient
from connectors.http_config import HttpConfig
from connectors.http_scan import identifiers
from connectors.http_templates import at
from connectors.sql_tables import Normaliser


def describe(
    client: HttpClient, config: HttpConfig, table: str, key: str, normalise: Normaliser
) -> RecordSummary | None:
    """The record ``key`` of the resource ``table`` (None: no such resource, or no ``read``)."""
    resource = next((r for r in config.resources if r.name == table), None)
    if resource is None or resource.read is None:
        return None
    record = next(iter(client.records(resource.read, {"key": key})), None)
    if record is None:  # answered with one of the call's ``none`` statuses
        return RecordSummary(present=False)

    def field(path: str | None) -> object:
        return at(record, path) if path else None

    return RecordSummary.read(
        name=field(resource.name_field),
        identifiers=[
            (k, v) for k in resource.match for v in identifiers(resource, k, record, normalise)
        ],
        created=field(resource.created_field),
        last_activity=field(resource.review.last_activity),
    )
