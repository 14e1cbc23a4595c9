"""prefect.yaml: a deployment `prefect deploy` can create and a worker can run."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_the_deployment_runs_the_sync_flow_with_valid_parameters() -> None:
    import prefect
    from prefect.client.schemas.schedules import CronSchedule

    from ctmirror.cli import _check_cron
    from ctmirror.flows.sync import sync
    from ctmirror.settings import SyncConfig

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert spec["prefect-version"] == prefect.__version__
    [deployment] = spec["deployments"]
    module, _, name = deployment["entrypoint"].partition(":")
    assert getattr(importlib.import_module(module), name) is sync
    config = SyncConfig.model_validate(deployment["parameters"]["config"])
    assert config.api_base == "http://api.brain-map.org"
    assert config.warehouse_password is None and config.run.notify_url is None  # no secret
    assert config.run.retries == 3
    [schedule] = deployment["schedules"]
    _check_cron(schedule["cron"])
    CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    assert deployment["work_pool"]["name"] == "ctmirror"
