"""Request commands: submit, verify, status, retry, review, redrive, list."""

from __future__ import annotations

from typing import Any

import typer

from cli.app import JsonOpt, app, emit, full_id, service
from cli.complaints import complaint_text
from cli.desk import found_requests
from dsr.errors import InvalidInput
from dsr.service import Caller, Submission, no_duplicates


def _parse_sets(values: list[str]) -> dict[str, str]:
    pairs = []
    for item in values:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise InvalidInput(f"--set takes FIELD=VALUE, got {item!r}")
        pairs.append((field.strip(), value))
    return no_duplicates(pairs)  # one field set twice is refused, as in the API


def _request_line(d: dict[str, Any]) -> str:
    tasks = ", ".join(f"{t['connector']}={t['status']}({t['records']})" for t in d["tasks"])
    return f"{d['id']}  {d['kind']:<9} {d['status']:<22} due {d['due_at']}" + (
        f"  [{tasks}]" if tasks else ""
    )


def _status_text(d: dict[str, Any]) -> str:
    lines = [
        f"request {d['id']} ({d['kind']}, {d['jurisdiction']}): {d['status']}",
        f"  received {d['received_at']}  ack due {d['ack_due_at']}  due {d['due_at']}",
    ]
    if d["completed_at"]:
        lines.append(f"  completed {d['completed_at']}")
    for t in d["tasks"]:
        lines.append(
            f"  {t['connector']:<12} {t['status']:<8} {t['records']} records"
            + (f"  ({t['error']})" if t["error"] else "")
        )
    if d.get("identifiers"):
        lines.append("  identifiers:")
        lines += [
            f"    {i['kind']:<12} {i['value']:<28} {i['provenance']}" for i in d["identifiers"]
        ]
    if d.get("candidates"):
        lines.append(
            "  candidates (dsr review ID --show; --include REF | --exclude REF | --exclude-all):"
        )
        for c in d["candidates"]:
            hit = ", ".join(f"{m['kind']} {m['value']}" for m in c["matched"]) or "-"
            decided = f"  [{c['decision']} by {c['decided_by']}]" if c["decision"] else ""
            lines.append(f"    {c['ref']:<32} {c['reason']:<18} hit by {hit}{decided}")
    for n in d.get("notices") or []:
        when = n["sent_at"] or n["reason"] or n["error"] or ""
        lines.append(f"  notice to {n['recipient']}: {n['status']} {when}".rstrip())
    if d.get("complaint"):
        lines.append(complaint_text(d["complaint"]))
    if d["reply"]:
        lines.append(f"  reply {d['reply']['status']}: {d['reply']['path']}")
    return "\n".join(lines)


def _details_text(found: list[dict[str, Any]]) -> str:
    if not found:
        return "no undecided candidate"
    lines = []
    for c in found:
        hit = ", ".join(f"{m['kind']} {m['value']}" for m in c["matched"]) or "-"
        lines.append(f"{c['ref']}  hit by {hit}")
        if c["detail"] != "shown":
            lines.append(f"  details: {c['detail']}")
            continue
        others = ", ".join(f"{m['kind']} {m['value']}" for m in c["others"]) or "-"
        lines.append(f"  name {c['name'] or '-'}  others {others}")
        last = c["last_activity_at"] or (c["updated_at"] and f"{c['updated_at']} (last updated)")
        lines.append(f"  created {c['created_at'] or '-'}  last activity {last or '-'}")
    return "\n".join(lines)


