"""The ``dsr`` command (public contract: DESIGN.md). Every command takes ``--json``.

Bad input prints one line on stderr and exits 2, having written nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from typer.exceptions import TyperException

from dsr.errors import ConfigError, DsrError, InvalidInput, NotFound, StateConflict

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Data-subject request fulfilment.")
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")
app.add_typer(hold_app, name="hold")
app.add_typer(audit_app, name="audit")

JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def _emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(human(data))


def _runtime() -> Any:
    from dsr.logging import configure_logging
    from dsr.runtime import Runtime

    rt = Runtime()
    s = rt.settings
    configure_logging(s.log_format, s.log_level, region=s.default_region)
    return rt


@contextmanager
def _ledger(rt: Any) -> Iterator[Session]:
    from dsr.db import migrate, session_scope

    migrate(rt.db_url)
    with session_scope(rt.db_url) as session:
        yield session


def _enqueue(follow: list[Any]) -> None:
    """Send the next steps; with the broker down the ledger still holds them (re-drive)."""
    if not follow:
        return
    from redis.exceptions import RedisError

    from workers.actors import enqueue

    try:
        enqueue(follow)
    except (RedisError, OSError) as err:
        typer.echo(f"warning: broker unreachable ({type(err).__name__}); the request is saved "
                   "and the scheduler's re-drive will send it", err=True)


def _parse_sets(values: list[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for item in values:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise InvalidInput(f"--set takes FIELD=VALUE, got {item!r}")
        changes[field.strip()] = value
    return changes


def _request_line(d: dict[str, Any]) -> str:
    tasks = ", ".join(f"{t['connector']}={t['status']}({t['records']})" for t in d["tasks"])
    return (f"{d['id']}  {d['kind']:<7} {d['status']:<22} due {d['due_at']}"
            + (f"  [{tasks}]" if tasks else ""))


@app.command()
def submit(
    kind: str = typer.Argument(..., help="access, rectify or erase"),
    email: str = typer.Option(..., "--email", help="The subject's e-mail address."),
    phone: str | None = typer.Option(None, "--phone"),
    name: str | None = typer.Option(None, "--name"),
    sets: list[str] = typer.Option([], "--set", help="FIELD=VALUE (rectify)."),
    jurisdiction: str | None = typer.Option(None, "--jurisdiction"),
    language: str | None = typer.Option(None, "--language", help="vi or en"),
    verified: bool = typer.Option(False, "--verified", help="Staff vouch for the subject."),
    by: str | None = typer.Option(None, "--by", help="The staff member (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """File a request; prints its id."""
    from dsr import intake
    from dsr.views import request_json

    rt = _runtime()
    sub = intake.Submission(kind=kind, email=email, phone=phone, name=name,
                            changes=_parse_sets(sets), jurisdiction=jurisdiction,
                            language=language, verified=verified,
                            by=by or ("staff" if verified else None))
    intake.validate(rt, sub)  # before anything is created, even the ledger file
    with _ledger(rt) as session:
        request, follow = intake.submit(session, rt, sub)
        session.commit()
        data = request_json(session, request)
    _enqueue(follow)
    _emit(data, as_json, lambda d: d["id"])


@app.command()
def verify(request_id: str, code: str, as_json: bool = JsonOpt) -> None:
    """The subject's one-time code; the request continues."""
    from dsr import verification
    from dsr.models import Request
    from dsr.views import request_json

    rt = _runtime()
    with _ledger(rt) as session:
        follow = verification.verify(session, rt, request_id, code)
        session.commit()
        request = session.get(Request, request_id)
        data = request_json(session, request)  # type: ignore[arg-type]
    _enqueue(follow)
    _emit(data, as_json, _request_line)


@app.command()
def status(request_id: str, as_json: bool = JsonOpt) -> None:
    """The request, its due date and each connector task."""
    from dsr.models import Request
    from dsr.views import request_json

    rt = _runtime()
    with _ledger(rt) as session:
        request = session.get(Request, request_id)
        if request is None:
            raise NotFound(f"no request {request_id}")
        data = request_json(session, request)
    _emit(data, as_json, _status_text)


