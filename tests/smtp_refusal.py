"""An aiosmtpd server that refuses chosen recipients (550) or everything for now (451)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from demo.smtp_sink import MailSink, free_port


@dataclass
class RefusingSink(MailSink):
    """Records what it accepts; answers RCPT with ``refuse[address]`` or ``refuse_all``."""

    refuse: dict[str, str] = field(default_factory=dict)
    refuse_all: str | None = None

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.refuse_all or self.refuse.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"


def start_refusing(**kw: Any) -> tuple[Controller, RefusingSink]:
    sink = RefusingSink(port=free_port(), **kw)
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    return controller, sink
