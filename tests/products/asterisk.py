"""Asterisk call detail records as FreePBX keeps them (``asteriskcdrdb.cdr``), with the call
recordings they name, on MariaDB and on SQLite.

Upstream: FreePBX/framework ``installlib/SQL/cdr.sql`` (commit c68e3ff: the ``cdr`` table,
its column types, ``NOT NULL default ''`` / ``'0'``, ``calldate`` default
``'1000-01-01 00:00:00'``, and the keys ``calldate``, ``dst``, ``accountcode``, ``uniqueid``,
``did``), completed the way FreePBX/cdr ``install.php`` (release/16.0.46.21) completes it:
``linkedid`` VARCHAR(32), ``peeraccount`` VARCHAR(80), ``sequence`` INT(11), all ``NOT NULL``,
and the key ``recordingfile``. The table has no primary key: ``uniqueid`` names a call leg
(A- and B-leg of one call share a ``linkedid``). FreePBX/cdr ``Cdr.class.php`` (``processPath``)
says where a recording lives: ``recordingfile`` holds the file's name only, and the file is
``<monitor>/<YYYY>/<MM>/<DD>/<name>``, the date being the name's fourth dash-separated field
(``q-600-0903111222-20261103-101530-1762164930.12.wav``); ``<monitor>`` is
``/var/spool/asterisk/monitor`` on a PBX and a folder of the fixture's here. On SQLite the same
columns, defaults and indexes, in SQLite's types.

How identifiers are spelled here: a phone system writes numbers, not people, so there are no
spaces or dots; but the same number comes as the trunk delivers it or as it was dialled:
``0903111222``, ``+84903111222``, ``84903111222``, ``0084903111222``; ``+6591234567`` and
``006591234567``; ``+14155552671`` and ``0014155552671``. A number sits in ``src`` and ``cnum``
(a customer calling) or ``dst`` (an agent calling out), and in ``clid`` as
``"LE VAN CUONG" <+84903111222>`` (caller names come without diacritics, or as the number);
agents' extensions (``201``) and the company's DID are not a customer's.

Each answered call has a recording (a real, small WAV file written with ``wave``), except
Cường's oldest call: its file was removed by the PBX's own disk clean-up while the row stayed
(``Seeded.missing_files``). One of his calls was transferred: two rows (legs), one ``linkedid``.
"""

from __future__ import annotations

import calendar
import functools
import math
import wave
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.dialects import mysql

from tests.products import bulk
from tests.products.bulk import Rows
from tests.products.people import (
    CUONG,
    HA,
    HA_DECOY,
    KHOA,
    LAN,
    NAMESAKE,
    OTHER_DOMAIN,
    PHONE,
    SEED,
    Person,
    Population,
    Recorder,
    Seeded,
    ascii_fold,
    dialled_spellings,
)

PRODUCT = "asterisk"
DID = "02873001234"  # the company's number customers call
QUEUE = "600"
AGENTS = {
    "201": "Nguyễn Thị Hoa",
    "202": "Trần Văn Bình",
    "203": "Lê Thu Trang",
    "205": "Phạm Quốc Việt",
}

metadata = sa.MetaData()


def _varchar(name: str, length: int) -> sa.Column[Any]:
    return sa.Column(name, mysql.VARCHAR(length), nullable=False, server_default="")


def _int(name: str) -> sa.Column[Any]:
    return sa.Column(name, mysql.INTEGER(11), nullable=False, server_default="0")


