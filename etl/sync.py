"""The stages of one sync, each a plain function: open a run, extract, load, download files,
convert them, recompute features, score the GLIF models, publish the views, finish.

``flows/sync.py`` runs them as Prefect tasks; ``run_sync_locally`` runs the same stages
in-process. The warehouse is the state: a run whose row in ``sync_runs`` still says ``running``
was interrupted, and the next sync resumes it (same ``sync_id``, staged pages reused), so a
killed sync and an uninterrupted one end in the same final state.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from ctmirror.crawl import ExtractReport, ProgressSink, extract
from ctmirror.errors import ApiError
from ctmirror.mirror.plan import FileCategory, parse_categories
from ctmirror.rma import RmaClient
from ctmirror.settings import Settings
from ctmirror.sync_convert import ConvertReport
from ctmirror.sync_features import FeatureReport
from ctmirror.sync_files import DownloadReport, FileFailure
from ctmirror.sync_glif import ModelMetricsReport
from ctmirror.warehouse.load import LoadReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncConfig:
    """Everything a sync needs, as plain values (built once at the edge)."""

    api_base: str
    root: Path
    warehouse_url: str
    limit: int | None = None
    timeout_s: float = 60.0
    max_attempts: int = 8
    concurrency: int = 4
    page_size: int = 2000
    in_batch: int = 200
    file_categories: frozenset[FileCategory] = frozenset()
    file_concurrency: int = 4
    image_downsample: int = 0
    convert: bool = True
    ephys_features: bool = True
    ephys_definitions: str = "allen2016"
    feature_workers: int = 2
    morphology_features: bool = True
    glif_metrics: bool = True
    glif_voltages: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, limit: int | None) -> SyncConfig:
        return cls(
            api_base=settings.api.base_url.rstrip("/"),
            root=Path(settings.root).resolve(),
            warehouse_url=settings.warehouse_url(),
            limit=limit,
            timeout_s=settings.api.timeout_s,
            max_attempts=settings.api.max_attempts,
            concurrency=settings.api.concurrency,
            page_size=settings.api.page_size,
            in_batch=settings.api.in_batch,
            file_categories=parse_categories(settings.files.categories),
            file_concurrency=settings.files.concurrency,
            image_downsample=settings.files.image_downsample,
            convert=settings.files.convert,
            ephys_features=settings.features.ephys,
            ephys_definitions=settings.features.ephys_definitions,
            feature_workers=settings.features.workers,
            morphology_features=settings.features.morphology,
            glif_metrics=settings.features.glif,
            glif_voltages=settings.features.glif_voltages,
        )

    @property
    def staging_root(self) -> Path:
        return self.root / "staging"


@dataclass(frozen=True)
class RunHandle:
    sync_id: str
    resumed: bool
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class SyncResult:
    sync_id: str
    resumed: bool
    api_base: str
    extract: ExtractReport
    load: LoadReport
    files: DownloadReport
    conversions: ConvertReport
    seconds: float
    features: FeatureReport = field(default_factory=FeatureReport)
    models: ModelMetricsReport = field(default_factory=ModelMetricsReport)

    @property
    def requests(self) -> int:
        return self.extract.requests

    @property
    def errors(self) -> tuple[object, ...]:
        return (*self.extract.errors, *self.files.failures, *self.conversions.failures,
                *self.features.all_failures, *self.models.failures)


def new_sync_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def preflight(config: SyncConfig) -> None:
    """Fail fast, with one line, when the warehouse cannot be opened or the API cannot be reached.

    Without this an unreachable API would cost every request its full retry budget (minutes)
    before the run ended with nothing but errors.
    """
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.migrate import prepare_warehouse

    config.root.mkdir(parents=True, exist_ok=True)
    engine = create_warehouse_engine(config.warehouse_url)
    try:
        prepare_warehouse(engine)
    finally:
        engine.dispose()
    with RmaClient(config.api_base, timeout=min(config.timeout_s, 15.0), max_attempts=2,
                   concurrency=1) as client:
        try:
            client.query("model::WellKnownFileType,rma::options[num_rows$eq1]")
        except ApiError as exc:
            raise ApiError(f"cannot use the API at {config.api_base}: {exc}",
                           url=exc.url) from None


def open_run(config: SyncConfig) -> RunHandle:
    """Prepare the warehouse, then resume the interrupted run or begin a new one."""
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.migrate import prepare_warehouse
    from ctmirror.warehouse.runs import begin_sync_run, unfinished_sync_run

    config.root.mkdir(parents=True, exist_ok=True)
    engine = create_warehouse_engine(config.warehouse_url)
    try:
        prepare_warehouse(engine)
        previous = unfinished_sync_run(engine, api_base=config.api_base, limit=config.limit)
        if previous is not None:
            log.info("resuming interrupted sync %s", previous)
            return RunHandle(previous, resumed=True)
        sync_id = new_sync_id()
        begin_sync_run(engine, sync_id=sync_id, api_base=config.api_base, limit=config.limit)
        return RunHandle(sync_id, resumed=False)
    finally:
        engine.dispose()


def extract_stage(config: SyncConfig, sync_id: str,
                  progress: ProgressSink | None = None) -> ExtractReport:
    with RmaClient(config.api_base, timeout=config.timeout_s, max_attempts=config.max_attempts,
                   concurrency=config.concurrency) as client:
        return extract(client, config.staging_root, sync_id=sync_id, limit=config.limit,
                       progress=progress, page_size=config.page_size, in_batch=config.in_batch)


def load_stage(config: SyncConfig, sync_id: str) -> LoadReport:
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.load import load_staged

    engine = create_warehouse_engine(config.warehouse_url)
    try:
        return load_staged(engine, config.staging_root / sync_id)
    finally:
        engine.dispose()


def download_stage(config: SyncConfig, sync_id: str, *, progress: bool = False
                   ) -> DownloadReport:
    """Download every linked file of the chosen categories (see ``ctmirror.sync_files``)."""
    from ctmirror.sync_files import download_stage as download_files
    from ctmirror.warehouse.engine import create_warehouse_engine

    if not config.file_categories:
        return DownloadReport()
    engine = create_warehouse_engine(config.warehouse_url)
    try:
        arguments = dict(root=config.root, api_base=config.api_base, sync_id=sync_id,
                         categories=config.file_categories,
                         image_downsample=config.image_downsample,
                         concurrency=config.file_concurrency, timeout_s=config.timeout_s)
        if not progress:
            return download_files(engine, **arguments)
        from ctmirror.mirror import RichProgressSink, Throttled

        with RichProgressSink(description="files") as bar:
            return download_files(engine, **arguments, progress=Throttled(bar, 0.25))
    finally:
        engine.dispose()


def convert_stage(config: SyncConfig, sync_id: str) -> ConvertReport:
    """Convert new or changed files, then point the warehouse's views at the datasets."""
    from ctmirror.sync_convert import convert_stage as convert_files
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.views import publish_parquet_views

    engine = create_warehouse_engine(config.warehouse_url)
    try:
        report = convert_files(engine, root=config.root, sync_id=sync_id) if config.convert \
            else ConvertReport()
        publish_parquet_views(engine, config.root)
        return report
    finally:
        engine.dispose()


