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
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")
#: ${NAME}, or ${NAME:?message}: a value compose takes from .env (refusing to start without it)
_FROM_DOTENV = re.compile(r"\$\{(\w+)(?::\?[^}]*)?\}")


def _dotenv() -> dict[str, str]:
    """.env.example's values: what `cp .env.example .env` gives compose."""
    lines = (REPO / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _env(service: dict) -> dict[str, str]:
    """A service's environment as `docker compose up` gives it with .env copied from
    .env.example: each ${NAME:-default} replaced by .env's value or its default, each ${NAME}
    and ${NAME:?message} by .env's value."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    dotenv = _dotenv()

    def value(text: str) -> str:
        text = _DEFAULTED.sub(lambda m: dotenv.get(m.group(1)) or m.group(2), text)
        return _FROM_DOTENV.sub(lambda m: dotenv[m.group(1)], text)

    return {k: value(str(v)) for k, v in env.items()}


def test_secrets_come_from_dotenv_only(compose: dict) -> None:
    """No password or key is written into the compose file: each one is required from .env,
    whose example sets every variable the file reads, and .env is never committed."""
    text = (REPO / "docker-compose.yml").read_text()
    dotenv = _dotenv()
    for name in ("POSTGRES_PASSWORD", "CTMIRROR_READER_PASSWORD", "SUPERSET_SECRET_KEY",
                 "SUPERSET_ADMIN_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert f"${{{name}:?" in text, name
        assert not re.search(rf"\$\{{{name}:-", text), name
    for name in set(re.findall(r"\$\{(\w+)", text)):
        assert name in dotenv, name
    assert ":ctmirror@" not in text and "PASSWORD:-" not in text
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def _mounts(service: dict) -> dict[str, Path]:
    """{path in the container: file or folder of the repository} of a service's bind mounts."""
    mounts = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = REPO / source
    return mounts


def test_services_and_images(compose: dict) -> None:
    import prefect

    services = compose["services"]
    default = {name for name, service in services.items() if "profiles" not in service}
    assert default == {"postgres", "prefect-server", "worker", "superset", "serve"}
    assert {name: services[name]["profiles"] for name in set(services) - default} == dict.fromkeys(
        ("minio", "minio-init", "dask-scheduler", "dask-worker"), ["cluster"])
    assert re.fullmatch(r"postgres:\d+", services["postgres"]["image"])
    # the server image runs the same Prefect version the worker's flow is written for
    server_image = services["prefect-server"]["image"]
    assert server_image.startswith(f"prefecthq/prefect:{prefect.__version__}")
    assert services["worker"]["build"] == "."
    assert (REPO / "Dockerfile").is_file()
    # Superset: the released image of a pinned version (plus its PostgreSQL driver), the version
    # bench/superset_check.py reads from the same line and checks the dashboard against
    dockerfile = (REPO / services["superset"]["build"] / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/superset:(\S+)$", dockerfile, re.M)
    assert base is not None and re.fullmatch(r"\d+\.\d+\.\d+", base.group(1))
    assert services["superset"]["image"] == f"ctmirror-superset:{base.group(1)}"
    assert "psycopg2-binary==" in dockerfile


def test_health_checks_gate_startup(compose: dict) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/api/health" in " ".join(services["prefect-server"]["healthcheck"]["test"])
    assert services["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/health" in " ".join(services["superset"]["healthcheck"]["test"])
    assert services["superset"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    worker = services["worker"]
    port = _env(worker)["PREFECT_RUNNER_SERVER_PORT"]
    assert _env(worker)["PREFECT_RUNNER_SERVER_ENABLE"] == "true"
    assert f"localhost:{port}/health" in " ".join(worker["healthcheck"]["test"])
    worker_deps = services["worker"]["depends_on"]
    assert {name: (d["condition"], d.get("required", True))
            for name, d in worker_deps.items()} == {
        "postgres": ("service_healthy", True),
        "prefect-server": ("service_healthy", True),
        # the cluster profile's services, when it is on
        "dask-scheduler": ("service_healthy", False),
        "minio-init": ("service_completed_successfully", False),
    }


def test_volumes_are_named_and_persistent(compose: dict) -> None:
    declared = set(compose["volumes"])
    assert declared == {"pgdata", "mirror-data", "object-data"}
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

    from prefect._vendor.croniter import croniter

    from ctmirror.cli import _check_cron

    cron = _env(compose["services"]["worker"])["CTMIRROR_CRON"]
    _check_cron(cron)  # Prefect's own validation, as `ctmirror schedule serve` runs it
    first = croniter(cron, datetime(2026, 1, 1)).get_next(datetime)
    assert (first.weekday(), first.hour, first.minute) == (6, 3, 0)  # Sunday 03:00


def test_ports_are_published(compose: dict) -> None:
    services = compose["services"]
    # PostgreSQL for BI tools on the host (loopback until the passwords are changed), Superset
    assert services["postgres"]["ports"] == ["127.0.0.1:5432:5432"]
    assert services["superset"]["ports"] == ["8088:8088"]
    assert services["prefect-server"]["ports"] == ["4200:4200"]


def test_reader_role_is_created_on_first_start(compose: dict) -> None:
    postgres = compose["services"]["postgres"]
    mounts = _mounts(postgres)
    init_script = mounts["/docker-entrypoint-initdb.d/20-reader-role.sh"]
    script = init_script.read_text()
    # the script runs the mounted SQL file with the password from the service's environment
    sql_target = next(t for t in mounts if t in script)
    sql = mounts[sql_target].read_text()
    assert '"$CTMIRROR_READER_PASSWORD"' in script and "CTMIRROR_READER_PASSWORD" in _env(postgres)
    assert 'owner="$POSTGRES_USER"' in script
    assert "CREATE ROLE ctmirror_reader LOGIN" in sql
    for grant in ("GRANT USAGE ON SCHEMA public TO ctmirror_reader",
                  "GRANT SELECT ON ALL TABLES IN SCHEMA public TO ctmirror_reader",
                  "ALTER DEFAULT PRIVILEGES FOR ROLE :\"owner\" IN SCHEMA public"):
        assert grant in sql
    assert "INSERT" not in sql and "ALL PRIVILEGES" not in sql


def test_superset_connects_to_the_warehouse_as_the_reader(compose: dict) -> None:
    import sqlalchemy as sa

    services = compose["services"]
    pg_env, superset_env = _env(services["postgres"]), _env(services["superset"])
    reader = sa.make_url(superset_env["CTMIRROR_WAREHOUSE_READER_URI"])
    assert (reader.username, reader.password) == (
        "ctmirror_reader", pg_env["CTMIRROR_READER_PASSWORD"])
    assert (reader.host, reader.port, reader.database) == ("postgres", 5432, pg_env["POSTGRES_DB"])
    # Superset's own state lives in the database postgres-init.sql creates
    metadata = sa.make_url(superset_env["SUPERSET_METADATA_DB_URI"])
    assert (metadata.username, metadata.password, metadata.host) == (
        pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], "postgres")
    init_sql = (REPO / "docker" / "postgres-init.sql").read_text()
    assert f"CREATE DATABASE {metadata.database} " in init_sql
    # the settings file reads exactly the variables the service sets
    mounts = _mounts(services["superset"])
    config = mounts[superset_env["SUPERSET_CONFIG_PATH"]].read_text()
    for name in set(re.findall(r'os\.environ\["(\w+)"\]', config)):
        assert name in superset_env, name
    assert superset_env["SUPERSET_SECRET_KEY"]


def test_superset_start_imports_the_mounted_dashboard(compose: dict) -> None:
    superset = compose["services"]["superset"]
    assert superset["command"][0] == "sh"
    mounts = _mounts(superset)
    script = mounts[superset["command"][1]].read_text()
    steps = [line for line in script.splitlines() if line and not line.startswith("#")]
    commands = [shlex.split(s.rstrip("\\"))[:3] for s in steps if not s.startswith((" ", "set"))]
    assert commands == [
        ["superset", "db", "upgrade"],
        ["superset", "fab", "create-admin"],
        ["superset", "init"],
        ["python", "/app/ctmirror/dashboard/bundle.py", "/tmp/ctmirror-dashboard.zip"],
        ["superset", "import-dashboards", "-p"],
        ["exec", "gunicorn", "--bind"],
    ]
    # the bundle script and the dashboard files it zips are in the mounted folder
    dashboard = mounts["/app/ctmirror/dashboard"]
    assert (dashboard / "bundle.py").is_file() and (dashboard / "metadata.yaml").is_file()
    assert {p.parent.name for p in dashboard.glob("*/*.yaml")} == {
        "charts", "dashboards", "databases"}
    env = _env(superset)
    for name in re.findall(r"\$(\w+)", script):
        assert name in env, name
    assert env["SUPERSET_ADMIN_USERNAME"] and env["SUPERSET_ADMIN_PASSWORD"]


def test_serve_reads_the_mirror_read_only_on_loopback(compose: dict,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose["services"]
    serve, worker = services["serve"], services["worker"]
    # the worker's image and mirror volume, mounted read-only
    assert (serve["build"], serve["image"]) == (worker["build"], worker["image"])
    root = _env(serve)["CTMIRROR_ROOT"]
    assert root == _env(worker)["CTMIRROR_ROOT"]
    assert serve["volumes"] == [f"mirror-data:{root}:ro"]
    # the warehouse the worker writes, as the read-only role
    pg_env = _env(services["postgres"])
    for key, value in _env(serve).items():
        monkeypatch.setenv(key, value)
    url = Settings().warehouse_url()
    import sqlalchemy as sa

    reader, written = sa.make_url(url), sa.make_url(_env(worker)["CTMIRROR_WAREHOUSE__URL"])
    assert (reader.username, reader.password) == (
        "ctmirror_reader", pg_env["CTMIRROR_READER_PASSWORD"])
    assert (reader.host, reader.database) == (written.host, written.database)
    # inside the container on every address, published on the host's loopback only
    command = serve["command"]
    assert command[:2] == ["ctmirror", "serve"]
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert serve["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert "/healthz" in " ".join(serve["healthcheck"]["test"])
    assert f"localhost:{port}" in " ".join(serve["healthcheck"]["test"])
    assert serve["depends_on"]["postgres"]["condition"] == "service_healthy"
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output


def _cluster_dotenv(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """.env.example with the cluster profile's lines it shows uncommented."""
    lines = (REPO / ".env.example").read_text().splitlines()
    shown = dict(line.lstrip("# ").split("=", 1) for line in lines
                 if re.fullmatch(r"#\s+[A-Z_]+=\S+", line))
    dotenv = _dotenv() | shown
    monkeypatch.setattr(f"{__name__}._dotenv", lambda: dotenv)
    return dotenv


def test_cluster_profile_wires_dask_and_object_storage(compose: dict,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from ctmirror.item_runner import DaskTarget, parse_dask

    services = compose["services"]
    dotenv = _cluster_dotenv(monkeypatch)
    assert dotenv["COMPOSE_PROFILES"] == "cluster"
    worker, scheduler, dask_worker = (services[name] for name in
                                      ("worker", "dask-scheduler", "dask-worker"))
    # the sync's worker sends the derived stages to the scheduler, at the port it listens on
    worker_env = _env(worker)
    port = scheduler["command"][scheduler["command"].index("--port") + 1]
    assert parse_dask(worker_env["CTMIRROR_FEATURES__DASK"]) == DaskTarget(
        address=f"tcp://dask-scheduler:{port}")
    assert dask_worker["command"][:3] == ["dask", "worker", f"tcp://dask-scheduler:{port}"]
    assert scheduler["command"][:2] == ["dask", "scheduler"]
    # two workers of the worker's image (they unpickle ctmirror's stage functions), one thread
    assert dask_worker["deploy"]["replicas"] == 2
    assert dask_worker["command"][dask_worker["command"].index("--nthreads") + 1] == "1"
    for service in (scheduler, dask_worker):
        assert (service["build"], service["image"]) == (worker["build"], worker["image"])
    # the Dask workers read and write the mirror the worker names: its volume, its S3 endpoint
    # and keys
    assert dask_worker["volumes"] == worker["volumes"] == ["mirror-data:/data"]
    dask_env = _env(dask_worker)
    assert dask_env["CTMIRROR_WORK_DIR"].startswith("/data/")
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "CTMIRROR_WORK_DIR"):
        assert dask_env[name] == worker_env[name] != "", name
    # the mirror root is the bucket minio-init makes, on the MinIO service, with its login
    minio, init = services["minio"], services["minio-init"]
    root = worker_env["CTMIRROR_ROOT"]
    assert root.startswith(f"s3://{_env(init)['CTMIRROR_BUCKET']}/")
    assert worker_env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert "127.0.0.1:9000:9000" in minio["ports"]
    assert (_env(minio)["MINIO_ROOT_USER"], _env(minio)["MINIO_ROOT_PASSWORD"]) == (
        worker_env["AWS_ACCESS_KEY_ID"], worker_env["AWS_SECRET_ACCESS_KEY"])
    assert "mc mb --ignore-existing" in init["entrypoint"][2]
    assert "object-data:/data" in minio["volumes"]
    # startup is gated on health: MinIO ready, the bucket made, the scheduler answering
    assert minio["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    dashboard = scheduler["command"][scheduler["command"].index("--dashboard-address") + 1]
    assert f"localhost{dashboard}/health" in " ".join(scheduler["healthcheck"]["test"])
    worker_http = dask_worker["command"][dask_worker["command"].index("--dashboard-address") + 1]
    assert f"localhost{worker_http}/health" in " ".join(dask_worker["healthcheck"]["test"])
    assert dask_worker["depends_on"]["dask-scheduler"]["condition"] == "service_healthy"
    assert worker["depends_on"]["dask-scheduler"]["condition"] == "service_healthy"
    assert worker["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    # and the settings parse as the worker's sync reads them
    for key, value in worker_env.items():
        monkeypatch.setenv(key, value)
    assert Settings().features.dask == f"tcp://dask-scheduler:{port}"


def test_without_the_cluster_profile_the_worker_computes_here(compose: dict,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    worker_env = _env(compose["services"]["worker"])
    assert worker_env["CTMIRROR_FEATURES__DASK"] == "" and worker_env["CTMIRROR_ROOT"] == "/data"
    for key, value in worker_env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.features.dask is None and str(settings.root) == "/data"
