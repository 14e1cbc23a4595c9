"""The stages of one sync, in order (``STEPS``): extract, load, download, convert, and the derived
stages (``ctmirror.stages``), between opening the run and finishing it.

``run_sync_locally`` runs them in-process and ``flows/sync.py`` as Prefect tasks, both from
``STEPS``; a stage's name is the same in both, in the CLI's summary, in its report and in
``sync_errors.stage``. The warehouse is the state: a run whose row in ``sync_runs`` still says
``running`` was interrupted, and the next sync resumes it (same ``sync_id``, staged pages
reused), so a killed sync and an uninterrupted one end in the same final state.

One sync at a time per warehouse: ``run_lock`` is held from before the run is opened until it
is finished. A stage that raises closes the run out as ``failed`` with the error's first line
(``close_out``); a ``running`` run the lock holder cannot resume is marked ``abandoned``.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ctmirror.crawl import CrawlEvent, ExtractReport, ModelDone, ProgressSink, extract
from ctmirror.errors import ApiDownError, ApiError, CtMirrorError
from ctmirror.rma import RmaClient
from ctmirror.settings import SyncConfig
from ctmirror.stages import DerivedStage, StageReport, run_stage
from ctmirror.sync_biophys import BiophysicalMetrics
from ctmirror.sync_convert import Convert
from ctmirror.sync_features import EphysFeatures
from ctmirror.sync_glif import GlifMetrics
from ctmirror.sync_morphology import MorphologyFeatures
from ctmirror.warehouse.data_tests import DataTestContext, DataTestResults, run_data_tests
from ctmirror.warehouse.load import LoadReport
from ctmirror.warehouse.published import PublishedCopy

log = logging.getLogger(__name__)

Report = ExtractReport | LoadReport | StageReport


@dataclass(frozen=True)
class Step:
    """One stage of the sync, by the one name it goes by everywhere."""

    name: str
    #: ``(config, sync_id, show progress) -> report``
    run: Callable[[SyncConfig, str, bool], Report]
    #: Requests the Allen API: tagged ``allen-api`` in the flow, retried on transient errors.
    uses_api: bool = False
    #: The derived stage it runs, if it is one.
    stage: type[DerivedStage[Any, Any, Any]] | None = None


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
    #: The reports of the stages after the load, by name, in order.
    stages: Mapping[str, StageReport]
    seconds: float
    #: The data tests run at the end of the sync (``ctmirror.warehouse.data_tests``).
    data_tests: DataTestResults = field(default_factory=DataTestResults)
    #: The read-only copy readers open (DuckDB only).
    published: PublishedCopy | None = None
    #: Wall-clock seconds of each stage, retries included, by name, in order.
    stage_seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.extract.requests

    @property
    def errors(self) -> tuple[object, ...]:
        return (*self.extract.errors,
                *(failure for report in self.stages.values() for failure in report.failures))


@contextmanager
def _warehouse(config: SyncConfig) -> Iterator[sa.Engine]:
    from ctmirror.warehouse.engine import SYNC_DUCKDB_MEMORY, create_warehouse_engine

    engine = create_warehouse_engine(config.warehouse_url, mirror_root=config.root,
                                     memory_limit=SYNC_DUCKDB_MEMORY)
    try:
        yield engine
    finally:
        engine.dispose()


def new_sync_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def preflight(config: SyncConfig) -> None:
    """Fail fast, with one line, when the warehouse cannot be opened or the API cannot be reached.

    Without this an unreachable API would cost every request its full retry budget (minutes)
    before the run ended with nothing but errors.
    """
    with _removed_on_failure(config):
        _preflight(config)


@contextmanager
def locked_and_checked(config: SyncConfig) -> Iterator[None]:
    """Take the sync lock, run ``preflight``, and hold the lock for the block.

    A second sync of the mirror is refused before it touches the warehouse; a failed check
    leaves nothing behind in a root it created (the lock file included)."""
    with ExitStack() as held:
        with _removed_on_failure(config):
            held.enter_context(run_lock(config))
            _preflight(config)
        yield


@contextmanager
def _removed_on_failure(config: SyncConfig) -> Iterator[None]:
    """Remove the mirror root and DuckDB files the block created if it raises."""
    from ctmirror.warehouse.published import duckdb_file

    database = duckdb_file(config.warehouse_url)
    candidates = [config.root]
    if database is not None:
        candidates += [database.with_name(database.name + suffix)
                       for suffix in ("", ".wal", ".sync-lock")]
    created = [path for path in candidates if not path.exists()]
    try:
        yield
    except BaseException:
        for path in created:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def _preflight(config: SyncConfig) -> None:
    from ctmirror.warehouse.migrate import prepare_warehouse

    config.root.mkdir(parents=True, exist_ok=True)
    store = config.object_store
    if store is not None:
        store.check()
    with _warehouse(config) as engine:
        prepare_warehouse(engine)
    # The same retry policy as every other request: an API answering 429/503 at the start is
    # worth the same patience as one answering it half way; one that cannot be connected to
    # at all is given two attempts.
    with RmaClient(config.api_base, timeout=min(config.api.timeout_s, 15.0),
                   max_attempts=config.api.max_attempts, unreachable_attempts=2,
                   concurrency=1, auth=config.api_auth) as client:
        try:
            client.query("model::WellKnownFileType,rma::options[num_rows$eq1]")
        except ApiError as exc:
            raise ApiError(f"cannot use the API at {config.api_base}: {exc}",
                           url=exc.url) from None


def open_run(config: SyncConfig) -> RunHandle:
    """Check the warehouse and the API, then resume the interrupted run or begin a new one."""
    from ctmirror.warehouse.runs import (
        abandon_running_runs,
        begin_sync_run,
        unfinished_sync_run,
    )

    preflight(config)
    with _warehouse(config) as engine:
        previous = unfinished_sync_run(engine, api_base=config.api_base, limit=config.limit)
        for stale in abandon_running_runs(engine, keep=previous):
            log.warning("sync %s was left running by a process that is gone: marked abandoned",
                        stale)
        if previous is not None:
            log.info("resuming interrupted sync %s", previous)
            return RunHandle(previous, resumed=True)
        sync_id = new_sync_id()
        begin_sync_run(engine, sync_id=sync_id, api_base=config.api_base, limit=config.limit)
        return RunHandle(sync_id, resumed=False)


#: The warehouses whose sync lock this thread holds.
_held = threading.local()


@contextmanager
def run_lock(config: SyncConfig) -> Iterator[None]:
    """Hold the warehouse's sync lock for as long as the block runs (one sync at a time).

    Re-entrant in one thread: the CLI takes the lock before its checks and holds it through
    the flow it then runs (in the same thread), which takes it again; a sync in another thread
    or process is refused."""
    from ctmirror.warehouse.runs import run_lock as warehouse_lock

    held: frozenset[str] = getattr(_held, "urls", frozenset())
    if config.warehouse in held:
        yield
        return
    with warehouse_lock(config.warehouse_url):
        _held.urls = held | {config.warehouse}
        try:
            yield
        finally:
            _held.urls = held


@contextmanager
def close_out(config: SyncConfig, handle: RunHandle) -> Iterator[None]:
    """Mark the run ``failed`` with a one-line reason if the block raises (then re-raise).

    An interrupt (Ctrl-C) is treated as a kill -9 is: the run stays ``running`` and the next
    sync resumes it with the pages already staged.
    """
    try:
        yield
    except Exception as exc:
        from ctmirror.warehouse.runs import fail_sync_run

        reason = failure_reason(exc)
        try:
            with _warehouse(config) as engine:
                fail_sync_run(engine, handle.sync_id, reason=reason)
        except Exception as close_exc:  # the warehouse itself may be what failed
            log.warning("could not mark sync %s failed: %s", handle.sync_id, close_exc)
        shutil.rmtree(config.staging_root / handle.sync_id, ignore_errors=True)
        raise


def failure_reason(exc: BaseException) -> str:
    """What a failed run records and reports: the message of an error raised on purpose, else
    the exception's type and message."""
    return str(exc) if isinstance(exc, CtMirrorError) else f"{type(exc).__name__}: {exc}"


