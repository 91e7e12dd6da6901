"""Behaviour specific to the call-recording archive: real WAV files in a real folder."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from connectors.base import Action, Operation, RetentionRule
from connectors.recordings import HISTORICAL_REASON, RecordingArchive
from dsr.errors import ConfigError, FatalStoreError
from dsr.identity import Identity
from tests.connectors.stores import (
    A_PHONE_RAW,
    SUBJECT,
    Harness,
    add_calls,
    admit_all,
    call,
    make_recordings,
)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Harness]:
    """The recordings archive with the subject's two calls and a bystander's."""
    h = make_recordings(tmp_path)
    yield h
    h.close()


@pytest.mark.parametrize("crafted", ["../../outside.wav", "/tmp/../{outside}", "link.wav"])
def test_paths_outside_the_archive_are_refused(
    archive: Harness, tmp_path: Path, staging: Path, crafted: str
) -> None:
    """A file name escaping the archive stops find, access, erase and purge before any file I/O."""
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"not yours")
    root = archive.extra["root"]
    if crafted == "link.wav":
        (root / "audio" / "link.wav").symlink_to(outside)
    crafted = crafted.format(outside=outside)
    add_calls(
        root, [call("call-evil", A_PHONE_RAW, datetime(2020, 1, 1), crafted)], with_audio=False
    )
    before = archive.count("calls")
    c = archive.connector
    for attempt in (
        lambda: c.find(SUBJECT),
        lambda: c.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging),
        lambda: c.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging),
        lambda: c.purge(archive.rule, now=archive.purge_now, held=Identity()),
    ):
        with pytest.raises(FatalStoreError, match="call-evil names a file outside the archive"):
            attempt()
    assert outside.read_bytes() == b"not yours"
    assert archive.count("calls") == before
    assert (root / "audio" / "call-a1.wav").is_file()  # nothing was deleted half-way
    assert list(staging.iterdir()) == []


def test_access_copies_the_subjects_audio(archive: Harness, staging: Path) -> None:
    """Access copies the subject's WAV files, byte for byte, under the staging audio folder."""
    result = archive.connector.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging)
    assert result.records == 2
    root = archive.extra["root"]
    for name in ("call-a1.wav", "2024/call-a2.wav"):
        copied = staging / "audio" / name
        assert copied.read_bytes() == (root / "audio" / name).read_bytes()
        with wave.open(str(copied)) as audio:
            assert audio.getnframes() > 0
    assert not (staging / "audio" / "call-b1.wav").exists()


def test_erase_tolerates_audio_already_gone(archive: Harness, staging: Path) -> None:
    """An erasure that crashed after deleting a file finishes on rerun (a missing file is fine)."""
    root = archive.extra["root"]
    (root / "audio" / "call-a1.wav").unlink()
    result = archive.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
    assert [(o.table, o.action, o.count) for o in result.outcomes] == [
        ("calls", Action.ERASED, 2),
        ("audio", Action.ERASED, 2),
    ]
    assert not (root / "audio" / "2024" / "call-a2.wav").exists()
    assert (root / "audio" / "call-b1.wav").is_file()


def test_rectify_reports_recordings_as_history(archive: Harness, staging: Path) -> None:
    """Rectify never rewrites call metadata and says why."""
    before = archive.rows("SELECT * FROM calls ORDER BY id")
    result = archive.connector.apply(
        Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes={"phone": "0903 111 222"}
    )
    assert result.outcomes[0].reason == HISTORICAL_REASON
    assert archive.rows("SELECT * FROM calls ORDER BY id") == before


def test_missing_index_is_fatal_and_creates_nothing(tmp_path: Path) -> None:
    """An archive without its index fails for good and does not create an empty one."""
    root = tmp_path / "empty"
    archive = RecordingArchive(name="recordings", root=root)
    with pytest.raises(FatalStoreError, match="index is missing"):
        archive.find(SUBJECT)
    assert not (root / "index.db").exists()


def test_purge_refuses_rules_it_cannot_honour(archive: Harness) -> None:
    """A rule naming another table or asking to anonymise recordings is a configuration error."""
    for rule in (
        RetentionRule("recordings", "other", "started_at", 1),
        RetentionRule("recordings", "calls", "started_at", 1, action="anonymise"),
    ):
        with pytest.raises(ConfigError):
            archive.connector.purge(rule, now=archive.purge_now, held=Identity())
