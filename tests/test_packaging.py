"""The wheel installs one name, ``dsr``, with every subpackage; the image copies what it needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERIC = {"api", "cli", "config", "connectors", "demo", "scheduler", "workers"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from the sdist, as a release (and the image) would build it."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    sdist = next(out.glob("dsr-*.tar.gz"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(sdist),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("dsr-*.whl"))


def test_wheel_has_one_top_level_name_and_every_package(wheel: Path) -> None:
    """Nothing named ``config`` or ``api`` lands in site-packages; every folder is under dsr/."""
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"dsr"}
    for folder in GENERIC:
        assert f"dsr/{folder}/__init__.py" in names, folder
    for needed in (
        "dsr/core/migrations/versions/0001_ledger.py",
        "dsr/core/migrations/env.py",
        "dsr/config/connectors.yaml",
        "dsr/config/templates/web/_base.html",
        "dsr/config/templates/reply_erase.vi.html",
        "dsr/config/templates/complaint/resolved.vi.txt",
        "dsr/config/templates/privacy/status.html",
        "dsr/config/templates/privacy/_words.en.j2",
        "dsr/core/migrations/versions/0006_complaints.py",
        "dsr/service/app.py",
    ):
        assert needed in names, needed


def test_source_folders_are_the_package_subfolders() -> None:
    """Each generic top-level folder is reached as ``dsr.<folder>`` through a link in dsr/."""
    for folder in GENERIC:
        link = ROOT / "dsr" / folder
        assert link.is_symlink() and link.resolve() == ROOT / folder, folder


def test_dockerfile_copies_everything_the_wheel_is_built_from() -> None:
    """A folder the wheel needs but the image does not copy would break ``pip install .``."""
    copied = {
        line.split()[1].rstrip("/")
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    assert {"dsr", "pyproject.toml"} | GENERIC <= copied | {"README.md"}
