"""``dsr demo``: one process, nothing installed. Seeds the demo stores, starts the embedded
Redis, a dramatiq worker and an SMTP sink, then walks one subject through access, rectify and
erase, each to its reply e-mail."""

from __future__ import annotations

import time
from typing import Any

from dsr.errors import DsrError

DEMO_CUSTOMERS = 300
WAIT_SECONDS = 120


def run_demo() -> dict[str, Any]:
    import dramatiq
    from sqlmodel import Session

    from config.settings import get_settings
    from dsr import intake, smtp_sink
    from dsr.db import get_engine, migrate
    from dsr.logging import configure_logging
    from dsr.models import Request
    from dsr.runtime import Runtime
    from dsr.seed import DEMO_NEW_PHONE, DEMO_SUBJECT, seed
    from dsr.views import request_json

    base = get_settings()
    outbox_dir = (base.var_dir / "outbox").resolve()
    port = base.smtp_port if _port_free(base.smtp_port) else smtp_sink.free_port()
    settings = base.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    seed(settings.resolved_data_dir, DEMO_CUSTOMERS, secret_key=settings.secret_key,
         region=settings.default_region, reset=True)
    controller, sink = smtp_sink.start(port, outbox_dir)

    from workers import runtime as worker_runtime
    from workers.actors import enqueue
    from workers.broker import broker, shutdown_embedded

    configure_logging(base.log_format, "WARNING", region=base.default_region)

    rt = Runtime(settings)
    migrate(rt.db_url)
    worker_runtime.set_runtime(rt)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    results = []
    try:
        plan = [
            intake.Submission("access", DEMO_SUBJECT["email"], phone=DEMO_SUBJECT["phone"],
                              name=DEMO_SUBJECT["name"], verified=True, by="demo"),
            intake.Submission("rectify", DEMO_SUBJECT["email"], verified=True, by="demo",
                              changes={"phone": DEMO_NEW_PHONE,
                                       "address": "12 Nguyễn Huệ, Quận 1, TP. Hồ Chí Minh"}),
            intake.Submission("erase", DEMO_SUBJECT["email"], phone=DEMO_NEW_PHONE,
                              verified=True, by="demo"),
        ]
        for sub in plan:
            with Session(get_engine(rt.db_url), expire_on_commit=False) as session:
                request, follow = intake.submit(session, rt, sub)
                session.commit()
            enqueue(follow)
            final = _wait(rt, request.id)
            with Session(get_engine(rt.db_url)) as session:
                data = request_json(session, session.get(Request, request.id))  # type: ignore[arg-type]
            data["reply_eml"] = _reply_path(sink, data)
            results.append(data)
            if final != "completed":
                raise DsrError(f"demo request {request.id} ended {final}, not completed")
    finally:
        worker.stop()
        controller.stop()
        rt.close()
        shutdown_embedded()
    return {"requests": results, "outbox_dir": str(outbox_dir)}


def _wait(rt: Any, request_id: str) -> str:
    from sqlmodel import Session

    from dsr.db import get_engine
    from dsr.models import Request, RequestStatus

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with Session(get_engine(rt.db_url)) as session:
            request = session.get(Request, request_id)
            assert request is not None
            if request.status in (RequestStatus.COMPLETED, RequestStatus.NEEDS_ATTENTION):
                return request.status
        time.sleep(0.1)
    return "timed out"


def _reply_path(sink: Any, data: dict[str, Any]) -> str | None:
    reply = data.get("reply") or {}
    for received in sink.messages():
        if str(received.message.get("Message-ID")) == reply.get("message_id"):
            return str(received.path)
    return None


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
