"""The one application service every door calls (CLI, HTTP API, web pages, demo)."""

from dsr.service.app import Caller, Enqueue, Service

__all__ = ["Caller", "Enqueue", "Service"]
