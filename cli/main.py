"""The ``dsr`` entry point: every command group registered on the one app."""

from __future__ import annotations

from cli import (
    approvals,
    certificates,
    complaints,
    connectors,
    demo,
    desk,
    keys,
    ops,
    processes,
    reports,
    requests,
    rotation,
)
from cli.app import app, main

__all__ = [
    "app",
    "approvals",
    "certificates",
    "complaints",
    "connectors",
    "demo",
    "desk",
    "keys",
    "main",
    "ops",
    "processes",
    "reports",
    "requests",
    "rotation",
]