cdr = sa.Table(
    "cdr",
    metadata,
    sa.Column(
        "calldate",
        mysql.DATETIME(),
        nullable=False,
        server_default=sa.text("'1000-01-01 00:00:00'"),
    ),
    _varchar("clid", 80),
    _varchar("src", 80),
    _varchar("dst", 80),
    _varchar("dcontext", 80),
    _varchar("channel", 80),
    _varchar("dstchannel", 80),
    _varchar("lastapp", 80),
    _varchar("lastdata", 80),
    _int("duration"),
    _int("billsec"),
    _varchar("disposition", 45),
    _int("amaflags"),
    _varchar("accountcode", 20),
    _varchar("uniqueid", 32),
    _varchar("userfield", 255),
    _varchar("did", 50),
    _varchar("recordingfile", 255),
    _varchar("cnum", 80),
    _varchar("cnam", 80),
    _varchar("outbound_cnum", 80),
    _varchar("outbound_cnam", 80),
    _varchar("dst_cnam", 80),
    _varchar("linkedid", 32),
    _varchar("peeraccount", 80),
    _int("sequence"),
    sa.Index("calldate", "calldate"),
    sa.Index("dst", "dst"),
    sa.Index("accountcode", "accountcode"),
    sa.Index("uniqueid", "uniqueid"),
    sa.Index("did", "did"),
    sa.Index("recordingfile", "recordingfile"),
)

TABLES = (cdr,)
IDENTIFIER_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "cdr": {PHONE: ("src", "dst", "cnum", "clid")},
}
NAME_COLUMNS: dict[str, tuple[str, ...]] = {"cdr": ("cnam",)}  # callers: ASCII; agents: UTF-8

ENTRY = """\
name: pbx_cdr
kind: sql
url: "mysql+pymysql://root@127.0.0.1:3306/products?charset=utf8mb4"
labels: {vi: "Nhật ký và ghi âm cuộc gọi (FreePBX)", en: "Call records and recordings (FreePBX)"}
tables:
  # One row per call leg. No account of its own: a row is the subject's when their proven
  # number is in it. The customer's number is in src / cnum (they called) or dst (we called),
  # and in clid as "Name" <number>. Rows are written once, at hang-up: no changed_at.
  - name: cdr
    key: uniqueid
    match: {phone: [src, dst, cnum, clid]}
    collected_at: calldate
    file:
      column: recordingfile
      root: "/var/spool/asterisk/monitor"
      folder: "{calldate:%Y/%m/%d}"
    erase: {mode: delete}
"""


def entry(url: str, root: Path) -> dict[str, Any]:
    """This product's ``connectors.yaml`` entry, pointed at ``url`` and the recordings under
    ``root`` (FreePBX's monitor folder: ``root/YYYY/MM/DD/<recordingfile>``)."""
    data: dict[str, Any] = yaml.safe_load(ENTRY)
    data["url"] = url
    data["tables"][0]["file"]["root"] = str(root)
    return data


def create_tables(engine: sa.Engine) -> None:
    """Drop (if there) and create the ``cdr`` table with FreePBX's indexes."""
    drop_tables(engine)
    metadata.create_all(engine)


def drop_tables(engine: sa.Engine) -> None:
    metadata.drop_all(engine)


def recording_path(root: Path, name: str) -> Path:
    """Where FreePBX keeps the recording ``name`` (``Cdr.class.php``, ``processPath``)."""
    day = name.split("-")[3]
    return root / day[:4] / day[4:6] / day[6:8] / name


_RATE = 8000  # Hz: telephone audio


@functools.cache
def _tone(seconds: float, tone: float) -> bytes:
    samples = (
        int(8000 * math.sin(2 * math.pi * tone * i / _RATE)) for i in range(int(_RATE * seconds))
    )
    return array("h", samples).tobytes()


