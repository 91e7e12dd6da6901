"""The ``dsr`` Typer app, the output helpers and the one place errors become exit codes.

Every command takes ``--json`` (one object; a list for ``dsr list``). Bad input is one line on
stderr and exit status 2, having written nothing.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import typer
from sqlalchemy.exc import OperationalError
from typer.exceptions import TyperException

from config.settings import Settings, SettingsError, get_settings
from dsr.errors import ConfigError, DsrError, InvalidInput, PermissionDenied, StateConflict
from dsr.service import Caller, Runtime, Service, Step, configure_logging, dump

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Data-subject request fulfilment.",
)
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    """Print ``data`` (a service's view, or a list of them) as JSON or as the command's
    human-readable text; both read the view as the JSON contract has it."""
    data = dump(data)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(human(data))


def settings() -> Settings:
    """The process's settings, with logging configured once."""
    s = get_settings()
    configure_logging(s.log_format, s.log_level, region=s.default_region)
    return s


def _broker_enqueue(follow: Iterable[Step]) -> None:
    # Imported here, not at the top: importing the actors wires the broker (and may start the
    # embedded redis-server), which only commands that send messages should pay for.
    from workers.actors import enqueue

    enqueue(follow)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


@lru_cache(maxsize=1)
def service() -> Service:
    """The application service over this process's runtime, sending through the broker."""
    settings()
    return Service(Runtime(), _broker_enqueue, warn=_warn)


def full_id(given: str, by: Caller) -> str:
    """The request staff named: its id, or a unique prefix of 8+ characters (the short id a
    caller reads out), resolved by the service and audited as a search."""
    return given if len(given.strip()) == 32 else service().resolve_id(given, by=by)


def main(argv: list[str] | None = None) -> None:
    """Run the command; map errors to one line on stderr and an exit status, in one place."""
    # Everything this process creates (ledger, stores, staged exports, e-mails, keys) holds
    # personal data or secrets: private to the service's user from creation, not chmod-ed after.
    os.umask(0o077)
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)  # typer.Exit(n) comes back as a return value without standalone mode
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TyperException as err:  # usage errors: unknown option, missing argument
        _fail(f"error: {err.format_message()}", 2)
    except InvalidInput as err:
        _fail(f"error: {_with_flags(err)}", 2)
    except (StateConflict, PermissionDenied) as err:
        _fail(f"error: {err}", 2)
    except SettingsError as err:  # unusable settings (e.g. no secret in production): bad input
        _fail(f"configuration error: {err}", 2)
    except ConfigError as err:
        _fail(f"configuration error: {err}", 3)
    except OperationalError as err:
        _fail(f"error: the ledger database is unreachable ({type(err.orig).__name__})", 1)
    except DsrError as err:
        _fail(f"error: {err}", 1)


# The core names an input as its field (``changes``); the command line knows it by its flag.
_FLAGS = {
    "changes": "--set",
    "text": "--text",
    "verified": "--verified",
    "by": "--by",
    "name": "--name",
    "email": "--email",
    "phone": "--phone",
    "reason": "--reason",
    "until": "--until",
    "as_of": "--as-of",
    "dry_run": "--dry-run",
    "grace_days": "--grace-days",
    "include": "--include",
    "exclude": "--exclude",
    "exclude_all": "--exclude-all",
}


def _with_flags(err: InvalidInput) -> str:
    """The core's message, then the flags of the fields it names: ``... (--set)``."""
    flags = [_FLAGS[field] for field in err.fields if field in _FLAGS]
    return f"{err} ({', '.join(flags)})" if flags else str(err)


def _fail(line: str, status: int) -> None:
    typer.echo(line, err=True)
    sys.exit(status)
