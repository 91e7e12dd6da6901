"""The wheel installs each source folder as its own package; the image copies what it needs."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"dsr", "api", "cli", "config", "connectors", "demo", "scheduler", "workers"}


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


def test_wheel_carries_every_package_by_its_own_name(wheel: Path) -> None:
    """Each source folder is a top-level package of the wheel, with its data files."""
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == PACKAGES
    for folder in PACKAGES:
        assert f"{folder}/__init__.py" in names, folder
    for needed in (
        "dsr/core/ledger/migrations/versions/0001_ledger.py",
        "dsr/core/ledger/migrations/env.py",
        "config/connectors.yaml",
        "config/templates/web/_base.html",
        "config/templates/reply_erase.vi.html",
        "config/templates/complaint/resolved.vi.txt",
        "config/templates/privacy/status.html",
        "config/templates/privacy/_words.en.j2",
        "dsr/core/ledger/migrations/versions/0006_complaints.py",
        "dsr/service/app.py",
    ):
        assert needed in names, needed


def test_no_top_level_name_collides_with_a_dependency() -> None:
    """No installed distribution but ours provides ``config``, ``api`` or any of our names."""
    owners = importlib.metadata.packages_distributions()
    for name in PACKAGES:
        assert set(owners.get(name, [])) <= {"dsr"}, (name, owners[name])


def test_one_path_per_file() -> None:
    """No symlink is tracked, and a module imported by its folder's name is the only copy."""
    links = subprocess.run(
        ["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert not [line for line in links.splitlines() if line.startswith("120000")]
    for folder in PACKAGES:
        module = importlib.import_module(folder)
        assert Path(module.__file__ or "").resolve().parent == ROOT / folder, folder
        assert not (ROOT / "dsr" / folder).exists() or folder == "dsr"


def test_dockerfile_copies_everything_the_wheel_is_built_from() -> None:
    """A folder the wheel needs but the image does not copy would break ``pip install .``."""
    copied = {
        line.split()[1].rstrip("/")
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    assert {"pyproject.toml"} | PACKAGES <= copied | {"README.md"}