@dataclass
class RunTrace:
    """The run a ``notify_on_failure`` block is about, once it is opened."""

    sync_id: str | None = None


@contextmanager
def notify_on_failure(config: SyncConfig) -> Iterator[RunTrace]:
    """POST one failure notification (``ctmirror.notify``) if the block raises, then re-raise.

    Held inside the run lock: a sync refused because another one runs is no failure."""
    trace = RunTrace()
    try:
        yield trace
    except Exception as exc:
        from ctmirror.notify import notify_failure

        notify_failure(config, trace.sync_id, failure_reason(exc))
        raise


def api_down(config: SyncConfig, report: ExtractReport) -> ApiDownError | None:
    """The error to end the crawl with when not one of its queries got an answer."""
    if not report.errors or report.pages_fetched or report.pages_reused:
        return None
    first = report.errors[0]
    return ApiDownError(f"the API at {config.api_base} answered none of the sync's "
                        f"{len(report.errors)} queries ({config.api.max_attempts} attempts "
                        f"each); first error: {first.message}", url=first.url)


def _extract(config: SyncConfig, sync_id: str, progress: bool) -> ExtractReport:
    report = _crawl(config, sync_id, progress)
    down = api_down(config, report)
    if down is not None:
        raise down
    return report


def _crawl(config: SyncConfig, sync_id: str, progress: bool) -> ExtractReport:
    def log_model(event: CrawlEvent) -> None:
        if isinstance(event, ModelDone):
            log.info("%s: %d rows in %d pages%s", event.model, event.rows, event.pages,
                     "" if event.complete else " (incomplete)")

    api = config.api
    with RmaClient(config.api_base, timeout=api.timeout_s, max_attempts=api.max_attempts,
                   concurrency=api.concurrency, auth=config.api_auth) as client:
        def run(sink: ProgressSink) -> ExtractReport:
            return extract(client, config.staging_root, sync_id=sync_id, limit=config.limit,
                           progress=sink, page_size=api.page_size, in_batch=api.in_batch)

        if not progress:
            return run(log_model)
        from ctmirror.sync_report import RichCrawlProgress

        with RichCrawlProgress() as bar:
            def both(event: CrawlEvent) -> None:
                log_model(event)
                bar(event)

            return run(both)


