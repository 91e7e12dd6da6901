"""The ``dsr`` entry point: every command group registered on the one app."""

from __future__ import annotations

from dsr.cli import complaints, demo, keys, ops, processes, requests, rotation
from dsr.cli.app import app, main

__all__ = [
    "app",
    "complaints",
    "demo",
    "keys",
    "main",
    "ops",
    "processes",
    "requests",
    "rotation",
]
