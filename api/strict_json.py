"""JSON request bodies parsed strictly: an object with a name twice is refused, not "last wins".

``{"kind": "erase", "kind": "access"}`` would otherwise be an access request to a reader of the
JSON who stopped at the first ``kind``. The rule is the core's (``intake.no_duplicates``), the
same the CLI applies to ``--set`` and the web page to its change lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from dsr.errors import InvalidInput
from dsr.service import no_duplicates


class StrictJsonRequest(Request):
    """A request whose ``json()`` refuses duplicate object names (422)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, object_pairs_hook=no_duplicates)
            except InvalidInput as err:
                # FastAPI lets an HTTPException through its body parsing; others become 400.
                raise HTTPException(422, f"the JSON body: {err}") from None
        return self._json


class StrictJsonRoute(APIRoute):
    """A route reading its JSON body with ``StrictJsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
