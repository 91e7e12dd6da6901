"""docker-compose.yml is valid for a real deployment (no Docker engine here to run it)."""

from __future__ import annotations

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
    assert (ROOT / services["worker"]["build"]).joinpath("Dockerfile").exists()


def test_workers_scale_to_three_sharing_no_volume_but_a_bucket() -> None:
    """Three workers by default, no dsr process mounts a volume; exports go to the MinIO bucket
    and the identifier index to PostgreSQL, so nothing but the servers is shared."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["worker"]["deploy"]["replicas"] == 3
    assert "minio" in services and "minio-bucket" in services
    for name in ("worker", "scheduler", "api"):
        assert "volumes" not in services[name], name
        env = services[name]["environment"]
        assert env["DSR_EXPORT_URL"].startswith("s3://")
        assert env["DSR_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["DSR_INDEX_URL"].startswith("postgresql")