def features_stage(config: SyncConfig, sync_id: str) -> FeatureReport:
    """Recompute ephys features of new or changed recordings (see ``ctmirror.sync_features``) and
    morphology features of new or changed reconstructions (``ctmirror.sync_morphology``), then point
    the warehouse's views at the results."""
    from dataclasses import replace

    from ctmirror.sync_features import ephys_features_stage
    from ctmirror.sync_morphology import morphology_features_stage
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.views import (
        publish_comparison_view,
        publish_morphology_comparison_view,
        publish_parquet_views,
    )

    engine = create_warehouse_engine(config.warehouse_url)
    try:
        report = FeatureReport()
        if config.ephys_features and config.convert:
            report = ephys_features_stage(engine, root=config.root,
                                          definitions=config.ephys_definitions,
                                          workers=config.feature_workers)
        if config.morphology_features and config.convert:
            morphology = morphology_features_stage(engine, root=config.root)
            report = replace(report, morphology=morphology)
        publish_parquet_views(engine, config.root)
        publish_comparison_view(engine)
        publish_morphology_comparison_view(engine)
        return report
    finally:
        engine.dispose()


def models_stage(config: SyncConfig, sync_id: str) -> ModelMetricsReport:
    """Simulate GLIF models whose config or cell recording is new or changed and recompute
    their explained variance ratio (see ``ctmirror.sync_glif``), then refresh the views."""
    from ctmirror.sync_glif import glif_metrics_stage
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.views import publish_parquet_views

    engine = create_warehouse_engine(config.warehouse_url)
    try:
        report = ModelMetricsReport()
        if config.glif_metrics and config.convert:
            report = glif_metrics_stage(engine, root=config.root, workers=config.feature_workers,
                                        voltages=config.glif_voltages)
        publish_parquet_views(engine, config.root)
        return report
    finally:
        engine.dispose()


