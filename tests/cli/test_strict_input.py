"""Strict input at the command line: what the API refuses, the CLI refuses too (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import _count_requests, dsr, env  # noqa: F401 - env is a fixture

SUBMIT = ["submit", "access", "--email", "a@b.vn"]


@pytest.mark.parametrize(
    "args, needle",
    [
        ([*SUBMIT, "--name", "Nguyen\r\nVan An"], "control character"),
        (["submit", "access", "--email", "a@b.vn\r\n"], "control character"),
        ([*SUBMIT, "--phone", "0912-ABC-678"], "phone"),
        ([*SUBMIT, "--name", "\u200b\u200c\u200d"], "empty"),
        ([*SUBMIT, "--name", "An \u202enguyen"], "bidirectional"),
        (
            ["submit", "rectify", "--email", "a@b.vn", "--set", "address=1 Le Loi",
             "--set", "address=2 Tran Phu"],
            "twice",
        ),
        (["submit", "rectify", "--email", "a@b.vn", "--set", "address=\u2066\u2069"], "bidi"),
        (["submit", "rectify", "--email", "a@b.vn", "--set", "address=\ufeff "], "empty"),
        ([*SUBMIT, "--verified", "--by", "lan\nops"], "control character"),
    ],
)  # fmt: skip
def test_loose_input_is_one_line_exit_2_and_writes_nothing(
    env: dict[str, str],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    args: list[str],
    needle: str,
) -> None:
    """CRLF, letters in a phone, invisible or bidi text and a field set twice: exit 2, one line."""
    done = dsr(env, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0].lower(), done.stderr
    assert _count_requests(tmp_path / "var") == 0


@pytest.mark.parametrize(
    "args, line",
    [
        ([*SUBMIT, "--set", "name=B"], "error: changes are only for rectify requests (--set)"),
        (["hold", "add", "--reason", "court order"],
         "error: a hold needs an email or a phone (--email, --phone)"),
    ],
)  # fmt: skip
def test_the_core_names_the_field_and_the_cli_its_flag(
    env: dict[str, str],  # noqa: F811 - the fixture imported above
    args: list[str],
    line: str,
) -> None:
    """The core's message names the field as every door does; the CLI adds its flag."""
    done = dsr(env, *args)
    assert done.returncode == 2 and done.stderr.strip() == line, done.stderr
