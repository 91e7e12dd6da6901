"""Export memory with the bucket: peak RSS of an access bundle built from and into S3.

``python -m benchmarks.memory_s3 [--orders N] [--recordings N]`` seeds the demo stores as
``benchmarks.memory`` does (the demo subject with N orders, one item each, and N calls of ~1 MB
of noise each), starts moto's S3 server (its own process, a real HTTP endpoint), moves the call
recordings into the bucket (the archive's ``root: s3://…``) and runs one access request's core
steps inline in a fresh subprocess twice: first with everything on this host's disk (the
baseline, the same run), then with ``DSR_EXPORT_URL=s3://…``: the connectors stage here, the
staged files are uploaded, the bundle is built from the bucket in chunks and uploaded in parts,
and finally downloaded through the same streamed body the download link serves. Each child
reports its peak RSS (``VmHWM``) per step. Results: ``benchmarks/results/memory-s3-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.memory import TARGET_MB, _peak_mb, _rss_mb, prepare

ARCHIVE = 'root: "{data_dir}/recordings/monitor"'
RESULT = Path(__file__).parent / "results" / "memory-s3-latest.json"


def child(data_dir: Path, work: Path, export_url: str, connectors: str) -> dict[str, Any]:
    """The measured process: one access request inline; with a bucket, the download too."""
    from benchmarks import inline
    from config.settings import Settings
    from demo.seed import DEMO_SUBJECT
    from dsr.core.intake.filing import Submission
    from dsr.core.ledger import exports
    from dsr.core.ledger.db import migrate
    from dsr.core.runtime.process import Runtime
    from dsr.objects import Blob

    extra: dict[str, Any] = {"connectors_file": Path(connectors)} if connectors else {}
    if export_url:
        extra |= {"export_url": export_url, "s3_endpoint_url": os.environ["AWS_ENDPOINT_URL"]}
    settings = Settings(
        database_url=f"sqlite:///{work / 'ledger.db'}",
        data_dir=data_dir,
        export_dir=work / "exports",
        var_dir=work / "var",
        vouch_policy="single",  # the measured request is staff-vouched
        **extra,
    )
    rt = Runtime(settings)
    migrate(rt.db_url)
    rt.connectors  # noqa: B018 - built before the baseline is taken
    baseline = {"rss_mb": _rss_mb(), "peak_mb": _peak_mb()}
    steps: list[dict[str, Any]] = []

    def note(actor: str, seconds: float) -> None:
        steps.append({"step": actor, "seconds": round(seconds, 2), "peak_mb": _peak_mb()})

    started = time.perf_counter()
    sub = Submission(
        "access", DEMO_SUBJECT["email"], phone=DEMO_SUBJECT["phone"], verified=True, by="bench"
    )
    request_id, todo = inline.submit(rt, sub)
    inline.execute(rt, todo, deliver=False, after=note)
    store = exports.store(settings)
    size = store.size(exports.bundle_key(request_id))
    if export_url and size is not None:
        began = time.perf_counter()
        with (work / "downloaded.zip").open("wb") as out:
            for chunk in Blob(store, exports.bundle_key(request_id)).chunks():
                out.write(chunk)
        note("download", time.perf_counter() - began)
    return {
        "baseline": baseline,
        "peak_mb": _peak_mb(),
        "steps": steps,
        "seconds": round(time.perf_counter() - started, 2),
        "bundle_mb": round(size / 2**20, 1) if size is not None else None,
    }


def _run_child(data_dir: Path, work: Path, export_url: str, connectors: str) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    out = work / "result.json"
    args = [str(data_dir), str(work), export_url, connectors, str(out)]
    cmd = [sys.executable, "-m", "benchmarks.memory_s3", "--child", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-3000:]}")
    return dict(json.loads(out.read_text()))


def main() -> None:
    from tests.s3server import moto_server

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--recordings", type=int, default=50)
    p.add_argument("--seed", type=int, default=7)
    opts = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsr-mem-s3-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        prepared = prepare(data_dir, opts.orders, opts.recordings, opts.seed)
        local = _run_child(data_dir, root / "local", "", "")
        with moto_server() as s3:
            os.environ["AWS_ENDPOINT_URL"] = s3.endpoint
            monitor = data_dir / "recordings" / "monitor"
            for path in sorted(monitor.rglob("*.wav")):
                key = f"recordings/{path.relative_to(monitor).as_posix()}"
                s3.client().upload_file(str(path), s3.bucket, key)
            text = Path("config/connectors.yaml").read_text(encoding="utf-8")
            connectors = root / "connectors.yaml"
            connectors.write_text(text.replace(ARCHIVE, f'root: "s3://{s3.bucket}/recordings"'))
            bucket = _run_child(data_dir, root / "s3", f"s3://{s3.bucket}/exports", str(connectors))
    result = {
        "prepared": prepared,
        "local": local,
        "s3": bucket,
        "target_mb": TARGET_MB,
        "met": bucket["peak_mb"] < TARGET_MB,
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'store':<8} {'peak RSS MB':>12} {'set-up RSS MB':>14} {'bundle MB':>10} {'s':>7}")
    for name, r in (("local", local), ("s3", bucket)):
        print(
            f"{name:<8} {r['peak_mb']:>12.1f} {r['baseline']['rss_mb']:>14.1f} "
            f"{r['bundle_mb'] or 0:>10.1f} {r['seconds']:>7.1f}"
        )
    print(f"target < {TARGET_MB} MB: {'met' if result['met'] else 'NOT met'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        data_dir, work, url, conn, out = sys.argv[2:7]
        Path(out).write_text(json.dumps(child(Path(data_dir), Path(work), url, conn)))
    else:
        main()
