"""The ``sync`` flow: every Allen Cell Types record into the warehouse.

A thin orchestration of the stages in ``ctmirror.sync``: coarse tasks (the extract task fans out its
HTTP requests itself, bounded by ``concurrency``), retries only for transient failures (the
extract is resumable, so a retry fetches only the pages still missing), and the tag
``allen-api`` so that a Prefect server can cap concurrent syncs with
``prefect concurrency-limit create allen-api 1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import Task

from ctmirror.crawl import CrawlEvent, ExtractReport, ModelDone
from ctmirror.errors import TransientError
from ctmirror.settings import DEFAULT_API_BASE, Settings
from ctmirror.sync import (
    RunHandle,
    SyncConfig,
    SyncResult,
    convert_stage,
    download_stage,
    extract_stage,
    features_stage,
    finish_run,
    load_stage,
    models_stage,
    open_run,
    preflight,
)
from ctmirror.sync_convert import ConvertReport
from ctmirror.sync_features import FeatureReport
from ctmirror.sync_files import DownloadReport
from ctmirror.sync_glif import ModelMetricsReport
from ctmirror.warehouse.load import LoadReport


def _transient_only(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


@task(name="preflight")
def preflight_task(config: SyncConfig) -> None:
    preflight(config)


@task(name="open-run")
def open_run_task(config: SyncConfig) -> RunHandle:
    return open_run(config)


@task(name="extract", tags=["allen-api"], retries=3, retry_delay_seconds=[10, 60, 300],
      retry_condition_fn=_transient_only)
def extract_task(config: SyncConfig, sync_id: str, show_progress: bool) -> ExtractReport:
    logger = get_run_logger()

    def log_model(event: CrawlEvent) -> None:
        if isinstance(event, ModelDone):
            logger.info("%s: %d rows in %d pages%s", event.model, event.rows, event.pages,
                        "" if event.complete else " (incomplete)")

    if not show_progress:
        return extract_stage(config, sync_id, log_model)
    from ctmirror.sync_report import RichCrawlProgress

    with RichCrawlProgress() as bar:
        def both(event: CrawlEvent) -> None:
            log_model(event)
            bar(event)

        return extract_stage(config, sync_id, both)


@task(name="load")
def load_task(config: SyncConfig, sync_id: str) -> LoadReport:
    return load_stage(config, sync_id)


@task(name="download-files", tags=["allen-api"], retries=3, retry_delay_seconds=[10, 60, 300],
      retry_condition_fn=_transient_only)
def download_task(config: SyncConfig, sync_id: str, show_progress: bool) -> DownloadReport:
    report = download_stage(config, sync_id, progress=show_progress)
    get_run_logger().info("files: %s", report.summary())
    return report


@task(name="convert-files")
def convert_task(config: SyncConfig, sync_id: str) -> ConvertReport:
    report = convert_stage(config, sync_id)
    get_run_logger().info("conversion: %s", report.summary())
    return report


@task(name="features")
def features_task(config: SyncConfig, sync_id: str) -> FeatureReport:
    report = features_stage(config, sync_id)
    get_run_logger().info("ephys features: %s", report.summary())
    get_run_logger().info("morphology features: %s", report.morphology.summary())
    return report


@task(name="glif-metrics")
def models_task(config: SyncConfig, sync_id: str) -> ModelMetricsReport:
    report = models_stage(config, sync_id)
    get_run_logger().info("GLIF models: %s", report.summary())
    return report


@task(name="finish-run")
def finish_task(config: SyncConfig, handle: RunHandle, extracted: ExtractReport,
                loaded: LoadReport, files: DownloadReport, conversions: ConvertReport,
                features: FeatureReport, models: ModelMetricsReport) -> SyncResult:
    return finish_run(config, handle, extracted, loaded, files, conversions, features, models)


@flow(name="sync")
def sync(
    api_base: str = DEFAULT_API_BASE,
    root: str = "data",
    db: str | None = None,
    limit: int | None = None,
    files: str = "all",
    image_downsample: int = 0,
    convert: bool = True,
    ephys_features: bool = True,
    ephys_definitions: str = "allen2016",
    morphology_features: bool = True,
    glif_metrics: bool = True,
    glif_voltages: bool = False,
    show_progress: bool = False,
) -> SyncResult:
    """Mirror every ApiCellTypesSpecimenDetail record, every linked record and file, convert
    recordings, reconstructions and model parameters, recompute ephys and morphology
    features, and score the GLIF models on their cells' recordings."""
    settings = Settings()
    settings.api.base_url = api_base
    settings.root = Path(root)
    settings.warehouse.url = db
    settings.files.categories = files
    settings.files.image_downsample = image_downsample
    settings.files.convert = convert
    settings.features.ephys = ephys_features
    settings.features.ephys_definitions = ephys_definitions
    settings.features.morphology = morphology_features
    settings.features.glif = glif_metrics
    settings.features.glif_voltages = glif_voltages
    config = SyncConfig.from_settings(settings, limit=limit)
    preflight_task(config)
    handle = open_run_task(config)
    extracted = extract_task(config, handle.sync_id, show_progress)
    loaded = load_task(config, handle.sync_id)
    downloaded = download_task(config, handle.sync_id, show_progress)
    conversions = convert_task(config, handle.sync_id)
    features = features_task(config, handle.sync_id)
    models = models_task(config, handle.sync_id)
    result = finish_task(config, handle, extracted, loaded, downloaded, conversions, features,
                         models)
    get_run_logger().info(
        "sync %s: %d requests, %s", result.sync_id, result.requests, result.load.summary()
    )
    return result


def _parameters(config: SyncConfig) -> dict[str, Any]:
    return {"api_base": config.api_base, "root": str(config.root), "db": config.warehouse_url,
            "limit": config.limit, "files": ",".join(sorted(config.file_categories)) or "none",
            "image_downsample": config.image_downsample, "convert": config.convert,
            "ephys_features": config.ephys_features,
            "ephys_definitions": config.ephys_definitions,
            "morphology_features": config.morphology_features,
            "glif_metrics": config.glif_metrics, "glif_voltages": config.glif_voltages}


def run_sync_flow(config: SyncConfig, *, show_progress: bool = False) -> SyncResult:
    """Run the flow on the configured Prefect API (a temporary local server by default)."""
    return sync(**_parameters(config), show_progress=show_progress)


def serve_on_schedule(config: SyncConfig, *, name: str, cron: str) -> None:
    """Serve the ``sync`` flow with a cron schedule; runs until interrupted."""
    sync.serve(name=name, cron=cron, parameters=_parameters(config))
