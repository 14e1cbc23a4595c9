"""The extract stage: run the crawl plan and write the staging package.

Models run one after another in dependency order; the batches of one model run concurrently on
the client's worker count. Each batch is a flat query paged by primary key, or, when it includes
join-table associations, one unpaged query whose pairs are staged beside its records. A page
already in the package is reused, so re-running a sync id fetches only what is missing. A page
whose answer is byte for byte the one the last crawl staged is taken from the page memo
(``ctmirror.crawl.page_memo``) without parsing it again. A batch that still fails after the
client's retries is recorded in the manifest, its model is marked incomplete, and the crawl
goes on with the rest.

A model is also marked not ``consistent`` when the answers contradict each other: a page that
starts at another row than asked, or a ``total_rows`` that disagrees with the rows the batch
received (an empty or short page in the middle of a model). That is not an error (``total_rows``
is unverified with ``count$eqfalse``) but it is not evidence either: the load removes no record
of such a model.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ctmirror.crawl.page_memo import MemoPage, PageMemo
from ctmirror.crawl.plan import DEFAULT_PLAN, ModelStep, Resource, execution_order, key_fields
from ctmirror.crawl.progress import (
    BatchFailed,
    CrawlEvent,
    ModelDone,
    ModelStarted,
    NullSink,
    PageDone,
    ProgressSink,
)
from ctmirror.crawl.records import Record, flat_record, int_values, link_pairs
from ctmirror.crawl.staging import ErrorEntry, Manifest, StagingPackage, page_key
from ctmirror.errors import ConfigError, CtMirrorError, RmaError
from ctmirror.rma.client import RmaClient
from ctmirror.rma.envelope import RmaResponse
from ctmirror.rma.paginator import OffsetPaginator, PageRequest, paged_query
from ctmirror.rma.query import model_stage, query_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractError:
    model: str
    url: str
    message: str


@dataclass(frozen=True)
class ModelReport:
    rows: int
    pages_fetched: int
    pages_reused: int
    complete: bool
    full_scope: bool
    consistent: bool = True
    #: The rows the API says the model has (``total_rows`` summed over its batches), known
    #: only when the crawl was complete, in full scope and consistent and every page of it
    #: was fetched by this process (a page reused from an interrupted run kept no total).
    api_total_rows: int | None = None

    @property
    def pages(self) -> int:
        return self.pages_fetched + self.pages_reused


@dataclass(frozen=True)
class ExtractReport:
    sync_id: str
    package: Path
    models: Mapping[str, ModelReport]
    requests: int
    errors: tuple[ExtractError, ...]

    @property
    def complete(self) -> bool:
        return all(m.complete for m in self.models.values())

    @property
    def pages_fetched(self) -> int:
        return sum(m.pages_fetched for m in self.models.values())

    @property
    def pages_reused(self) -> int:
        return sum(m.pages_reused for m in self.models.values())


@dataclass
class _BatchResult:
    """What one batch leaves behind: keys and id fields, never the records themselves."""

    primary_keys: set[object] = field(default_factory=set)
    ids: dict[str, set[int]] = field(default_factory=dict)
    pages_fetched: int = 0
    pages_reused: int = 0
    error: ExtractError | None = None
    rows: int = 0
    #: Why the fetched pages contradict each other, if they do.
    inconsistency: str | None = None
    #: The batch's ``total_rows`` when its pages were all fetched and agreed on one.
    api_total_rows: int | None = None


@dataclass(frozen=True)
class _Fetched:
    """One page as fetched: the API's answer, or the memo's summary of the same answer, or
    (both None) the rows and pairs a resumed run staged."""

    url: str
    key: str
    rows: list[Record] | None
    pairs: dict[str, list[tuple[int, int]] | None]
    response: RmaResponse | None
    memo: MemoPage | None = None


class _SerialSink:
    """Serialises calls from worker threads into the caller's sink."""

    def __init__(self, sink: ProgressSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def __call__(self, event: CrawlEvent) -> None:
        with self._lock:
            self._sink(event)


class _Crawl:
    def __init__(self, client: RmaClient, package: StagingPackage, *, limit: int | None,
                 page_size: int, in_batch: int, plan: Sequence[Resource],
                 sink: ProgressSink, pages: Executor, memo: PageMemo) -> None:
        self.client = client
        self.memo = memo
        #: (model, page key) of every page staged by this crawl, for the memo to keep.
        self.visited: set[tuple[str, str]] = set()
        self._visited_lock = threading.Lock()
        #: Runs the requests of pages asked ahead (never anything that waits on a page).
        self.pages = pages
        self.package = package
        self.limit = limit
        self.page_size = page_size
        self.in_batch = in_batch
        self.sink = sink
        self.key_fields = key_fields(plan)
        # model -> field -> ids, for the models later resources take ids from
        self.ids: dict[str, dict[str, set[int]]] = {}
        self.complete: dict[str, bool] = {}
        self.full_scope: dict[str, bool] = {}

    def run_step(self, step: ModelStep, pool: Executor) -> tuple[ModelReport, list[ExtractError]]:
        batches = [
            (resource, criteria)
            for resource in step.resources
            for criteria in resource.batch_criteria(self._source_ids(resource), self.in_batch)
        ]
        self.sink(ModelStarted(step.model, len(batches)))
        futures = [pool.submit(self._run_batch, resource, crit) for resource, crit in batches]
        results = [f.result() for f in futures]

        keys: set[object] = set()
        ids: dict[str, set[int]] = {name: set() for name in self.key_fields.get(step.model, ())}
        errors = [r.error for r in results if r.error is not None]
        for result in results:
            keys |= result.primary_keys
            for name, values in result.ids.items():
                ids[name] |= values
        self.ids[step.model] = ids
        # Ids of an incomplete parent are incomplete too, so the child cannot be complete.
        complete = not errors and all(self.complete[m] for m in step.depends_on)
        full_scope = all(self._full_scope(r) for r in step.resources)
        inconsistent = [r.inconsistency for r in results if r.inconsistency]
        for reason in inconsistent:
            log.warning("%s - %s; no record of it will be marked removed", step.model, reason)
        self.complete[step.model] = complete
        self.full_scope[step.model] = full_scope
        totals = [r.api_total_rows for r in results]
        trusted = complete and full_scope and not inconsistent and None not in totals
        report = ModelReport(
            rows=len(keys),
            pages_fetched=sum(r.pages_fetched for r in results),
            pages_reused=sum(r.pages_reused for r in results),
            complete=complete,
            full_scope=full_scope,
            consistent=not inconsistent,
            api_total_rows=sum(t for t in totals if t is not None) if trusted else None,
        )
        self.sink(ModelDone(step.model, report.rows, report.pages, complete))
        return report, errors

    def _source_ids(self, resource: Resource) -> set[int]:
        out: set[int] = set()
        for source in resource.sources:
            out |= self.ids[source.model][source.field]
        return out

    def _full_scope(self, resource: Resource) -> bool:
        if self.limit is None:
            return True
        return not resource.cells and all(self.full_scope[s.model] for s in resource.sources)

    def _run_batch(self, resource: Resource, criteria: str) -> _BatchResult:
        result = _BatchResult(ids={name: set() for name in self.key_fields.get(resource.model, ())})
        paginator = OffsetPaginator(self.page_size, self.limit if resource.cells else None)
        url = ""
        totals: set[int] = set()

        def fetch(request: PageRequest | None) -> _Fetched:
            """The page's answer, or its staged rows and pairs when a resumed run has them."""
            q = _batch_query(resource, request, criteria)
            url = self.client.url_for(q)
            key = page_key(query_path(q))
            rows = self.package.read_page(resource.model, key)
            pairs = {name: self.package.read_links(resource.model, name, key)
                     for name in resource.links}
            if rows is not None and None not in pairs.values():
                return _Fetched(url, key, rows, pairs, None)
            known = self.memo.get(resource.model, key)
            answer = self.client.fetch_or_reuse(
                url, lambda body_sha256: known if known is not None
                and known.body_sha256 == body_sha256 else None)
            if isinstance(answer, MemoPage):
                return _Fetched(url, key, None, pairs, None, answer)
            return _Fetched(url, key, None, pairs, answer)

        def take(request: PageRequest | None, fetched: _Fetched) -> list[object]:
            """The page's primary keys (one per record); its ids go into ``result``."""
            nonlocal url
            url = fetched.url
            page = fetched.memo
            if page is not None and not self.memo.restore(self.package, resource.model,
                                                          fetched.key, resource.links):
                page = None  # the memo lost a file: stage the answer afresh
            if page is None and fetched.rows is None:
                page = self._stage(resource, fetched.key, fetched.response
                                   or self.client.fetch(url))
            if page is not None:
                started = 0 if request is None else request.start_row
                if page.start_row is not None and page.start_row != started:
                    result.inconsistency = (f"a page asked from row {started} "
                                            f"started at row {page.start_row}")
                # With included associations the API counts joined rows: no evidence.
                if page.total_rows is not None and not resource.links:
                    totals.add(page.total_rows)
                result.pages_fetched += 1
                with self._visited_lock:
                    self.visited.add((resource.model, fetched.key))
            else:
                assert fetched.rows is not None
                page = _summary(resource, fetched.rows, fetched.pairs,
                                self.key_fields.get(resource.model, ()), "", None)
                result.pages_reused += 1
            for name, values in page.ids.items():
                result.ids[name].update(values)
            self.sink(PageDone(resource.model, len(page.keys), fetched.rows is not None))
            return list(page.keys)

        def pages() -> Iterator[Sequence[object]]:
            if resource.links:
                yield take(None, fetch(None))
            else:
                # Pages of one batch are requested ahead, as many as the client has
                # connections, so a model of many pages is not one request at a time.
                yield from (rows for _, rows in paginator.walk_ahead(
                    fetch, take, lambda call: self.pages.submit(call),
                    self.client.concurrency,
                    guess_rows=_guess_rows))

        try:
            for keys in pages():
                result.rows += len(keys)
                result.primary_keys.update(keys)
            capped = paginator.max_rows is not None and result.rows == paginator.max_rows
            for total in totals:
                if total != result.rows and not (capped and total > result.rows):
                    result.inconsistency = (f"the API counted {total} rows but sent "
                                            f"{result.rows} ({url})")
            if len(totals) == 1 and not result.pages_reused:
                result.api_total_rows = totals.pop()
        except CtMirrorError as exc:
            log.warning("%s - batch failed: %s", resource.name, exc)
            result.error = ExtractError(resource.model, getattr(exc, "url", None) or url, str(exc))
            self.sink(BatchFailed(resource.model, result.error.url, result.error.message))
        return result

    def _stage(self, resource: Resource, key: str, response: RmaResponse) -> MemoPage:
        """Stage a parsed answer (pairs first) and remember it in the memo."""
        pairs: dict[str, list[tuple[int, int]] | None] = {}
        for name in resource.links:
            pairs[name] = link_pairs(resource.model, response.rows, name)
            self.package.write_links(resource.model, name, key, pairs[name] or [])
        rows = [flat_record(resource.model, r) for r in response.rows]
        self._check_keys(resource, rows, response.url)
        self.package.write_page(resource.model, key, rows)
        page = _summary(resource, rows, pairs, self.key_fields.get(resource.model, ()),
                        response.body_sha256 or "", response)
        if response.body_sha256 is not None:
            self.memo.put(self.package, resource.model, key, resource.links, page)
        return page

    @staticmethod
    def _check_keys(resource: Resource, rows: list[Record], url: str) -> None:
        key = resource.primary_key
        if any(r.get(key) is None for r in rows):
            raise RmaError(f"{resource.model} records without {key!r}: cannot stage them", url=url)


def extract(
    client: RmaClient,
    staging_root: Path,
    *,
    sync_id: str,
    limit: int | None = None,
    progress: ProgressSink | None = None,
    page_size: int = 2000,
    in_batch: int = 200,
    plan: Sequence[Resource] = DEFAULT_PLAN,
) -> ExtractReport:
    """Crawl the API into ``staging_root/<sync_id>/`` and return what was done.

    ``limit`` keeps the first N cells (by specimen id) and only their linked records. Running
    again with the same ``sync_id`` reuses every page already staged.
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1 cell, got {limit}")
    if page_size < 1 or in_batch < 1:
        raise ConfigError("page_size and in_batch must be at least 1")
    steps = execution_order(plan)
    package = StagingPackage(staging_root, sync_id)
    previous = package.read_manifest()
    if previous is not None and previous["limit"] != limit:
        raise ConfigError(
            f"sync {sync_id} was started with limit={previous['limit']}; resume it with the "
            "same limit or start a new sync id"
        )
    requests_before = client.requests
    earlier_requests = previous["requests"] if previous else 0
    manifest: Manifest = {
        "sync_id": sync_id,
        "api_base": client.base_url,
        "started_at": previous["started_at"] if previous
        else _now(),
        "finished_at": None,
        "limit": limit,
        "requests": earlier_requests,
        "models": {},
        "errors": [],
    }
    package.write_manifest(manifest)

    models: dict[str, ModelReport] = {}
    errors: list[ExtractError] = []
    with ThreadPoolExecutor(max_workers=client.concurrency,
                            thread_name_prefix="ctmirror-extract") as pool, \
            ThreadPoolExecutor(max_workers=client.concurrency,
                               thread_name_prefix="ctmirror-pages") as pages:
        crawl = _Crawl(client, package, limit=limit, page_size=page_size, in_batch=in_batch,
                       plan=plan, sink=_SerialSink(progress or NullSink()), pages=pages,
                       memo=PageMemo(staging_root))
        for step in steps:
            report, step_errors = crawl.run_step(step, pool)
            models[step.model] = report
            errors.extend(step_errors)
            manifest["models"][step.model] = {
                "complete": report.complete,
                "full_scope": report.full_scope,
                "consistent": report.consistent,
                "rows": report.rows,
                "pages": report.pages,
                "api_total_rows": report.api_total_rows,
            }
            manifest["errors"] = [_error_entry(e) for e in errors]
            manifest["requests"] = earlier_requests + client.requests - requests_before
            package.write_manifest(manifest)
    manifest["finished_at"] = _now()
    package.write_manifest(manifest)
    if not errors and previous is None and limit is None:
        # Pages this crawl did not ask for are no longer asked for (a resumed run reused
        # some pages without visiting them: it keeps the memo whole).
        crawl.memo.keep_only(crawl.visited)

    return ExtractReport(
        sync_id=sync_id,
        package=package.root,
        models=models,
        requests=client.requests - requests_before,
        errors=tuple(errors),
    )


def _summary(resource: Resource, rows: list[Record],
             pairs: Mapping[str, list[tuple[int, int]] | None], id_fields: Iterable[str],
             body_sha256: str, response: RmaResponse | None) -> MemoPage:
    """What the crawl takes from a page: its records' keys and the ids of ``id_fields`` found
    in the records or as targets of the page's pairs."""
    ids = {}
    for name in id_fields:
        found = int_values(rows, name)
        found.update(target for _, target in pairs.get(name) or ())
        ids[name] = sorted(found)
    return MemoPage(body_sha256,
                    None if response is None else response.start_row,
                    None if response is None else response.total_rows,
                    [r[resource.primary_key] for r in rows], ids)


def _guess_rows(fetched: _Fetched) -> float:
    """How far pages may be requested ahead after ``fetched``: up to the rows the API counted
    (a short last page then costs no request past it), not at all after a page a resumed run
    kept."""
    answer = fetched.response or fetched.memo
    if answer is None:
        return 0
    total = answer.total_rows
    return math.inf if total is None else total


def _batch_query(resource: Resource, request: PageRequest | None, criteria: str) -> str:
    """One page of a flat batch, or (``request`` None) the whole batch of a resource that
    includes join-table associations: RMA would page its joined rows, not its records."""
    if request is not None:
        return paged_query(resource.model, request, criteria=[criteria] if criteria else (),
                           primary_key=resource.primary_key)
    return model_stage(resource.model, criteria=criteria or None, include=list(resource.links),
                       num_rows="all", order=[f"'{resource.primary_key}'"], count=False)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _error_entry(error: ExtractError) -> ErrorEntry:
    return {"model": error.model, "url": error.url, "message": error.message}


__all__ = ["ExtractError", "ExtractReport", "ModelReport", "extract"]
