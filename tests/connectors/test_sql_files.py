"""A column that names a file (``file: {column, root}``): the call archive as a PBX keeps it,
FreePBX's ``cdr`` table on SQLite, PostgreSQL and MariaDB, with real WAV files in a real monitor
folder. The files travel with their rows: copied on access, removed on erasure and by a sweep,
and never read or removed outside the root."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from connectors import sql_erase
from connectors.base import Action, Operation, PurgeJob, RetentionRule, TaskResult
from connectors.sql_files import FILES
from dsr.errors import ConfigError, FatalStoreError
from dsr.identity import PHONE, Identity
from tests.connectors.stores import (
    BYSTANDER,
    HOLD_PHONE,
    SUBJECT,
    Harness,
    add_calls,
    admit_all,
    call,
    make_recordings,
)

CDR_FILES = f"cdr{FILES}"  # the outcome's table for the recordings the cdr rows name
HISTORICAL_REASON = "call recordings are historical records and are not rewritten"


@pytest.fixture
def archive(tmp_path: Path, sql_url: str) -> Iterator[Harness]:
    """The call archive with the subject's two calls (one in, one out) and a bystander's."""
    h = make_recordings(tmp_path, sql_url)
    yield h
    h.close()


def _root(archive: Harness) -> Path:
    root: Path = archive.extra["root"]
    return root


def _outcomes(result: TaskResult) -> list[tuple[str, Action, int]]:
    return [(o.table, o.action, o.count) for o in result.outcomes]


@pytest.mark.parametrize("crafted", ["../../outside.wav", "/tmp/../{outside}", "link.wav"])
def test_a_file_outside_the_root_stops_everything_before_any_file_is_touched(
    archive: Harness, tmp_path: Path, staging: Path, crafted: str
) -> None:
    """A row naming a file outside the root (``../..``, an absolute path, a symlink out) stops
    find, access, erase and a sweep with FatalStoreError before a file is read or removed."""
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"not yours")
    root = _root(archive)
    if crafted == "link.wav":
        (root / "link.wav").symlink_to(outside)
    crafted = crafted.format(outside=outside)
    evil = call("call-evil", "0912345678", datetime(2020, 1, 1), crafted)
    add_calls(archive.engine, root, [evil], with_audio=False)
    before = archive.rows("SELECT * FROM cdr ORDER BY uniqueid")
    c = archive.connector
    for attempt in (
        lambda: c.find(SUBJECT),
        lambda: c.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging),
        lambda: c.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging),
        lambda: c.purge(PurgeJob(archive.rule, now=archive.purge_now, held=Identity())),
    ):
        with pytest.raises(FatalStoreError, match="call-evil names a file outside"):
            attempt()
    assert outside.read_bytes() == b"not yours"
    assert archive.rows("SELECT * FROM cdr ORDER BY uniqueid") == before
    assert (root / "call-a1.wav").is_file()  # nothing was removed half-way
    assert list(staging.iterdir()) == []


def test_access_copies_the_subjects_recordings(archive: Harness, staging: Path) -> None:
    """Access copies the subject's WAV files byte for byte under ``files/cdr/``, where the
    rows name them, and none of a bystander's."""
    result = archive.connector.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging)
    assert _outcomes(result) == [("cdr", Action.EXPORTED, 2), (CDR_FILES, Action.EXPORTED, 2)]
    assert result.records == 2
    root = _root(archive)
    for name in ("call-a1.wav", "2024/07/01/call-a2.wav"):
        copied = staging / "files" / "cdr" / name
        assert copied.read_bytes() == (root / name).read_bytes()
        with wave.open(str(copied)) as audio:
            assert audio.getnframes() > 0
    assert not (staging / "files" / "cdr" / "call-b1.wav").exists()


def test_a_missing_recording_is_reported(archive: Harness, staging: Path) -> None:
    """A row whose file is gone (the PBX's own clean-up) is exported; the export says one file
    is missing from the store, and copies the one that is there."""
    (_root(archive) / "call-a1.wav").unlink()
    found = archive.connector.find(SUBJECT)
    assert found.count == 2 and [p.name for p in found.files["cdr"]] == ["call-a2.wav"]
    result = archive.connector.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging)
    files = next(o for o in result.outcomes if o.table == CDR_FILES)
    assert (files.action, files.count) == (Action.EXPORTED, 1)
    assert files.reason == "1 file(s) missing from the store"
    assert [p.name for p in (staging / "files").rglob("*.wav")] == ["call-a2.wav"]


