"""The ``dsr`` entry point: every command group registered on the one app."""

from __future__ import annotations

from cli import complaints, connectors, demo, desk, keys, ops, processes, requests, rotation
from cli.app import app, main

__all__ = [
    "app",
    "complaints",
    "connectors",
    "demo",
    "desk",
    "keys",
    "main",
    "ops",
    "processes",
    "requests",
    "rotation",
]
