"""No secret at rest or in output: the warehouse password and API credentials reach neither
Prefect's database (flow-run and deployment parameters), nor ``sync_runs``, nor anything the
sync prints or writes; what the tool writes is private to its user."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ctmirror.errors import ConfigError
from ctmirror.settings import Settings, SyncConfig

PASSWORD = "pw-canary-7f3a"
API_PASSWORD = "api-canary-91c2"


def _config(root: Path, warehouse_url: str, api_base: str) -> SyncConfig:
    return Settings(root=root, warehouse={"url": warehouse_url},
                    api={"base_url": api_base}).sync_config()


def _with_password(url: str) -> str:
    return sa.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def _with_credentials(base_url: str) -> str:
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://reader:{API_PASSWORD}@{rest}"


def test_flow_run_parameters_hold_no_secret(tmp_path: Path) -> None:
    from ctmirror.flows.sync import sync

    config = _config(tmp_path, "postgresql+psycopg://ctmirror:" + PASSWORD + "@db:5432/ctmirror",
                     "http://reader:" + API_PASSWORD + "@api.example/")
    stored = json.dumps(sync.serialize_parameters({"config": config, "show_progress": False}))
    assert PASSWORD not in stored and API_PASSWORD not in stored
    assert "postgresql+psycopg://ctmirror@db:5432/ctmirror" in stored
    assert "http://api.example" in stored
    # what connects still has them
    assert sa.make_url(config.warehouse_url).password == PASSWORD
    assert config.api_auth == ("reader", API_PASSWORD)
    assert config.api_base == "http://api.example"


def test_deployment_parameters_hold_no_secret(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ctmirror.flows import sync as flows

    served: dict[str, object] = {}
    monkeypatch.setattr(flows.sync, "serve", lambda **kwargs: served.update(kwargs))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    config = _config(tmp_path, f"postgresql+psycopg://ctmirror:{PASSWORD}@db/ctmirror",
                     "http://api.example")
    flows.serve_on_schedule(config, name="weekly", cron="0 3 * * 0")
    assert PASSWORD not in json.dumps(served["parameters"])
    assert os.environ["PGPASSWORD"] == PASSWORD  # what the scheduled runs connect with

    with pytest.raises(ConfigError, match="API credentials"):
        flows.serve_on_schedule(_config(tmp_path, "duckdb:///w.duckdb",
                                        _with_credentials("http://api.example")),
                                name="weekly", cron="0 3 * * 0")


def _files_holding(root: Path, *secrets: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {s}" for s in secrets if s.encode() in data]
    return found


@pytest.mark.slow
def test_a_prefect_sync_keeps_no_secret_and_no_world_readable_file(
        replica: object, warehouse_url: str, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    url = warehouse_url if warehouse_url.startswith("duckdb") else _with_password(warehouse_url)
    api_base = _with_credentials(replica.base_url)  # type: ignore[attr-defined]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTMIRROR_", "PREFECT_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "ctmirror", "sync", "--api-base", api_base, "--root", str(root),
         "--db", url, "--limit", "2", "--files", "none", "--no-convert", "--no-features",
         "--no-glif"],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert PASSWORD not in output and API_PASSWORD not in output
    assert replica.base_url in output  # type: ignore[attr-defined]

    assert _files_holding(root, PASSWORD, API_PASSWORD) == []
    prefect_db = root / ".prefect" / "prefect.db"
    assert prefect_db.is_file()
    assert stat.S_IMODE((root / ".prefect").stat().st_mode) == 0o700
    world_readable = [str(p.relative_to(root)) for p in [root, *root.rglob("*")]
                      if p.stat().st_mode & stat.S_IRWXO]
    assert world_readable == []
    # the group may read the mirror (a lab shares it); Prefect's folder (0700, above) is closed

    engine = sa.create_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            bases = conn.execute(sa.text("SELECT api_base FROM sync_runs")).scalars().all()
    finally:
        engine.dispose()
    assert bases == [replica.base_url]  # type: ignore[attr-defined]