def write_wav(path: Path, *, seconds: float = 0.25, tone: float = 440.0) -> None:
    """A small, real recording: 8 kHz mono 16-bit PCM, a sine tone (as a PBX records: WAV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_RATE)
        out.writeframes(_tone(seconds, tone))


# -- rows -----------------------------------------------------------------------------------------


@dataclass
class _Files:
    """Recordings to write once the rows are in (uniqueid -> file name), and which not."""

    root: Path | None
    write: bool
    written: dict[str, Path]
    missing: dict[str, str]


class _Pbx:
    def __init__(self, pop: Population, rec: Recorder, files: _Files) -> None:
        self.pop, self.rec, self.rng, self.files = pop, rec, pop.rng, files
        self.seq = 0
        self.rows: Rows = {}

    def take(self) -> Rows:
        rows, self.rows = self.rows, {}
        return rows

    def _leg(self, calldate: datetime, row: dict[str, Any], linkedid: str | None) -> str:
        self.seq += 1
        uniqueid = f"{calldate_epoch(calldate)}.{self.seq}"
        base = {
            "calldate": calldate,
            "amaflags": 3,
            "accountcode": "",
            "uniqueid": uniqueid,
            "userfield": "",
            "outbound_cnum": "",
            "outbound_cnam": "",
            "dst_cnam": "",
            "linkedid": linkedid or uniqueid,
            "peeraccount": "",
            "sequence": self.seq,
        }
        self.rows.setdefault("cdr", []).append({**base, **row})
        return uniqueid

    def _recording(self, uniqueid: str, name: str, *, keep: bool = True) -> None:
        row = self.rows["cdr"][-1]
        row["recordingfile"] = name
        files = self.files
        if files.root is None or not files.write:
            return
        if not keep:
            files.missing[uniqueid] = name
            return
        path = recording_path(files.root, name)
        write_wav(path, tone=300.0 + (self.seq % 40) * 15)
        files.written[uniqueid] = path

    @staticmethod
    def _stamp(calldate: datetime) -> str:
        return f"{calldate:%Y%m%d}-{calldate:%H%M%S}"

    def inbound(
        self,
        number: str,
        caller_name: str,
        calldate: datetime,
        *,
        answered: bool = True,
        agent: str = "201",
        record: bool = True,
        keep_file: bool = True,
        owner: Person | None = None,
        then: str | None = None,  # an extension the call was transferred to (a second leg)
    ) -> None:
        """A customer calls the company's DID and waits in the queue."""
        talk = self.rng.randrange(20, 900) if answered else 0
        ring = self.rng.randrange(3, 40)
        cnam = caller_name or number
        uniqueid = self._leg(
            calldate,
            {
                "clid": f'"{cnam}" <{number}>',
                "src": number,
                "dst": QUEUE,
                "dcontext": "ext-queues",
                "channel": f"PJSIP/viettel-{self.seq + 1:08x}",
                "dstchannel": f"PJSIP/{agent}-{self.seq + 2:08x}" if answered else "",
                "lastapp": "Queue",
                "lastdata": f"{QUEUE},t,,,300,,,,,",
                "duration": ring + talk,
                "billsec": talk,
                "disposition": "ANSWERED" if answered else "NO ANSWER",
                "did": DID,
                "recordingfile": "",
                "cnum": number,
                "cnam": caller_name,
                "dst_cnam": AGENTS[agent] if answered else "",
            },
            None,
        )
        if owner is not None:
            self.rec.own(owner, "cdr", uniqueid, (PHONE,))
        if answered and record:
            name = f"q-{QUEUE}-{number}-{self._stamp(calldate)}-{uniqueid}.wav"
            self._recording(uniqueid, name, keep=keep_file)
            if owner is not None and keep_file and uniqueid in self.files.written:
                self.rec.subject(owner).files.append(self.files.written[uniqueid])
        if then is not None and answered:
            moved = calldate + timedelta(seconds=ring + talk)
            second = self._leg(
                moved,
                {
                    "clid": f'"{cnam}" <{number}>',
                    "src": number,
                    "dst": then,
                    "dcontext": "from-internal-xfer",
                    "channel": f"PJSIP/viettel-{self.seq - 1:08x}",
                    "dstchannel": f"PJSIP/{then}-{self.seq + 3:08x}",
                    "lastapp": "Dial",
                    "lastdata": f"PJSIP/{then},,HhTtr",
                    "duration": 95,
                    "billsec": 90,
                    "disposition": "ANSWERED",
                    "did": DID,
                    "recordingfile": "",
                    "cnum": number,
                    "cnam": caller_name,
                    "dst_cnam": AGENTS[then],
                },
                uniqueid,
            )
            name = f"exten-{then}-{number}-{self._stamp(moved)}-{second}.wav"
            self._recording(second, name)
            if owner is not None:
                self.rec.own(owner, "cdr", second, (PHONE,))
                if second in self.files.written:
                    self.rec.subject(owner).files.append(self.files.written[second])

    def outbound(
        self,
        number: str,
        calldate: datetime,
        *,
        agent: str = "202",
        answered: bool = True,
        owner: Person | None = None,
    ) -> None:
        """An agent calls a customer out through the trunk."""
        talk = self.rng.randrange(15, 600) if answered else 0
        uniqueid = self._leg(
            calldate,
            {
                "clid": f'"{AGENTS[agent]}" <{agent}>',
                "src": agent,
                "dst": number,
                "dcontext": "from-internal",
                "channel": f"PJSIP/{agent}-{self.seq + 1:08x}",
                "dstchannel": f"PJSIP/viettel-{self.seq + 2:08x}",
                "lastapp": "Dial",
                "lastdata": f"PJSIP/{number}@viettel,300,Tb(func-apply-sipheaders^s^1)",
                "duration": talk + self.rng.randrange(3, 25),
                "billsec": talk,
                "disposition": "ANSWERED" if answered else "BUSY",
                "did": "",
                "recordingfile": "",
                "cnum": agent,
                "cnam": AGENTS[agent],
                "outbound_cnum": DID,
            },
            None,
        )
        if owner is not None:
            self.rec.own(owner, "cdr", uniqueid, (PHONE,))
        if answered:
            name = f"out-{number}-{agent}-{self._stamp(calldate)}-{uniqueid}.wav"
            self._recording(uniqueid, name)
            if owner is not None and uniqueid in self.files.written:
                self.rec.subject(owner).files.append(self.files.written[uniqueid])

    def internal(self, calldate: datetime) -> None:
        """Two agents talk: no customer's number in it."""
        a, b = self.rng.sample(sorted(AGENTS), 2)
        self._leg(
            calldate,
            {
                "clid": f'"{AGENTS[a]}" <{a}>',
                "src": a,
                "dst": b,
                "dcontext": "from-internal",
                "channel": f"PJSIP/{a}-{self.seq + 1:08x}",
                "dstchannel": f"PJSIP/{b}-{self.seq + 2:08x}",
                "lastapp": "Dial",
                "lastdata": f"PJSIP/{b},,HhTtr",
                "duration": 40,
                "billsec": 35,
                "disposition": "ANSWERED",
                "did": "",
                "recordingfile": "",
                "cnum": a,
                "cnam": AGENTS[a],
                "dst_cnam": AGENTS[b],
            },
            None,
        )

    def customer(self, person: Person) -> None:
        pop, rng = self.pop, self.rng
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            when = pop.moment(datetime(2025, 6, 1))
            number = pop.dialled(person.phone)
            if rng.random() < 0.6:
                caller = rng.choice(("", ascii_fold(person.name).upper(), ascii_fold(person.name)))
                self.inbound(
                    number,
                    caller,
                    when,
                    answered=rng.random() < 0.85,
                    agent=rng.choice(sorted(AGENTS)),
                )
            else:
                self.outbound(
                    number, when, agent=rng.choice(sorted(AGENTS)), answered=rng.random() < 0.8
                )
        if rng.random() < 0.2:
            self.internal(pop.moment(datetime(2025, 6, 1)))


