"""The ``sync`` flow: every Allen Cell Types record into the warehouse.

A thin orchestration of ``ctmirror.sync.STEPS``: one Prefect task per stage, named by the
stage's name. The tasks that request the Allen API fan out their requests themselves, are
retried only for transient failures (the extract is resumable, so a retry fetches only the
pages still missing) and carry the tag ``allen-api``, so that a Prefect server can cap
concurrent syncs with ``prefect concurrency-limit create allen-api 1``.
"""

from __future__ import annotations

import os
from typing import Any

from prefect import State, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.tasks import Task

from ctmirror.errors import ConfigError, TransientError
from ctmirror.settings import SyncConfig
from ctmirror.sync import (
    STEPS,
    Report,
    RunHandle,
    SyncResult,
    close_out,
    finish_run,
    open_run,
    run_lock,
    summary,
)


def _transient_only(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


def _run_step(name: str, config: SyncConfig, sync_id: str, show_progress: bool) -> Report:
    [step] = [step for step in STEPS if step.name == name]
    report = step.run(config, sync_id, show_progress)
    get_run_logger().info("%s: %s", name, summary(report))
    return report


def _step_task(name: str, uses_api: bool) -> Task[[str, SyncConfig, str, bool], Report]:
    if uses_api:
        return task(name=name, cache_policy=NO_CACHE, tags=["allen-api"], retries=3,
                    retry_delay_seconds=[10, 60, 300],
                    retry_condition_fn=_transient_only)(_run_step)
    return task(name=name, cache_policy=NO_CACHE)(_run_step)


_TASKS = {step.name: _step_task(step.name, step.uses_api) for step in STEPS}
open_run_task = task(name="open-run", cache_policy=NO_CACHE)(open_run)
finish_run_task = task(name="finish-run", cache_policy=NO_CACHE)(finish_run)


@flow(name="sync")
def sync(config: SyncConfig, show_progress: bool = False) -> SyncResult:
    """Mirror every ApiCellTypesSpecimenDetail record, every linked record and file, convert
    recordings, reconstructions and model parameters, recompute ephys and morphology
    features, and score the GLIF models on their cells' recordings."""
    with run_lock(config):
        handle: RunHandle = open_run_task(config)
        with close_out(config, handle):
            reports = {step.name: _TASKS[step.name](step.name, config, handle.sync_id,
                                                    show_progress)
                       for step in STEPS}
            result: SyncResult = finish_run_task(config, handle, reports)
    get_run_logger().info("sync %s: %d requests, %s", result.sync_id, result.requests,
                          result.load.summary())
    return result


def run_sync_flow(config: SyncConfig, *, show_progress: bool = False) -> SyncResult:
    """Run the flow on the configured Prefect API (a temporary local server by default)."""
    return sync(config, show_progress=show_progress)


def serve_on_schedule(config: SyncConfig, *, name: str, cron: str) -> None:
    """Serve the ``sync`` flow with a cron schedule; runs until interrupted.

    The deployment's parameters are stored by the Prefect server, so they carry no secret: the
    warehouse password reaches the scheduled runs (this process's children) as libpq's
    ``PGPASSWORD``, and an API base with credentials is refused."""
    if config.api_credentials is not None:
        raise ConfigError("a scheduled sync cannot keep API credentials out of the Prefect "
                          "server's database: give an API base URL without user:password@")
    if config.warehouse_password is not None:
        os.environ["PGPASSWORD"] = config.warehouse_password.get_secret_value()
    parameters = config.model_dump(mode="json", exclude={"warehouse_password"})
    sync.serve(name=name, cron=cron, parameters={"config": parameters})
