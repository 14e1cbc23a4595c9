"""Offset paging over flat RMA queries.

RMA pages count joined database rows, so ``total_rows`` is wrong whenever the query joins
(``allen_api_spec.md`` §1.4). Paging is therefore only for flat queries (filters on the model's
own attributes, no include), ordered by the primary key, with ``start_row`` advancing by the
page length and a short page as the only end signal; paging never reads ``total_rows`` (the
crawl only compares it with the rows received, as evidence for removals).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from ctmirror.errors import RmaError
from ctmirror.rma.envelope import Record, RmaResponse
from ctmirror.rma.query import model_stage

T = TypeVar("T")
F = TypeVar("F")


@dataclass(frozen=True)
class PageRequest:
    start_row: int
    num_rows: int


@dataclass(frozen=True)
class OffsetPaginator:
    """Pages of ``page_size`` rows; with ``max_rows`` the last request asks only for the rest."""

    page_size: int
    max_rows: int | None = None

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {self.page_size}")
        if self.max_rows is not None and self.max_rows < 0:
            raise ValueError(f"max_rows must not be negative, got {self.max_rows}")

    def first(self) -> PageRequest | None:
        return self._request(0)

    def next(self, request: PageRequest, rows_returned: int) -> PageRequest | None:
        """The request after ``request`` returned ``rows_returned`` rows, or None at the end."""
        if rows_returned > request.num_rows:
            raise RmaError(
                f"the API returned {rows_returned} rows for num_rows={request.num_rows}; "
                "it ignores paging options, so this query cannot be paged"
            )
        if rows_returned < request.num_rows:
            return None
        return self._request(request.start_row + rows_returned)

    def _request(self, start_row: int) -> PageRequest | None:
        size = self.page_size
        if self.max_rows is not None:
            size = min(size, self.max_rows - start_row)
            if size <= 0:
                return None
        return PageRequest(start_row=start_row, num_rows=size)

    def walk(self, fetch: Callable[[PageRequest], Sequence[T]]) -> Iterator[
        tuple[PageRequest, Sequence[T]]
    ]:
        """Call ``fetch`` for each page in turn and yield (request, rows) until the end."""
        request = self.first()
        while request is not None:
            rows = fetch(request)
            yield request, rows
            request = self.next(request, len(rows))


    def walk_ahead(self, fetch: Callable[[PageRequest], F],
                   take: Callable[[PageRequest, F], Sequence[T]],
                   submit: Callable[[Callable[[], F]], Future[F]], depth: int,
                   guess_rows: Callable[[F], float] = lambda fetched: math.inf,
                   ) -> Iterator[tuple[PageRequest, Sequence[T]]]:
        """``walk`` with up to ``depth`` pages requested ahead of the one being taken.

        ``fetch`` (run through ``submit``, in other threads) only gets a page; ``take`` (in
        this thread, page after page in order) does everything else and returns its rows.
        The first page is fetched alone, so a batch of one short page costs one request;
        after a full page the next ``depth`` pages are requested on the guess that the pages
        before them are full too, which holds until the short page that ends the walk: the
        pages requested past it are never taken (their answers are dropped)."""
        request = self.first()
        ahead: deque[tuple[PageRequest, Future[F]]] = deque()
        try:
            while request is not None:
                if ahead:
                    guessed, future = ahead.popleft()
                    assert guessed == request, "a page guessed ahead is the next one"
                    fetched = future.result()
                else:
                    fetched = fetch(request)
                rows = take(request, fetched)
                yield request, rows
                request = self.next(request, len(rows))
                if request is None:
                    break
                bound = guess_rows(fetched)
                last = ahead[-1][0] if ahead else request
                if not ahead and request.start_row <= bound:
                    ahead.append((request, submit(partial(fetch, request))))
                while ahead and len(ahead) < depth:
                    guess = self._request(last.start_row + last.num_rows)
                    if guess is None or guess.start_row > bound:
                        break
                    ahead.append((guess, submit(partial(fetch, guess))))
                    last = guess
        finally:
            # Requests past the end (or after a failure) finish before the walk returns, so
            # none outlives the client; their answers and errors are dropped.
            for _, future in ahead:
                future.cancel()
            wait([future for _, future in ahead])


def paged_query(
    model: str, request: PageRequest, *, criteria: Sequence[str] = (), primary_key: str = "id"
) -> str:
    """A flat query for one page, ordered by the primary key, without a count query."""
    return model_stage(
        model,
        criteria=list(criteria) or None,
        num_rows=request.num_rows,
        start_row=request.start_row,
        order=[f"'{primary_key}'"],
        count=False,
    )


def iter_rows(
    query: Callable[[str], RmaResponse],
    model: str,
    *,
    criteria: Sequence[str] = (),
    primary_key: str = "id",
    page_size: int = 2000,
    max_rows: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Every record of a flat query, page by page (``query`` is usually ``RmaClient.query``)."""
    def fetch(request: PageRequest) -> list[Record]:
        return query(paged_query(model, request, criteria=criteria, primary_key=primary_key)).rows

    for _, rows in OffsetPaginator(page_size, max_rows).walk(fetch):
        yield from rows


__all__ = ["OffsetPaginator", "PageRequest", "iter_rows", "paged_query"]
