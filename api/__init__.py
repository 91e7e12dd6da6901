"""The HTTP API and the support-staff web page (``dsr api``)."""

from api.app import create_app

__all__ = ["create_app"]