def finish_run(config: SyncConfig, handle: RunHandle, extracted: ExtractReport,
               loaded: LoadReport, files: DownloadReport | None = None,
               conversions: ConvertReport | None = None,
               features: FeatureReport | None = None,
               models: ModelMetricsReport | None = None) -> SyncResult:
    """Record the run's outcome and drop its staging package (the warehouse keeps raw JSON)."""
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.runs import finish_sync_run, record_sync_error

    files = files or DownloadReport()
    conversions = conversions or ConvertReport()
    features = features or FeatureReport()
    models = models or ModelMetricsReport()
    failed = (extracted.errors or files.failures or conversions.failures
              or features.all_failures or models.failures)
    status = "completed_with_errors" if failed else "succeeded"
    engine = create_warehouse_engine(config.warehouse_url)
    try:
        for error in extracted.errors:
            record_sync_error(engine, handle.sync_id, model=error.model, record_id=None,
                              url=error.url, message=error.message)
        for stage, failures in (("download", files.failures),
                                ("convert", conversions.failures),
                                ("features", features.all_failures),
                                ("models", models.failures)):
            for failure in failures:
                _record_file_failure(engine, handle.sync_id, stage, failure)
        finish_sync_run(engine, handle.sync_id, report=loaded, requests=extracted.requests,
                        status=status)
    finally:
        engine.dispose()
    shutil.rmtree(config.staging_root / handle.sync_id, ignore_errors=True)
    return SyncResult(
        sync_id=handle.sync_id,
        resumed=handle.resumed,
        api_base=config.api_base,
        extract=extracted,
        load=loaded,
        files=files,
        conversions=conversions,
        seconds=time.monotonic() - handle.started,
        features=features,
        models=models,
    )


#: The Allen model whose record links each kind of mirrored file.
_SOURCE_MODELS = {"well_known_file": "WellKnownFile", "model_package": "NeuronalModel",
                  "projection_image": "ProjectionImage", "sub_image": "SubImage"}


def _record_file_failure(engine: sa.Engine, sync_id: str, stage: str, failure: FileFailure) -> None:
    from ctmirror.warehouse.runs import record_sync_error

    record_sync_error(engine, sync_id, model=_SOURCE_MODELS.get(failure.source, failure.source),
                      record_id=failure.source_id, url=failure.url, message=failure.message,
                      stage=stage)


def run_sync_locally(config: SyncConfig, *, progress: bool = False) -> SyncResult:
    """The sync's stages in order, without Prefect."""
    preflight(config)
    handle = open_run(config)
    if progress:
        from ctmirror.sync_report import RichCrawlProgress

        with RichCrawlProgress() as sink:
            extracted = extract_stage(config, handle.sync_id, sink)
    else:
        extracted = extract_stage(config, handle.sync_id)
    loaded = load_stage(config, handle.sync_id)
    files = download_stage(config, handle.sync_id, progress=progress)
    conversions = convert_stage(config, handle.sync_id)
    features = features_stage(config, handle.sync_id)
    models = models_stage(config, handle.sync_id)
    return finish_run(config, handle, extracted, loaded, files, conversions, features, models)