@app.command()
def submit(
    kind: str = typer.Argument(..., help="access, rectify, erase or complaint"),
    email: str = typer.Option(..., "--email", help="The subject's e-mail address."),
    phone: str | None = typer.Option(None, "--phone"),
    name: str | None = typer.Option(None, "--name"),
    sets: list[str] = typer.Option([], "--set", help="FIELD=VALUE (rectify)."),
    jurisdiction: str | None = typer.Option(None, "--jurisdiction"),
    language: str | None = typer.Option(None, "--language", help="vi or en"),
    verified: bool = typer.Option(False, "--verified", help="Staff vouch for the subject."),
    by: str | None = typer.Option(None, "--by", help="The staff member (audit log)."),
    text: str | None = typer.Option(None, "--text", help="complaint: what it is about."),
    as_json: bool = JsonOpt,
) -> None:
    """File a request; prints its id."""
    sub = Submission(
        kind=kind,
        email=email,
        phone=phone,
        name=name,
        changes=_parse_sets(sets),
        jurisdiction=jurisdiction,
        language=language,
        verified=verified,
        by=by or ("staff" if verified else None),
        text=text,
    )
    emit(service().submit(sub, by=Caller.staff(sub.by or "cli")), as_json, lambda d: d["id"])


@app.command()
def verify(request_id: str, code: str, as_json: bool = JsonOpt) -> None:
    """The subject's one-time code; the request continues."""
    caller = Caller.staff("cli")
    emit(service().verify(full_id(request_id, caller), code, by=caller), as_json, _request_line)


@app.command()
def status(request_id: str, as_json: bool = JsonOpt) -> None:
    """The request, its due date and each connector task."""
    emit(service().status(request_id, by=Caller.staff("cli")), as_json, _status_text)


@app.command()
def retry(request_id: str, by: str = typer.Option("ops", "--by"), as_json: bool = JsonOpt) -> None:
    """Re-drive a needs_attention request's failed tasks."""
    caller = Caller.staff(by)
    emit(service().retry(full_id(request_id, caller), by=caller), as_json, _request_line)


@app.command()
def review(
    request_id: str,
    include: list[str] = typer.Option(
        [], "--include", help="A candidate's REF (store:table:key) that is the subject's."
    ),
    exclude: list[str] = typer.Option([], "--exclude", help="A candidate's REF that is not."),
    exclude_all: bool = typer.Option(
        False, "--exclude-all", help="Exclude every undecided candidate not named by --include."
    ),
    show: bool = typer.Option(
        False, "--show", help="Decide nothing: show each undecided candidate as its store holds it."
    ),
    by: str = typer.Option("ops", "--by", help="The staff member (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Staff decision on a needs_review request's candidate records; the request continues.
    With --show, what ops need to decide: each record's masked name and identifiers, and the
    account's creation and last activity (read from the store now, audited)."""
    if show and (include or exclude or exclude_all):
        raise InvalidInput("--show decides nothing: leave out --include/--exclude")
    caller = Caller.staff(by)
    request_id = full_id(request_id, caller)
    if show:
        emit(service().candidate_details(request_id, by=caller), as_json, _details_text)
        return
    emit(
        service().review(
            request_id,
            include=include,
            exclude=exclude,
            exclude_all=exclude_all,
            by=caller,
        ),
        as_json,
        _request_line,
    )


@app.command()
def redrive(
    request_id: str | None = typer.Argument(None, help="One request (default: all)."),
    by: str = typer.Option("ops", "--by"),
    as_json: bool = JsonOpt,
) -> None:
    """Re-drive stuck work now (lost messages): one request, or all."""
    caller = Caller.staff(by)
    emit(
        service().redrive(request_id and full_id(request_id, caller), by=caller),
        as_json,
        lambda d: f"re-sent {d['steps']} step(s)",
    )


@app.command("list")
def list_requests(
    status_: str | None = typer.Option(None, "--status"),
    overdue: bool = typer.Option(False, "--overdue", help="Open requests past due_at."),
    kind: str | None = typer.Option(None, "--kind", help="Only this kind (e.g. complaint)."),
    email: str | None = typer.Option(None, "--email", help="Requests for this address (exact)."),
    phone: str | None = typer.Option(None, "--phone", help="Requests for this phone (exact)."),
    as_json: bool = JsonOpt,
) -> None:
    """Requests, newest first; with --email/--phone, those the caller's identifiers match."""
    if email or phone:
        found_requests(email=email, phone=phone, as_json=as_json)
        return
    emit(
        service().listing(by=Caller.staff("cli"), status=status_, overdue=overdue, kind=kind),
        as_json,
        lambda rows: "\n".join(_request_line(d) for d in rows) or "no requests",
    )