def _status_text(d: dict[str, Any]) -> str:
    lines = [f"request {d['id']} ({d['kind']}, {d['jurisdiction']}): {d['status']}",
             f"  received {d['received_at']}  ack due {d['ack_due_at']}  due {d['due_at']}"]
    if d["completed_at"]:
        lines.append(f"  completed {d['completed_at']}")
    for t in d["tasks"]:
        lines.append(f"  {t['connector']:<12} {t['status']:<8} {t['records']} records"
                     + (f"  ({t['error']})" if t["error"] else ""))
    if d["reply"]:
        lines.append(f"  reply {d['reply']['status']}: {d['reply']['path']}")
    return "\n".join(lines)


@app.command()
def retry(request_id: str, by: str = typer.Option("ops", "--by"), as_json: bool = JsonOpt) -> None:
    """Re-drive a needs_attention request's failed tasks."""
    from dsr import tasks
    from dsr.models import Request
    from dsr.views import request_json

    rt = _runtime()
    with _ledger(rt) as session:
        follow = tasks.retry(session, rt, request_id, by=by)
        session.commit()
        data = request_json(session, session.get(Request, request_id))  # type: ignore[arg-type]
    _enqueue(follow)
    _emit(data, as_json, _request_line)


@app.command("list")
def list_requests(
    status_: str | None = typer.Option(None, "--status"),
    overdue: bool = typer.Option(False, "--overdue", help="Open requests past due_at."),
    as_json: bool = JsonOpt,
) -> None:
    """Requests, newest first."""
    from dsr.models import OPEN_REQUEST, Request, RequestStatus
    from dsr.views import requests_json

    if status_ is not None and status_ not in RequestStatus.__members__.values():
        raise InvalidInput(f"unknown status {status_!r}")
    rt = _runtime()
    with _ledger(rt) as session:
        query = select(Request).order_by(col(Request.received_at).desc())
        if status_:
            query = query.where(Request.status == status_)
        if overdue:
            query = query.where(col(Request.status).in_(OPEN_REQUEST),
                                col(Request.due_at) < datetime.now(UTC))
        data = requests_json(session, list(session.exec(query)))
    _emit(data, as_json, lambda rows: "\n".join(_request_line(d) for d in rows) or "no requests")


@app.command()
def seed(customers: int = typer.Option(1000, "--customers", min=1),
         reset: bool = typer.Option(True, "--reset/--no-reset",
                                    help="Replace existing stores (--no-reset refuses them)."),
         as_json: bool = JsonOpt) -> None:
    """Create and fill the demo stores under DSR_DATA_DIR with synthetic customers."""
    from dataclasses import asdict

    from dsr.seed import seed as run_seed

    rt = _runtime()
    s = rt.settings
    report = run_seed(s.resolved_data_dir, customers, secret_key=s.secret_key,
                      region=s.default_region, reset=reset)
    _emit(asdict(report), as_json, lambda d: json.dumps(d, ensure_ascii=False, default=str))


@app.command()
def worker(processes: int | None = typer.Option(None, "--processes"),
           threads: int | None = typer.Option(None, "--threads")) -> None:
    """Run dramatiq worker processes for the pipeline (scale by running more)."""
    import os

    from config.settings import get_settings

    s = get_settings()
    if s.redis_url is None:
        # The embedded Redis belongs to one process: run the worker threads here, not forked.
        from workers.embedded import run_in_process

        run_in_process((processes or s.worker_processes) * (threads or s.worker_threads))
        return
    args = [sys.executable, "-m", "dramatiq", "workers.actors", "workers.maintenance",
            "--queues", "dsr",
            "--skip-logging", "--processes", str(processes or s.worker_processes),
            "--threads", str(threads or s.worker_threads)]
    if s.queue_prefetch:
        os.environ["dramatiq_queue_prefetch"] = str(s.queue_prefetch)
    os.execv(sys.executable, args)


@app.command()
def demo(as_json: bool = JsonOpt) -> None:
    """Everything embedded: seed, broker, worker and SMTP sink; one request of each kind."""
    from dsr.demo import run_demo

    result = run_demo()
    _emit(result, as_json, _demo_text)


