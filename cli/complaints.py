"""``dsr answer``: staff answer a complaint from a template; the reply e-mail goes out."""

from __future__ import annotations

import textwrap
from typing import Any

import typer

from cli.app import JsonOpt, app, emit, full_id, service
from dsr.errors import InvalidInput
from dsr.service import Caller


def complaint_text(c: dict[str, Any]) -> str:
    """The complaint and its answer, indented under ``dsr status``."""
    lines = ["  complaint:"]
    lines += [textwrap.indent(c["text"], "    | ")]
    if c["answered_at"]:
        lines.append(
            f"  answered {c['answered_at']} by {c['answered_by']} "
            f"with template {c['answer_template']}"
        )
        if c["answer_note"]:
            lines.append(textwrap.indent(c["answer_note"], "    note | "))
    else:
        lines.append("  not answered yet: dsr answer ID --template T --by STAFF [--note ...]")
    return "\n".join(lines)


@app.command()
def answer(
    request_id: str | None = typer.Argument(None, help="The complaint's request id."),
    template: str | None = typer.Option(None, "--template", help="See --list-templates."),
    by: str | None = typer.Option(None, "--by", help="The staff member (audit log)."),
    note: str | None = typer.Option(
        None, "--note", help="Added to the answer e-mail (some templates need one)."
    ),
    list_templates: bool = typer.Option(
        False, "--list-templates", help="Print the answer templates and exit."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Answer a complaint from a template; the reply goes to the address that filed it."""
    svc = service()
    if list_templates:
        emit(
            svc.complaint_templates(by=Caller.staff(by or "cli")),
            as_json,
            lambda rows: "\n".join(
                f"{t['name']}{'  (needs --note)' if t['needs_note'] else ''}" for t in rows
            ),
        )
        return
    missing = [
        flag
        for flag, value in (("ID", request_id), ("--template", template), ("--by", by))
        if not value
    ]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    assert request_id is not None and template is not None and by is not None
    caller = Caller.staff(by)
    data = svc.answer(full_id(request_id, caller), template=template, note=note, by=caller)
    emit(data, as_json, lambda d: f"{d['id']}  {d['status']}: answer queued to the subject")
