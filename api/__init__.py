"""The HTTP API and the support-staff web page (``dsr api``)."""

from dsr.api.app import create_app

__all__ = ["create_app"]