def _load(config: SyncConfig, sync_id: str, progress: bool) -> LoadReport:
    from ctmirror.warehouse.load import load_staged

    with _warehouse(config) as engine:
        return load_staged(engine, config.staging_root / sync_id,
                           hold_share=config.removal_hold_share,
                           hold_min_rows=config.removal_hold_min_rows)


def _download(config: SyncConfig, sync_id: str, progress: bool) -> StageReport:
    """Download every linked file of the chosen categories (see ``ctmirror.sync_files``)."""
    from ctmirror.sync_files import download_files

    if not config.file_categories:
        return StageReport(DOWNLOAD)
    with _warehouse(config) as engine:
        if not progress:
            return download_files(engine, config, sync_id)
        from ctmirror.mirror import RichProgressSink, Throttled

        with RichProgressSink(description="download (bytes of all files)") as bar:
            return download_files(engine, config, sync_id, progress=Throttled(bar, 0.25))


def derived(stage: type[DerivedStage[Any, Any, Any]]) -> Step:
    """The step that runs a derived stage (see ``ctmirror.stages``)."""
    def run(config: SyncConfig, sync_id: str, progress: bool) -> StageReport:
        with _warehouse(config) as engine:
            instance = stage(engine, config)
            report = run_stage(instance)
            reason = None if instance.enabled() else instance.disabled_reason()
            return report if reason is None else replace(report, skipped=reason)

    return Step(stage.name, run, stage=stage)


EXTRACT, LOAD, DOWNLOAD = "extract", "load", "download"

#: The sync, between ``open_run`` and ``finish_run``.
STEPS: tuple[Step, ...] = (
    Step(EXTRACT, _extract, uses_api=True),
    Step(LOAD, _load),
    Step(DOWNLOAD, _download, uses_api=True),
    derived(Convert),
    derived(EphysFeatures),
    derived(MorphologyFeatures),
    derived(GlifMetrics),
    derived(BiophysicalMetrics),
)


def summary(report: Report) -> str:
    """One line about what a stage did."""
    if isinstance(report, ExtractReport):
        return (f"{report.requests} HTTP requests ({report.pages_fetched} pages fetched, "
                f"{report.pages_reused} reused from an interrupted run)")
    return report.summary()


#: The Allen model whose record links each kind of mirrored file.
_SOURCE_MODELS = {"well_known_file": "WellKnownFile", "model_package": "NeuronalModel",
                  "projection_image": "ProjectionImage", "sub_image": "SubImage"}


def run_steps(run: Callable[[Step], Report]
              ) -> tuple[dict[str, Report], dict[str, float]]:
    """Every stage in order through ``run``: their reports and wall-clock seconds by name."""
    reports: dict[str, Report] = {}
    seconds: dict[str, float] = {}
    for step in STEPS:
        started = time.monotonic()
        reports[step.name] = run(step)
        seconds[step.name] = time.monotonic() - started
    return reports, seconds


#: In ``sync_runs.data_tests`` of a sync that changed nothing: the run whose state the analyst
#: views and the published copy still hold.
UNCHANGED_SINCE = "unchanged_since"


