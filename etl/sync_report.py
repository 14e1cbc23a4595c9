"""What the CLI shows of a sync: a rich progress display while crawling, a summary after,
and `ctmirror status`."""

from __future__ import annotations

import textwrap
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ctmirror.crawl import (
    DEFAULT_PLAN,
    BatchFailed,
    CrawlEvent,
    ModelDone,
    ModelStarted,
    PageDone,
    execution_order,
)

if TYPE_CHECKING:
    from ctmirror.sync import SyncResult


class RichCrawlProgress:
    """A crawl progress sink: one bar over the crawl's models, rows and pages as they arrive."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<26}"),
            BarColumn(bar_width=8),  # room for the counts and the time at 80 columns
            TextColumn("{task.completed}/{task.total} models"),
            TextColumn("{task.fields[rows]:>7,} rows {task.fields[pages]:>4} pages"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(
            "crawl", total=len(execution_order(DEFAULT_PLAN)), rows=0, pages=0)
        self._models_done = 0

    def __enter__(self) -> RichCrawlProgress:
        self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()

    def __call__(self, event: CrawlEvent) -> None:
        task = self._progress.tasks[0]
        if isinstance(event, ModelStarted):
            self._progress.update(self._task, description=event.model)
        elif isinstance(event, PageDone):
            self._progress.update(self._task, rows=task.fields["rows"] + event.rows,
                                  pages=task.fields["pages"] + 1)
        elif isinstance(event, ModelDone):
            self._models_done += 1
            self._progress.update(self._task, completed=self._models_done)
        elif isinstance(event, BatchFailed):
            self._progress.console.print(f"[red]failed[/] {event.model}: {event.message}")


def print_sync_result(result: SyncResult, *, console: Console | None = None) -> None:
    from ctmirror.sync import EXTRACT, summary

    # a line is never broken mid-sentence (an error, a path): the terminal wraps it, if at all
    console = console or Console(soft_wrap=True)
    table = Table(title=f"sync {result.sync_id}" + (" (resumed)" if result.resumed else ""),
                  header_style="bold", box=box.SIMPLE_HEAD)
    # counts are never cut: a narrow terminal folds the model names instead
    table.add_column("model", overflow="fold")
    for col in ("rows", "inserted", "updated", "unchanged", "removed", "restored"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for model, counts in sorted(result.load.models.items()):
        table.add_row(model, str(counts.rows), str(counts.inserted), str(counts.updated),
                      str(counts.unchanged), str(counts.removed), str(counts.restored))
    console.print(table)
    console.print(f"extract: {summary(result.extract)} from {result.api_base}")
    console.print(f"load: {result.load.summary()}", markup=False)
    for name, report in result.stages.items():
        console.print(f"{name}: {report.summary()}")
    console.print(f"data tests: {result.data_tests.summary()}", markup=False)
    console.print(f"the sync took {result.seconds:.1f} s")
    if result.published is not None:
        console.print(f"published for readers: {result.published.summary()}")
    for error in result.extract.errors:
        console.print(f"[red]{EXTRACT} failed[/] {error.model}: {error.message} ({error.url})")
    for name, report in result.stages.items():
        for failure in report.failures:
            console.print(f"[red]{name} failed[/] {failure.source} {failure.source_id}: "
                          f"{failure.message}")


def summary_markdown(result: SyncResult) -> str:
    """The run summary a sync leaves in Prefect (a markdown artifact): the run's totals, then a
    table per model of what the load did, then a table per stage of what it did and its
    seconds. The same numbers are in ``sync_runs`` (``model_counts``, ``stage_seconds``)."""
    from ctmirror.sync import EXTRACT, LOAD

    errors = len(result.errors)
    lines = [
        f"# ctmirror sync {result.sync_id}" + (" (resumed)" if result.resumed else ""),
        "",
        f"- API: {result.api_base}",
        f"- requests: {result.requests:,} ({result.extract.pages_fetched:,} pages fetched, "
        f"{result.extract.pages_reused:,} reused)",
        f"- errors: {errors:,}; quarantined records: {result.load.quarantined:,}",
        f"- data tests: {result.data_tests.summary()}",
        f"- seconds: {result.seconds:,.1f}",
        "",
        "| model | rows | inserted | updated | unchanged | removed | restored |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for model, counts in sorted(result.load.models.items()):
        lines.append(f"| {model} | {counts.rows:,} | {counts.inserted:,} | {counts.updated:,} | "
                     f"{counts.unchanged:,} | {counts.removed:,} | {counts.restored:,} |")
    lines += ["", "| stage | done | failed | withdrawn | counts | seconds |",
              "|---|--:|--:|--:|---|--:|"]

    def seconds(name: str) -> str:
        value = result.stage_seconds.get(name)
        return "" if value is None else f"{value:,.1f}"

    lines.append(f"| {EXTRACT} | {result.extract.pages_fetched:,} pages | "
                 f"{len(result.extract.errors):,} | 0 | {result.requests:,} requests | "
                 f"{seconds(EXTRACT)} |")
    lines.append(f"| {LOAD} | {result.load.rows:,} rows | 0 | {result.load.removed:,} | "
                 f"{result.load.inserted:,} inserted, {result.load.updated:,} updated | "
                 f"{seconds(LOAD)} |")
    for name, report in result.stages.items():
        own = ", ".join(f"{value:,.{0 if float(value).is_integer() else 1}f} "
                        f"{key.replace('_', ' ')}" for key, value in report.counts.items())
        lines.append(f"| {name} | {report.done:,} of {report.pending:,} | "
                     f"{len(report.failures):,} | {report.withdrawn:,} | {own} | "
                     f"{seconds(name)} |")
    return "\n".join(lines) + "\n"


def print_status(engine: sa.Engine, *, runs: int, console: Console | None = None) -> None:
    from ctmirror.warehouse.mirror_files import unserved_files
    from ctmirror.warehouse.runs import (
        latest_runs,
        recent_errors,
        recent_quarantine,
        table_counts,
    )

    console = console or Console(soft_wrap=True)
    # one line per run and one of its counts, each named: fits any terminal, never cut
    console.print("[bold]last sync runs[/]")
    latest = latest_runs(engine, runs)
    for run in latest:
        console.print(f"  {run.sync_id}  {_ts(run.started_at)} UTC  {run.status}",
                      highlight=False)
        tests = _data_tests(run.data_tests)
        console.print(textwrap.fill(
            f"{_n(run.requests)} requests; records: {_n(run.inserted)} inserted, "
            f"{_n(run.updated)} updated, {_n(run.unchanged)} unchanged, {_n(run.removed)} "
            f"removed, {_n(run.held_removals)} held, {_n(run.quarantined)} quarantined; "
            f"{_n(run.error_count)} errors" + (f"; data tests {tests}" if tests else ""),
            width=console.width, initial_indent="    ", subsequent_indent="    "),
            highlight=False)
    for run in latest:
        if run.reason:
            console.print(f"  {run.sync_id} {run.status}: {run.reason}")
        for name, failures in (run.data_tests or {}).get("failed", {}).items():
            console.print(f"  {run.sync_id} data test {name} failed: " + "; ".join(failures),
                          markup=False)
        if run.held_removals:
            console.print(f"  {run.sync_id}: {run.held_removals} removals held back as a "
                          "suspicious drop; the next sync applies them if it confirms them")
    counts = Table(title="rows per table", header_style="bold", box=box.SIMPLE_HEAD)
    counts.add_column("table")
    counts.add_column("current", justify="right")
    counts.add_column("removed upstream", justify="right")
    for name, current, removed in table_counts(engine):
        counts.add_row(name, str(current), str(removed))
    console.print(counts)
    with engine.connect() as conn:
        unserved = unserved_files(conn)
    if unserved.not_downloaded or unserved.removed_upstream:
        console.print(f"files `ctmirror serve` answers 404 for: {unserved.not_downloaded} "
                      f"WellKnownFiles not downloaded, {unserved.removed_upstream} files "
                      "removed upstream")
    quarantined = recent_quarantine(engine, 10)
    if quarantined:
        console.print("[bold]recently quarantined records[/] (sync_quarantine)")
        for row in quarantined:
            console.print(f"  {row.sync_id} {row.model} {row.record_id}: {row.reason}",
                          markup=False)
    errors = recent_errors(engine, 10)
    if errors:
        console.print("[bold]recent errors[/]")
        for err in errors:
            console.print(f"  {err.sync_id} {err.stage} {err.model}: {err.message}")


def _data_tests(outcome: dict[str, Any] | None) -> str:
    """``6 passed`` or ``1 of 6 failed`` (empty for a run that recorded none)."""
    if not outcome:
        return ""
    passed, failed = len(outcome.get("passed") or ()), len(outcome.get("failed") or ())
    return f"{failed} of {passed + failed} failed" if failed else f"{passed} passed"


def _n(count: int | None) -> str:
    return "-" if count is None else f"{count:,}"


def _ts(value: object) -> str:
    return "" if value is None else str(value)[:16]
