"""Imported by each ``dsr worker`` process after the actors: starts its keeper thread."""

from __future__ import annotations

from workers import keeper
from workers.broker import broker

keeper.start(broker)
