"""The response for an access bundle: a file on this host's disk, or an object streamed from
the bucket in chunks (never whole in memory)."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse, StreamingResponse

from dsr.objects import Blob


def bundle_response(found: Path | Blob, filename: str) -> FileResponse | StreamingResponse:
    """``found`` served as a ZIP download named ``filename``."""
    if isinstance(found, Path):
        return FileResponse(found, media_type="application/zip", filename=filename)
    return StreamingResponse(
        found.chunks(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(found.size()),
        },
    )
