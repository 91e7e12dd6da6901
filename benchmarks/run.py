"""``python -m benchmarks.run``: every benchmark, a table, and ``benchmarks/results/latest.json``.

Sections: ``peer`` (PostgreSQL shop, access + erase, 1 and 2 worker processes: a burst, then
one request at a time for the unloaded latency), ``lookup`` (each connector's find at growing
sizes), ``stores`` (a table shaped by another product on SQLite, PostgreSQL and MariaDB, 10,000
and 1,000,000 rows: identifier index build, find p95, every spelling found), ``full`` (four
demo stores, mixed requests), ``purge`` (retention sweep vs one raw DELETE, PostgreSQL and
SQLite), ``memory`` (peak RSS of an access bundle). A section that fails
is reported and the others still run.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
import traceback
from typing import Any

from benchmarks.context import Context, Options
from benchmarks.infra import Services
from benchmarks.report import Report, machine_info
from cli.progress import bars, wanted
from dsr.core.progress import Progress, ignore

ORDER = ("peer", "lookup", "stores", "full", "purge", "memory")


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--customers", type=int, help="full workload: customers seeded (100000)")
    p.add_argument("--requests", type=int, help="full workload: requests (1000)")
    p.add_argument(
        "--large",
        action="store_true",
        help="1,000,000 customers for the full workload and lookup scaling",
    )
    p.add_argument("--workers", type=_ints, help="worker process counts (1,2)")
    p.add_argument("--threads", type=int, help="threads per worker process (4)")
    p.add_argument(
        "--prefetch",
        type=int,
        help="dramatiq_queue_prefetch for every pool (0: dramatiq's default)",
    )
    p.add_argument("--only", help=f"comma-separated sections ({','.join(ORDER)})")
    p.add_argument("--peer-customers", type=int)
    p.add_argument("--peer-orders", type=int)
    p.add_argument("--peer-requests", type=int, help="per kind, in a burst (200)")
    p.add_argument(
        "--latency-requests",
        type=int,
        help="peer: per kind and pool, one at a time for the unloaded latency (50; 5 --quick)",
    )
    p.add_argument(
        "--batch-budget",
        type=float,
        help="seconds a peer burst or one-at-a-time run may take before it is cut (120)",
    )
    p.add_argument(
        "--full-budget",
        type=float,
        help="seconds the full workload may run before it is cut (900)",
    )
    p.add_argument("--lookup-sizes", type=_ints, help="customers per lookup size (10000,100000)")
    p.add_argument("--lookup-subjects", type=int)
    p.add_argument("--purge-rows", type=int)
    p.add_argument("--purge-chunk", type=int, help="keys per sweep chunk (5000)")
    p.add_argument("--memory-orders", type=int)
    p.add_argument("--memory-recordings", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch folder (worker logs, stores, exports) for debugging",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also profile (pyinstrument) where a section can: results/profile-*",
    )
    args = p.parse_args(argv)
    opts = Options()
    if args.quick:
        opts.quicken()
    if args.large:
        opts.customers = 1_000_000
        opts.lookup_sizes = [10_000, 100_000, 1_000_000]
    if args.only:
        unknown = set(args.only.split(",")) - set(ORDER)
        if unknown:
            p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
        opts.only = args.only.split(",")
    for name in (
        "customers",
        "requests",
        "workers",
        "threads",
        "prefetch",
        "peer_customers",
        "peer_orders",
        "peer_requests",
        "latency_requests",
        "lookup_sizes",
        "lookup_subjects",
        "purge_rows",
        "purge_chunk",
        "memory_orders",
        "memory_recordings",
        "seed",
        "batch_budget",
        "full_budget",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(opts, name, value)
    opts.profile, opts.keep = args.profile, args.keep
    return opts


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = parse(argv)
    command = " ".join(["python -m benchmarks.run", *map(shlex.quote, argv)])
    signal.signal(signal.SIGTERM, _terminate)
    services = Services.open()
    report = Report(command=command, options=vars(opts).copy())
    machine = machine_info()
    try:
        machine.update(services.versions())
        ctx = Context(opts, services, report)
        from workers.broker import broker

        ctx.broker = broker
        sections = [s for s in ORDER if s in opts.only]
        # On a terminal: a bar over the sections, and the seeds' own bars (cli.progress).
        with bars(wanted(False)) as progress:
            ctx.progress = progress if progress is not ignore else None
            for n, section in enumerate(sections):
                progress(Progress("benchmark", n, len(sections), unit="sections"))
                _run_section(ctx, report, section)  # its "[bench]" lines print above the bars
            progress(Progress("benchmark", len(sections), len(sections), "sections", finished=True))
    finally:
        services.close(keep_files=opts.keep)
        if opts.keep:
            print(f"[bench] scratch folder kept: {services.tmp}", file=sys.stderr)
    import os

    machine["loadavg_at_end"] = list(os.getloadavg())
    path = report.write(machine)
    print(report.table())
    for line in report.details.get("stage_lines", []):
        print(line)
    print(
        f"\nmachine: {machine['nproc']} x {machine['cpu_model']}, Python {machine['python']}, "
        f"PostgreSQL {machine.get('postgresql')}, Redis {machine.get('redis')}; "
        f"load average {machine['loadavg_at_start'][0]:.2f} → "
        f"{machine['loadavg_at_end'][0]:.2f}"
    )
    print(f"wrote {path}")
    return 1 if report.errors else 0


def _run_section(ctx: Context, report: Report, section: str) -> None:
    started = time.perf_counter()
    print(f"[bench] {section} ...", file=sys.stderr, flush=True)
    try:
        _section(section)(ctx)
    except KeyboardInterrupt:
        raise
    except Exception:  # noqa: BLE001 - one failed section must not hide the others
        report.errors[section] = traceback.format_exc()
        print(report.errors[section], file=sys.stderr)
    elapsed = round(time.perf_counter() - started, 1)
    report.details.setdefault("section_seconds", {})[section] = elapsed
    print(f"[bench] {section} done in {elapsed}s", file=sys.stderr, flush=True)


def _section(name: str) -> Any:
    import importlib

    return importlib.import_module(f"benchmarks.{name}").run


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds through the finally blocks: pools stopped, schemas dropped


if __name__ == "__main__":
    raise SystemExit(main())
