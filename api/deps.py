"""What every route needs from the app: the Runtime and the application service."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import HTTPConnection

from dsr.service import Runtime, Service, Step


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.service.rt
    return rt


def service(conn: HTTPConnection) -> Service:
    svc: Service = conn.app.state.service
    return svc


def broker_enqueue(follow: Iterable[Step]) -> None:
    """Send steps to dramatiq."""
    # Imported here: importing the actors wires the broker from the environment, which an app
    # built with its own ``enqueue`` (tests, the demo) must not do.
    from workers.actors import enqueue

    enqueue(follow)
