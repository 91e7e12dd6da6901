"""``dsr demo``: one process, nothing installed. Seeds the demo stores, starts the embedded
Redis, a dramatiq worker and an SMTP sink, then walks one subject through access, rectify and
erase, each to its reply e-mail, and files a complaint that "staff" answer from a template."""

from __future__ import annotations

import socket
import time
from typing import Any

import dramatiq

from config.settings import get_settings
from demo import smtp_sink
from demo.seed import DEMO_NEW_PHONE, DEMO_SUBJECT, seed
from dsr.core.intake.filing import Submission
from dsr.core.ledger.models import RequestStatus
from dsr.core.ops.logs import configure_logging
from dsr.core.runtime.process import Runtime
from dsr.errors import DsrError
from dsr.service import Caller, Service

DEMO_CUSTOMERS = 300
DEMO_COMPLAINT = "Tôi vẫn nhận tin nhắn quảng cáo dù đã yêu cầu ngừng từ tháng trước."
DEMO_NOTE = "Chúng tôi đã gỡ số điện thoại của bạn khỏi danh sách gửi tin quảng cáo."
WAIT_SECONDS = 120


def run_demo() -> dict[str, Any]:
    """Seed, start everything embedded, run one request of each kind; what each ended as."""
    base = get_settings()
    outbox_dir = (base.var_dir / "outbox").resolve()
    port = base.smtp_port if _port_free(base.smtp_port) else smtp_sink.free_port()
    # One person's vouch is enough in the demo: it walks one subject end to end unattended.
    settings = base.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "vouch_policy": "single"}
    )
    seed(
        settings.resolved_data_dir,
        DEMO_CUSTOMERS,
        secret_key=settings.keys.suppression,
        region=settings.default_region,
        reset=True,
    )
    controller, sink = smtp_sink.start(port, outbox_dir)

    # The broker is wired when the worker modules are first imported: only now, once the demo
    # has chosen its settings (and never when the package is merely imported).
    from workers import runtime as worker_runtime
    from workers.actors import enqueue
    from workers.broker import broker, shutdown_embedded

    configure_logging(base.log_format, "WARNING", region=base.default_region)
    rt = Runtime(settings)
    svc = Service(rt, enqueue)
    with svc.session():
        pass  # the ledger's schema, before the worker's first message
    worker_runtime.set_runtime(rt)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    results = []
    try:
        plan = [
            Submission(
                "access",
                DEMO_SUBJECT["email"],
                phone=DEMO_SUBJECT["phone"],
                name=DEMO_SUBJECT["name"],
                verified=True,
                by="demo",
            ),
            Submission(
                "rectify",
                DEMO_SUBJECT["email"],
                verified=True,
                by="demo",
                changes={
                    "phone": DEMO_NEW_PHONE,
                    "address": "12 Nguyễn Huệ, Quận 1, TP. Hồ Chí Minh",
                },
            ),
            Submission(
                "erase", DEMO_SUBJECT["email"], phone=DEMO_NEW_PHONE, verified=True, by="demo"
            ),
            Submission("complaint", DEMO_SUBJECT["email"], text=DEMO_COMPLAINT),
        ]
        for sub in plan:
            request_id = svc.submit(sub, by=Caller.staff(sub.by or "demo")).id
            if sub.kind == "complaint":  # the staff queue: a person picks an answer
                svc.answer(request_id, template="resolved", note=DEMO_NOTE, by=Caller.staff("demo"))
            final = _wait(svc, request_id)
            data = svc.status(request_id, by=Caller.staff("demo")).model_dump(exclude_unset=True)
            data["reply_eml"] = _reply_path(sink, data)
            data["notice_emls"] = _notice_paths(sink, request_id)
            results.append(data)
            if final != RequestStatus.COMPLETED:
                raise DsrError(f"demo request {request_id} ended {final}, not completed")
    finally:
        worker.stop()
        controller.stop()
        rt.close()
        shutdown_embedded()
    return {"requests": results, "outbox_dir": str(outbox_dir)}


def _wait(svc: Service, request_id: str) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    done = (RequestStatus.COMPLETED, RequestStatus.NEEDS_ATTENTION, RequestStatus.NEEDS_REVIEW)
    while time.monotonic() < deadline:
        status = str(svc.status(request_id, by=Caller.staff("demo")).model_dump()["status"])
        if status in done:
            return status
        time.sleep(0.1)
    return "timed out"


def _reply_path(sink: smtp_sink.MailSink, data: dict[str, Any]) -> str | None:
    reply = data.get("reply") or {}
    for received in sink.messages():
        if str(received.message.get("Message-ID")) == reply.get("message_id"):
            return str(received.path)
    return None


def _notice_paths(sink: smtp_sink.MailSink, request_id: str) -> list[str]:
    """Where the partners' notices about a request landed (the sink's copies)."""
    prefix = f"<{request_id}.notice-"
    return [
        str(r.path)
        for r in sink.messages()
        if str(r.message.get("Message-ID", "")).startswith(prefix)
    ]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