def calldate_epoch(calldate: datetime) -> int:
    return calendar.timegm(calldate.timetuple())


def _known(pbx: _Pbx) -> None:
    vn = dialled_spellings(CUONG.phone)  # 0903111222, +84903111222, 84903111222, 0084903111222
    name = ascii_fold(CUONG.name)
    pbx.inbound(  # his oldest call: the PBX's disk clean-up removed the recording, not the row
        vn[0], name.upper(), datetime(2025, 3, 14, 10, 2, 0), keep_file=False, owner=CUONG
    )
    pbx.inbound(vn[1], name.upper(), datetime(2026, 11, 3, 10, 15, 30), owner=CUONG)
    pbx.outbound(vn[0], datetime(2026, 11, 3, 14, 40, 5), owner=CUONG)
    pbx.inbound(vn[2], "", datetime(2026, 11, 5, 19, 1, 2), answered=False, owner=CUONG)
    pbx.inbound(vn[0], name, datetime(2026, 11, 10, 9, 0, 0), agent="202", then="205", owner=CUONG)
    pbx.outbound(vn[3], datetime(2026, 11, 12, 16, 20, 0), agent="203", owner=CUONG)
    pbx.outbound(vn[1], datetime(2026, 11, 15, 8, 45, 0), owner=CUONG)

    sg = dialled_spellings(HA.phone)
    pbx.inbound(sg[0], "", datetime(2026, 10, 31, 3, 0, 0), owner=HA)
    pbx.outbound(sg[1], datetime(2026, 11, 1, 4, 30, 0), agent="203", owner=HA)

    us = dialled_spellings(KHOA.phone)
    pbx.inbound(us[0], "KHOA TRAN", datetime(2026, 9, 1, 23, 10, 0), owner=KHOA)
    pbx.outbound(us[1], datetime(2026, 9, 2, 1, 0, 0), answered=False, owner=KHOA)

    # Decoys: numbers one digit off, a landline holding his digits, his wife's mobile.
    pbx.inbound(dialled_spellings(NAMESAKE.phone)[0], "LE VAN CUONG", datetime(2026, 11, 4, 8, 0))
    pbx.inbound(dialled_spellings(OTHER_DOMAIN.phone)[0], "", datetime(2026, 11, 6, 15, 0))
    pbx.inbound(dialled_spellings(HA_DECOY.phone)[0], "", datetime(2026, 11, 7, 2, 0))
    pbx.outbound(dialled_spellings(LAN.phone)[1], datetime(2026, 11, 8, 10, 0))
    pbx.internal(datetime(2026, 11, 9, 11, 11, 11))