def _demo_text(d: dict[str, Any]) -> str:
    lines = []
    for r in d["requests"]:
        lines.append(f"{r['kind']:<8} {r['id']}  {r['status']}")
        for t in r["tasks"]:
            lines.append(f"    {t['connector']:<12} {t['status']:<8} {t['records']} records")
        lines.append(f"    reply: {r['reply_eml']}")
    lines.append(f"all e-mails: {d['outbox_dir']}")
    return "\n".join(lines)


@hold_app.command("add")
def hold_add(email: str | None = typer.Option(None, "--email"),
             phone: str | None = typer.Option(None, "--phone"),
             reason: str = typer.Option(..., "--reason"),
             until: datetime | None = typer.Option(None, "--until", formats=["%Y-%m-%d"]),
             connector: list[str] = typer.Option([], "--connector"),
             by: str = typer.Option("ops", "--by"), as_json: bool = JsonOpt) -> None:
    """Put a subject on legal hold."""
    from dsr import holds

    rt = _runtime()
    unknown = [c for c in connector if c not in rt.connectors]
    if unknown:
        raise InvalidInput(f"unknown connector {unknown[0]!r}")
    with _ledger(rt) as session:
        hold = holds.add(session, email=email, phone=phone, reason=reason, by=by,
                         until=until.replace(tzinfo=UTC) if until else None,
                         connectors=connector, region=rt.settings.default_region)
        data = _hold_json(hold)
    _emit(data, as_json, lambda d: d["id"])


def _hold_json(hold: Any) -> dict[str, Any]:
    from dsr.views import iso

    return {"id": hold.id, "email": hold.email, "phone": hold.phone, "reason": hold.reason,
            "connectors": hold.connectors, "until": iso(hold.until),
            "created_by": hold.created_by, "created_at": iso(hold.created_at),
            "lifted_at": iso(hold.lifted_at)}


@hold_app.command("list")
def hold_list(as_json: bool = JsonOpt) -> None:
    """Active legal holds."""
    from dsr import holds

    rt = _runtime()
    with _ledger(rt) as session:
        data = [_hold_json(h) for h in holds.active(session)]
    _emit(data, as_json, lambda rows: "\n".join(
        f"{h['id']}  {h['reason']}  until {h['until'] or 'lifted'}" for h in rows) or "no holds")


@hold_app.command("lift")
def hold_lift(hold_id: str, by: str = typer.Option("ops", "--by"),
              as_json: bool = JsonOpt) -> None:
    """Lift a legal hold."""
    from dsr import holds

    rt = _runtime()
    with _ledger(rt) as session:
        data = _hold_json(holds.lift(session, hold_id, by=by))
    _emit(data, as_json, lambda d: f"lifted {d['id']}")


@audit_app.command("verify")
def audit_verify(as_json: bool = JsonOpt) -> None:
    """Check the audit log's hash chain; exit 1 at the first broken link."""
    from dataclasses import asdict

    from dsr import audit

    rt = _runtime()
    with _ledger(rt) as session:
        report = audit.verify(session)
    _emit(asdict(report), as_json, lambda d: f"audit chain ok: {d['events']} events" if d["ok"]
          else f"audit chain BROKEN at event {d['first_broken']}: {d['problem']}")
    if not report.ok:
        raise typer.Exit(1)


# Command groups that live in their own modules register themselves on ``app`` when imported.
from dsr import cli_api, cli_ops  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """Entry point: bad input is one line on stderr and exit status 2."""
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)  # typer.Exit(n) comes back as a return value without standalone mode
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TyperException as err:  # usage errors: unknown option, missing argument
        typer.echo(f"error: {err.format_message()}", err=True)
        sys.exit(2)
    except (InvalidInput, StateConflict) as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except ConfigError as err:
        typer.echo(f"configuration error: {err}", err=True)
        sys.exit(3)
    except OperationalError as err:
        typer.echo(f"error: the ledger database is unreachable ({type(err.orig).__name__})",
                   err=True)
        sys.exit(1)
    except DsrError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(1)