def test_erase_removes_the_recordings_and_then_the_rows(archive: Harness, staging: Path) -> None:
    """Erasure removes the subject's files and rows (a file already gone is fine), and leaves
    the bystander's call and recording."""
    root = _root(archive)
    (root / "call-a1.wav").unlink()  # an earlier erasure got this far before it was cut off
    result = archive.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
    assert _outcomes(result) == [("cdr", Action.ERASED, 2), (CDR_FILES, Action.ERASED, 1)]
    assert not (root / "2024" / "07" / "01" / "call-a2.wav").exists()
    assert archive.rows("SELECT uniqueid FROM cdr") == [("call-b1",)]
    assert (root / "call-b1.wav").is_file()
    assert archive.connector.find(SUBJECT).count == 0
    assert archive.connector.find(BYSTANDER).count == 1


def test_an_erasure_cut_off_after_the_files_leaves_no_file_without_its_row(
    archive: Harness, staging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files go first: an erasure that fails before its rows are deleted leaves rows naming
    missing files (never a file no row names), and running it again deletes them."""
    root = _root(archive)

    def fail(*_: object) -> int:
        raise FatalStoreError("recordings: the store went away")

    with monkeypatch.context() as patch:
        patch.setattr(sql_erase, "delete_where", fail)
        with pytest.raises(FatalStoreError):
            archive.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
    assert archive.count("cdr") == 3
    assert sorted(p.name for p in root.rglob("*.wav")) == ["call-b1.wav"]
    result = archive.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
    assert _outcomes(result) == [("cdr", Action.ERASED, 2), (CDR_FILES, Action.ERASED, 0)]
    assert archive.rows("SELECT uniqueid FROM cdr") == [("call-b1",)]


def test_a_sweep_removes_the_recordings_of_aged_calls(archive: Harness) -> None:
    """A retention sweep deletes the aged calls and the files they name, in chunks; young
    calls, a held caller's and their recordings stay."""
    root = _root(archive)
    aged = [
        call(f"old-{i}", f"09110000{i:02}", datetime(2023, 1, 1 + i), f"2023/01/0{1 + i}/r{i}.wav")
        for i in range(5)
    ]
    held = call("hld-1", HOLD_PHONE, datetime(2023, 2, 1), "2023/02/01/held.wav")
    add_calls(archive.engine, root, [*aged, held])
    report = archive.connector.purge(
        PurgeJob(
            archive.rule,
            now=archive.purge_now,
            held=Identity({PHONE: {HOLD_PHONE}}),
            chunk_size=2,
        )
    )
    assert (report.purged, report.skipped_held, report.done) == (5, 1, True)
    assert archive.count("cdr", "uniqueid LIKE 'old-%'") == 0
    assert not list(root.rglob("r*.wav"))
    assert (root / "2023" / "02" / "01" / "held.wav").is_file()
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.wav")) == [
        "2023/02/01/held.wav",
        "2024/07/01/call-a2.wav",
        "call-a1.wav",
        "call-b1.wav",
    ]


@pytest.mark.parametrize(
    "written", ["0903111222", "+84903111222", "84903111222", '"LE VAN CUONG" <0903111222>']
)
def test_a_number_is_found_as_the_pbx_wrote_it(archive: Harness, written: str) -> None:
    """A number in any of the PBX's spellings, or only inside a caller id, finds its call; an
    agent's extension and the queue find nothing."""
    row = call("call-c1", "", datetime(2024, 8, 1), "call-c1.wav")
    if written.startswith('"'):
        row["clid"] = written  # only the caller id holds it
    else:
        row.update(src=written, cnum=written)
    add_calls(archive.engine, _root(archive), [row])
    found = archive.connector.find(Identity({PHONE: {"+84903111222"}}))
    assert [r["uniqueid"] for r in found.records["cdr"]] == ["call-c1"]
    assert [p.name for p in found.files["cdr"]] == ["call-c1.wav"]
    for extension in ("201", "600"):
        assert archive.connector.find(Identity({PHONE: {extension}})).count == 0


def test_rectify_reports_recordings_as_history(archive: Harness, staging: Path) -> None:
    """Rectify never rewrites a call and says why (``historical_when`` and its reason)."""
    before = archive.rows("SELECT * FROM cdr ORDER BY uniqueid")
    result = archive.connector.apply(
        Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes={"phone": "0903 111 222"}
    )
    assert archive.rows("SELECT * FROM cdr ORDER BY uniqueid") == before
    assert [(o.table, o.action, o.count, o.reason) for o in result.outcomes] == [
        ("cdr", Action.HISTORICAL, 2, HISTORICAL_REASON)
    ]


def test_a_sweep_refuses_rules_it_cannot_honour(archive: Harness) -> None:
    """A rule naming another table, or anonymising calls whose erasure deletes them, is a
    configuration error, and nothing is removed."""
    for rule in (
        RetentionRule("recordings", "calls", "calldate", 1),
        RetentionRule("recordings", "cdr", "calldate", 1, action="anonymise"),
    ):
        with pytest.raises(ConfigError):
            archive.connector.purge(PurgeJob(rule, now=archive.purge_now, held=Identity()))
    assert archive.count("cdr") == 3
