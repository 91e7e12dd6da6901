"""Connectors: one per data store, behind the small protocol in ``connectors.base``."""

from connectors.base import (
    Action,
    Candidate,
    Connector,
    Found,
    IdentifierChange,
    Match,
    Operation,
    Outcome,
    Policy,
    PurgeReport,
    RetentionRule,
    Shared,
    SuppressionList,
    TaskResult,
    Verdict,
)
from connectors.registry import (
    CONNECTOR_KINDS,
    dependency_stages,
    load_connectors,
    rectifiable_fields,
)
from connectors.sql import SqlStore, SuppressedAddress

__all__ = [
    # the protocol and the values it exchanges
    "Action",
    "Connector",
    "Found",
    "Operation",
    "Outcome",
    "PurgeReport",
    "RetentionRule",
    "Shared",
    "SuppressionList",
    "TaskResult",
    # the core's policy a connector obeys, and what it reports back
    "Candidate",
    "IdentifierChange",
    "Match",
    "Policy",
    "Verdict",
    # the connector
    "SqlStore",
    "SuppressedAddress",
    # building them from config/connectors.yaml
    "CONNECTOR_KINDS",
    "dependency_stages",
    "load_connectors",
    "rectifiable_fields",
]
