"""How ``dsr api`` runs the app under uvicorn.

uvicorn's own proxy handling is off: it believes ``X-Forwarded-For`` from any peer in
``FORWARDED_ALLOW_IPS`` (localhost by default), so a local client could rotate the header to
escape every throttle. The app decides who the client is itself (``api/clients.py``), from
``DSR_TRUSTED_PROXIES`` only.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    # log_config=None keeps our redacting logging in charge; the access log is ours too
    # (api.app logs the route template, never a raw path that may hold a download token).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        forwarded_allow_ips="",
    )
