"""The one application service every door calls (CLI, HTTP API, web pages, demo)."""

from dsr.service.app import Service
from dsr.service.base import Enqueue
from dsr.service.callers import Caller

__all__ = ["Caller", "Enqueue", "Service"]
