"""docker-compose.yml cannot run here (no Docker engine): check what it would run instead."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.settings import DEFAULT_API_BASE, Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_services_and_images(compose: dict) -> None:
    import prefect

    services = compose["services"]
    assert set(services) == {"postgres", "prefect-server", "worker"}
    assert re.fullmatch(r"postgres:\d+", services["postgres"]["image"])
    # the server image runs the same Prefect version the worker's flow is written for
    server_image = services["prefect-server"]["image"]
    assert server_image.startswith(f"prefecthq/prefect:{prefect.__version__}")
    assert services["worker"]["build"] == "."
    assert (REPO / "Dockerfile").is_file()


def test_health_checks_gate_startup(compose: dict) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/api/health" in " ".join(services["prefect-server"]["healthcheck"]["test"])
    assert services["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    worker_deps = services["worker"]["depends_on"]
    assert {name: d["condition"] for name, d in worker_deps.items()} == {
        "postgres": "service_healthy",
        "prefect-server": "service_healthy",
    }


def test_volumes_are_named_and_persistent(compose: dict) -> None:
    declared = set(compose["volumes"])
    assert declared == {"pgdata", "mirror-data"}
    pg_mounts = compose["services"]["postgres"]["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in pg_mounts
    init = next(m for m in pg_mounts if "docker-entrypoint-initdb.d" in m)
    init_file = REPO / init.split(":")[0]
    assert "CREATE DATABASE prefect" in init_file.read_text()
    worker = compose["services"]["worker"]
    assert f"mirror-data:{_env(worker)['CTMIRROR_ROOT']}" in worker["volumes"]


def test_urls_point_at_the_services(compose: dict) -> None:
    services = compose["services"]
    pg_env = _env(services["postgres"])
    user, password = pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"]
    server_db = _env(services["prefect-server"])["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert server_db == f"postgresql+asyncpg://{user}:{password}@postgres:5432/prefect"
    worker_env = _env(services["worker"])
    assert worker_env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert worker_env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_worker_settings_parse(compose: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose["services"]
    pg_env = _env(services["postgres"])
    for key, value in _env(services["worker"]).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.api.base_url == DEFAULT_API_BASE  # the real API, not a replica
    assert settings.warehouse_url() == (
        f"postgresql+psycopg://{pg_env['POSTGRES_USER']}:{pg_env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{pg_env['POSTGRES_DB']}"
    )
    assert str(settings.root) == "/data"


def test_worker_command_runs_real_cli_commands(compose: dict) -> None:
    worker = compose["services"]["worker"]
    command = worker["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2].replace("$${", "${")
    steps = [shlex.split(part) for part in script.split("&&")]
    assert steps[0] == ["ctmirror", "db", "upgrade"]
    assert steps[1][:3] == ["ctmirror", "schedule", "serve"]
    runner = CliRunner()
    for step in steps:
        args = [a for a in step[1:] if not a.startswith("${")]
        if "--cron" in args:
            args = args[: args.index("--cron")]
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, result.output


def test_worker_cron_is_valid(compose: dict) -> None:
    from datetime import datetime

    from cronsim import CronSim

    cron = _env(compose["services"]["worker"])["CTMIRROR_CRON"]
    first = next(CronSim(cron, datetime(2026, 1, 1)))
    assert first > datetime(2026, 1, 1)
