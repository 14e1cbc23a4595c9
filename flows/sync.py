"""The ``sync`` flow: every Allen Cell Types record into the warehouse.

A thin orchestration of ``ctmirror.sync.STEPS``: one Prefect task per stage, named by the
stage's name. Every stage talks to the warehouse and some to the API, so every one is retried
on transient failures only (the API or the warehouse unreachable: the extract is resumable and
the derived stages skip what is done, so a retry redoes only what is missing), with the wait
doubling from ``RunSettings.retry_delay_s``, and bounded by ``RunSettings.stage_timeout_s``.
The tasks carry the tag ``ctmirror``, those that request the Allen API also ``allen-api``, so a
Prefect server can cap them (``prefect concurrency-limit create allen-api 1``).

What an operator sees in Prefect for each run: the stages' progress and summaries in the run
log (ctmirror's own INFO lines included), a task run per stage with its state, and one
markdown artifact ``ctmirror-sync-summary`` with the run's counts and seconds per stage.
"""

# No `from __future__ import annotations`: Prefect validates a deployed run's parameters
# against the flow's signature, and a string annotation ("SyncConfig") does not resolve there.
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from prefect import State, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.logging.handlers import APILogHandler
from prefect.tasks import Task

from ctmirror.errors import ConfigError, TransientError
from ctmirror.settings import RunSettings, SyncConfig
from ctmirror.sync import (
    STEPS,
    Report,
    RunHandle,
    Step,
    SyncResult,
    close_out,
    finish_run,
    notify_on_failure,
    open_run,
    run_lock,
    run_steps,
    summary,
)
from ctmirror.sync_report import summary_markdown

#: The key of the run summary artifact (one per flow run; Prefect keeps each key's history).
SUMMARY_ARTIFACT = "ctmirror-sync-summary"


def _transient_only(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    try:
        state.result()
    except TransientError:
        return True
    except sa.exc.OperationalError:  # the warehouse unreachable or its connection dropped
        return True
    except Exception:
        return False
    return False


def _run_step(name: str, config: SyncConfig, sync_id: str, show_progress: bool) -> Report:
    [step] = [step for step in STEPS if step.name == name]
    logger = get_run_logger()
    logger.info("%s: started", name)
    report = step.run(config, sync_id, show_progress)
    logger.info("%s: %s", name, summary(report))
    return report


def _step_task(step: Step) -> Task[[str, SyncConfig, str, bool], Report]:
    tags = ["ctmirror", "allen-api"] if step.uses_api else ["ctmirror"]
    return task(name=step.name, cache_policy=NO_CACHE, tags=tags)(_run_step)


_TASKS = {step.name: _step_task(step) for step in STEPS}
open_run_task = task(name="open-run", cache_policy=NO_CACHE, tags=["ctmirror", "allen-api"]
                     )(open_run)
finish_run_task = task(name="finish-run", cache_policy=NO_CACHE, tags=["ctmirror"])(finish_run)


P = ParamSpec("P")
R = TypeVar("R")


def bounded(stage: Task[P, R], run: RunSettings) -> Task[P, R]:
    """The task with the run's retries (on transient failures, the wait doubling each time)
    and timeout."""
    return stage.with_options(
        retries=run.retries,
        retry_delay_seconds=[run.retry_delay_s * 2 ** i for i in range(run.retries)] or 0,
        retry_condition_fn=_transient_only, timeout_seconds=run.stage_timeout_s)


@contextmanager
def _ctmirror_logs_to_run_log() -> Iterator[None]:
    """Send ctmirror's own INFO lines (rows per model, files, stage summaries) to the run log
    on the Prefect server while the flow runs; the terminal's handlers keep their levels."""
    logger = logging.getLogger("ctmirror")
    handler = APILogHandler(level=logging.INFO)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@flow(name="sync")
def sync(config: SyncConfig, show_progress: bool = False) -> SyncResult:
    """Mirror every ApiCellTypesSpecimenDetail record, every linked record and file, convert
    recordings, reconstructions and model parameters, recompute ephys and morphology
    features, and score the GLIF models on their cells' recordings."""
    with (_ctmirror_logs_to_run_log(), run_lock(config),
          notify_on_failure(config) as trace):
        handle: RunHandle = bounded(open_run_task, config.run)(config)
        trace.sync_id = handle.sync_id
        with close_out(config, handle):
            reports, seconds = run_steps(lambda step: bounded(_TASKS[step.name], config.run)(
                step.name, config, handle.sync_id, show_progress))
            result: SyncResult = bounded(finish_run_task, config.run)(
                config, handle, reports, seconds)
    create_markdown_artifact(markdown=summary_markdown(result), key=SUMMARY_ARTIFACT,
                             description=f"ctmirror sync {result.sync_id}")
    get_run_logger().info("sync %s: %d requests, %s", result.sync_id, result.requests,
                          result.load.summary())
    return result


def run_sync_flow(config: SyncConfig, *, show_progress: bool = False) -> SyncResult:
    """Run the flow on the configured Prefect API (a temporary local server by default)."""
    return sync(config, show_progress=show_progress)


def serve_on_schedule(config: SyncConfig, *, name: str, cron: str | None = None,
                      interval: float | None = None) -> None:
    """Serve the ``sync`` flow on a cron (or interval) schedule; runs until interrupted.

    At most one run of the deployment at a time: Prefect queues a run due while another runs
    (``global_limit``), and the warehouse's run lock refuses any other sync of the same mirror.

    The deployment's parameters are stored by the Prefect server, so they carry no secret: the
    warehouse password reaches the scheduled runs (this process's children) as libpq's
    ``PGPASSWORD``, the notification URL as ``CTMIRROR_RUN__NOTIFY_URL``, and an API base with
    credentials is refused."""
    if config.api_credentials is not None:
        raise ConfigError("a scheduled sync cannot keep API credentials out of the Prefect "
                          "server's database: give an API base URL without user:password@")
    if config.warehouse_password is not None:
        os.environ["PGPASSWORD"] = config.warehouse_password.get_secret_value()
    if config.run.notify_url is not None:
        os.environ["CTMIRROR_RUN__NOTIFY_URL"] = config.run.notify_url.get_secret_value()
    parameters = config.model_dump(mode="json",
                                   exclude={"warehouse_password": True,
                                            "run": {"notify_url"}})
    sync.serve(name=name, cron=cron, interval=interval, parameters={"config": parameters},
               global_limit=1)
