"""Exports, e-mail copies and the call archive in an S3 bucket (moto's server over HTTP).

The pipeline runs inline (the ``core`` fixture's SQLite ledger and SMTP server) with
``DSR_EXPORT_URL=s3://…`` and the recordings' ``root: s3://…``: nothing of a request stays on
this host's disk, the download streams from the bucket, an erasure answers 410 and removes the
objects, and so does the weekly clean-up.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from demo import smtp_sink
from demo.seed import seed
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import utcnow
from dsr.core.ops import watchdog
from dsr.core.runtime.process import Runtime
from dsr.errors import Gone
from dsr.objects import Blob
from tests.core.conftest import STAFF, Core, core_settings
from tests.s3server import S3Server, moto_server

warnings.filterwarnings("ignore", message=".*install `httpx2`")
from fastapi.testclient import TestClient  # noqa: E402

from api import create_app  # noqa: E402

ARCHIVE = 'root: "{data_dir}/recordings/monitor"'


@pytest.fixture
def s3() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


def _archive_to_bucket(s3: S3Server, data_dir: Path) -> list[str]:
    """Move the seeded call recordings into the bucket under ``recordings/``."""
    monitor = data_dir / "recordings" / "monitor"
    keys = []
    for path in sorted(p for p in monitor.rglob("*.wav")):
        key = f"recordings/{path.relative_to(monitor).as_posix()}"
        s3.client().upload_file(str(path), s3.bucket, key)
        path.unlink()
        keys.append(key)
    return keys


@pytest.fixture
def bucket(tmp_path: Path, s3: S3Server) -> Iterator[Core]:
    """The core with its exports and its call archive in the bucket, links instead of
    attachments, and server-side encryption asked of every upload."""
    text = (Path("config/connectors.yaml")).read_text(encoding="utf-8")
    assert ARCHIVE in text
    connectors = tmp_path / "connectors.yaml"
    connectors.write_text(text.replace(ARCHIVE, f'root: "s3://{s3.bucket}/recordings"'))
    controller, sink = smtp_sink.start()
    settings = core_settings(
        tmp_path,
        sink.port,
        export_url=f"s3://{s3.bucket}/exports",
        s3_endpoint_url=s3.endpoint,
        s3_sse="AES256",
        attach_limit_bytes=0,
        connectors_file=connectors,
    )
    seed(settings.resolved_data_dir, 30, secret_key=settings.keys.suppression, reset=True)
    assert _archive_to_bucket(s3, settings.resolved_data_dir)
    rt = Runtime(settings)
    yield Core(rt, sink)
    from workers import runtime

    runtime.set_runtime(None)  # create_app() made this Runtime the process's one
    controller.stop()
    rt.close()
    get_engine(rt.db_url).dispose()


def _files_on_disk(core: Core) -> list[Path]:
    root = core.rt.settings.resolved_export_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _link(core: Core, request_id: str) -> str:
    (reply,) = core.replies(request_id)
    body = reply.get_body(("plain",)).get_content()
    found = re.search(r"/exports/([\w.\-]+)", body)
    assert found, "an access reply over the attachment limit carries a download link"
    return found.group(1)


def _access(core: Core) -> str:
    request_id = core.submit("access")
    core.drain()
    assert core.status(request_id)["status"] == "completed"
    return request_id


def test_access_bundle_lives_in_the_bucket_encrypted_with_the_calls(
    bucket: Core, s3: S3Server
) -> None:
    """The bundle (with the WAVs read from the bucket archive) and the e-mail copies are objects,
    encrypted; no file of the request stays on this host's disk."""
    request_id = _access(bucket)
    prefix = f"exports/{request_id}/"
    keys = s3.keys(prefix)
    assert f"{prefix}bundle.zip" in keys
    assert any(k.startswith(f"{prefix}outbox/") and k.endswith(".eml") for k in keys)
    assert not any("/stores/" in k for k in keys), "staged files go once they are in the bundle"
    head = s3.client().head_object(Bucket=s3.bucket, Key=f"{prefix}bundle.zip")
    assert head["ServerSideEncryption"] == "AES256"
    assert _files_on_disk(bucket) == []
    found = bucket.service.bundle(request_id, by=STAFF)
    assert isinstance(found, Blob)
    with zipfile.ZipFile(io.BytesIO(b"".join(found.chunks()))) as zf:
        wavs = [n for n in zf.namelist() if n.endswith(".wav")]
        assert wavs and all(n.startswith("recordings/files/cdr/") for n in wavs)
        name = wavs[0].removeprefix("recordings/files/cdr/")
        stored = s3.client().get_object(Bucket=s3.bucket, Key=f"recordings/{name}")
        assert zf.read(wavs[0]) == stored["Body"].read()


def test_link_streams_from_the_bucket_then_410_and_objects_gone_after_erasure(
    bucket: Core, s3: S3Server
) -> None:
    """The reply's link downloads the ZIP from the bucket; after the subject's erasure it answers
    410, the export's objects are deleted and so are the subject's call recordings."""
    request_id = _access(bucket)
    token = _link(bucket, request_id)
    recordings_before = s3.keys("recordings/")
    with TestClient(create_app(bucket.rt)) as client:
        response = client.get(f"/exports/{token}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            assert "summary.txt" in zf.namelist()
        erase = bucket.submit("erase")
        bucket.drain()
        assert bucket.status(erase)["status"] == "completed"
        assert client.get(f"/exports/{token}").status_code == 410
    with pytest.raises(Gone):
        bucket.service.bundle(request_id, by=STAFF)
    assert s3.keys(f"exports/{request_id}/") == [], "bundle and sent e-mail copies deleted"
    gone = set(recordings_before) - set(s3.keys("recordings/"))
    assert gone, "the subject's call recordings are deleted from the archive bucket"


def test_weekly_cleanup_deletes_expired_objects(bucket: Core, s3: S3Server) -> None:
    """Past the link lifetime the clean-up deletes the bundle and the sent e-mail copies."""
    request_id = _access(bucket)
    assert s3.keys(f"exports/{request_id}/")
    later = utcnow() + timedelta(seconds=bucket.rt.settings.download_link_ttl_seconds + 3600)
    counts = watchdog.cleanup(bucket.rt, later)
    assert counts["bundles"] == 1 and counts["messages"] >= 2
    assert s3.keys(f"exports/{request_id}/") == []
    assert bucket.service.may_download(request_id, by=STAFF) is False