def _batches(pbx: _Pbx, people: int, batch: int) -> Iterator[Rows]:
    _known(pbx)
    yield pbx.take()
    done = 0
    while done < people:
        n = min(batch, people - done)
        for person in pbx.pop.people(n):
            pbx.customer(person)
        done += n
        yield pbx.take()


def fill(
    engine: sa.Engine,
    root: Path | None,
    people: int = 200,
    *,
    seed: int = SEED,
    batch: int = 5000,
    files: bool = True,
) -> Seeded:
    """Write the known subjects' calls, the decoys' and ``people`` synthetic customers' (zero
    to three each, some agent-to-agent calls), and, with ``files``, a WAV under ``root`` for
    every recorded call but the one whose file the PBX cleaned up."""
    rec = Recorder(PRODUCT)
    written: dict[str, Path] = {}
    missing: dict[str, str] = {}
    pbx = _Pbx(Population(seed), rec, _Files(root, files and root is not None, written, missing))
    counts = bulk.load(engine, TABLES, _batches(pbx, people, batch))
    return rec.seeded(counts, files=written, missing_files=missing)


def scale(
    engine: sa.Engine,
    customers: int,
    *,
    root: Path | None = None,
    seed: int = SEED,
    batch: int = 50_000,
    files: bool = False,
) -> Seeded:
    """Create the table anew and bulk-insert the calls of ``customers`` customers (10,000 to
    1,000,000; about 1.6 rows each). Rows name their recordings; the WAV files are written
    only with ``files`` (and ``root``): a million small files is a disk benchmark of its own."""
    create_tables(engine)
    with bulk.indexes_deferred(engine, TABLES):
        return fill(engine, root, customers, seed=seed, batch=batch, files=files)
