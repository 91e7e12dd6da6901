"""The ops dashboard page (``/web/dashboard``, ops role): server-rendered, charts as inline SVG."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api import charts
from api.auth import Principal
from api.deps import runtime, service
from api.web import deadline
from api.web_session import current, render
from dsr.core.ledger.models import RequestStatus
from dsr.service import Queue, Role, iso
from dsr.service.alerts import list_alerts

router = APIRouter(include_in_schema=False)
PATH = "/web/dashboard"


def _rows(queue: Queue, timezone: str, now: Any) -> list[dict[str, Any]]:
    """Queue items with the same deadline fields the request list shows."""
    out = []
    for item in queue.items:
        row = {"id": item.id, "kind": item.kind, "status": item.status, "due_at": iso(item.due_at)}
        out.append(
            {**row, **deadline(row, timezone, now), "item": item, "received": item.received_at}
        )
    return out


@router.get(PATH)
def dashboard_page(request: Request, who: Principal = Depends(current)) -> Response:
    if not who.may(Role.OPS):
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    rt = runtime(request)
    profile = rt.profiles[rt.settings.default_jurisdiction]
    dash = service(request).dashboard(by=who.caller)
    first = dash.since.astimezone(profile.zone).date()
    last = dash.now.astimezone(profile.zone).date()
    queues = {
        "attention": _rows(dash.needs_attention, profile.timezone, dash.now),
        "review": _rows(dash.needs_review, profile.timezone, dash.now),
        "overdue": _rows(dash.overdue_queue, profile.timezone, dash.now),
    }
    return render(
        request,
        "web/dashboard.html",
        who=who,
        d=dash,
        statuses=list(RequestStatus),
        queues=queues,
        reply_chart=charts.reply_chart(dash.reply_days, first, last),
        store_chart=charts.store_chart(dash.stores),
        first_day=first,
        last_day=last,
        alerts=list_alerts(service(request), by=who.caller, open_only=True, limit=50),
    )