def finish_run(config: SyncConfig, handle: RunHandle, reports: Mapping[str, Report],
               stage_seconds: Mapping[str, float] | None = None) -> SyncResult:
    """Publish the analyst views (materialized views refreshed in one transaction on
    PostgreSQL) with every description, run the data tests, record the run's outcome, then
    publish the DuckDB warehouse's read-only copy (the last step:
    ``ctmirror.warehouse.published``), and drop the run's staging package (the warehouse
    keeps raw JSON).

    A sync that provably changed nothing (``unchanged_since``) keeps the views and the published
    copy of the run it matches: they would come out the same. The data tests still run: they
    also catch damage done behind the sync's back (a file edited in the mirror)."""
    from ctmirror.warehouse.analyst import publish_analyst_layer
    from ctmirror.warehouse.published import publish_copy
    from ctmirror.warehouse.runs import finish_sync_run, record_sync_error

    extracted, loaded = reports[EXTRACT], reports[LOAD]
    assert isinstance(extracted, ExtractReport) and isinstance(loaded, LoadReport)
    stages = {name: report for name, report in reports.items()
              if isinstance(report, StageReport)}
    result = SyncResult(sync_id=handle.sync_id, resumed=handle.resumed,
                        api_base=config.api_base, extract=extracted, load=loaded,
                        stages=stages, seconds=time.monotonic() - handle.started,
                        stage_seconds=dict(stage_seconds or {}))
    published: PublishedCopy | None = None
    with _warehouse(config) as engine:
        same_as = unchanged_since(engine, handle.sync_id, extracted, loaded, stages)
        if same_as is None:
            publish_analyst_layer(engine)
        for error in extracted.errors:
            record_sync_error(engine, handle.sync_id, model=error.model, record_id=None,
                              url=error.url, message=error.message, stage=EXTRACT)
        for report in stages.values():
            for failure in report.failures:
                record_sync_error(engine, handle.sync_id,
                                  model=_SOURCE_MODELS.get(failure.source, failure.source),
                                  record_id=failure.source_id, url=failure.url,
                                  message=failure.message, stage=report.name)
        # After the derived stages and the views they read, before the run is recorded.
        tests = run_data_tests(DataTestContext(engine, config.root, loaded.models))
        outcome = tests.as_json()
        if same_as is not None:
            outcome[UNCHANGED_SINCE] = same_as
            log.info("nothing changed since sync %s: its analyst views and published copy "
                     "stand", same_as)
        log.info("data tests: %s", tests.summary())
        finish_sync_run(engine, handle.sync_id, report=loaded, requests=extracted.requests,
                        status="completed_with_errors"
                        if result.errors or loaded.quarantined or tests.failed else "succeeded",
                        data_tests=outcome, stage_seconds=result.stage_seconds)
        if same_as is None:
            published = publish_copy(engine, config.root)
    result = replace(result, data_tests=tests)
    shutil.rmtree(config.staging_root / handle.sync_id, ignore_errors=True)
    return replace(result, published=published)


def unchanged_since(engine: sa.Engine, sync_id: str, extracted: ExtractReport,
                    loaded: LoadReport, stages: Mapping[str, StageReport]) -> str | None:
    """The run whose published state this sync would reproduce, or None when that is not
    proven. Proof: no crawl error; the load inserted, updated, removed, restored, quarantined
    and held nothing; no later stage did, withdrew or failed anything; the previous finished
    run succeeded and its load hashed every model's pages to the same digests (the digest
    covers the pages, the crawl's manifest entry, the table's columns and the ctmirror
    version); and the published copy (DuckDB) holds that run, or the run it carried over."""
    from ctmirror.warehouse.engine import is_duckdb
    from ctmirror.warehouse.published import published_sync_id
    from ctmirror.warehouse.runs import previous_finished_run

    if extracted.errors or loaded.changed or loaded.quarantined or loaded.held:
        return None
    if any(r.done or r.withdrawn or r.failures for r in stages.values()):
        return None
    previous = previous_finished_run(engine, sync_id)
    if previous is None or previous.status != "succeeded":
        return None
    digests = {model: counts.package_digest for model, counts in loaded.models.items()}
    if None in digests.values() or digests != {
            model: counts.get("package_digest")
            for model, counts in previous.model_counts.items()}:
        return None
    published = str(previous.data_tests.get(UNCHANGED_SINCE, previous.sync_id))
    if is_duckdb(engine) and published_sync_id(engine) != published:
        return None
    return published


def run_sync_locally(config: SyncConfig, *, progress: bool = False) -> SyncResult:
    """The sync's stages in order, without Prefect (and so without its retries and timeouts:
    each request's own attempts still apply)."""
    with run_lock(config), notify_on_failure(config) as trace:
        handle = open_run(config)
        trace.sync_id = handle.sync_id
        with close_out(config, handle):
            reports, seconds = run_steps(lambda step: step.run(config, handle.sync_id,
                                                               progress))
            return finish_run(config, handle, reports, seconds)
