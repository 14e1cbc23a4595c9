"""Paging: stop on a short page, advance by page length, never trust total_rows."""

from __future__ import annotations

import json
import re
import urllib.parse

import httpx
import pytest

from ctmirror.errors import RmaError
from ctmirror.rma.client import RmaClient
from ctmirror.rma.paginator import OffsetPaginator, PageRequest, iter_rows, paged_query

BASE = "http://api.example.test"


def paging_server(rows: list[dict[str, int]], *, total_rows: int, ignore_paging: bool = False,
                  seen: list[tuple[int, int]] | None = None) -> httpx.MockTransport:
    """Serves ``rows`` by start_row/num_rows and reports a made-up ``total_rows``."""

    def handle(request: httpx.Request) -> httpx.Response:
        q = urllib.parse.unquote(request.url.query.decode())
        start = int(re.search(r"\[start_row\$eq(\d+)\]", q).group(1))  # type: ignore[union-attr]
        size = int(re.search(r"\[num_rows\$eq(\d+)\]", q).group(1))  # type: ignore[union-attr]
        if seen is not None:
            seen.append((start, size))
        page = rows if ignore_paging else rows[start:start + size]
        body = {"success": True, "id": 0, "start_row": start, "num_rows": len(page),
                "total_rows": total_rows, "msg": page}
        return httpx.Response(200, content=json.dumps(body),
                              headers={"content-type": "application/json"})

    return httpx.MockTransport(handle)


def client_for(transport: httpx.MockTransport) -> RmaClient:
    return RmaClient(BASE, http=httpx.Client(transport=transport), sleep=lambda _: None)


def test_stops_on_a_short_page_even_when_total_rows_says_more() -> None:
    rows = [{"id": i} for i in range(1, 12)]
    seen: list[tuple[int, int]] = []
    client = client_for(paging_server(rows, total_rows=9440, seen=seen))
    got = list(iter_rows(client.query, "EphysSweep", page_size=5))
    assert got == rows
    assert seen == [(0, 5), (5, 5), (10, 5)]
    assert client.requests == 3


def test_does_not_stop_early_when_total_rows_says_less() -> None:
    # Atlas-Download-Tools#98: total_rows and the rows delivered disagree.
    rows = [{"id": i} for i in range(1, 10)]
    client = client_for(paging_server(rows, total_rows=3))
    assert [r["id"] for r in iter_rows(client.query, "SubImage", page_size=4)] == list(range(1, 10))


def test_exact_multiple_costs_one_empty_page() -> None:
    rows = [{"id": i} for i in range(6)]
    seen: list[tuple[int, int]] = []
    client = client_for(paging_server(rows, total_rows=6, seen=seen))
    assert len(list(iter_rows(client.query, "Donor", page_size=3))) == 6
    assert seen == [(0, 3), (3, 3), (6, 3)]


def test_max_rows_asks_only_for_the_rest() -> None:
    rows = [{"id": i} for i in range(100)]
    seen: list[tuple[int, int]] = []
    client = client_for(paging_server(rows, total_rows=100, seen=seen))
    got = list(iter_rows(client.query, "ApiCellTypesSpecimenDetail", primary_key="specimen__id",
                         page_size=4, max_rows=10))
    assert [r["id"] for r in got] == list(range(10))
    assert seen == [(0, 4), (4, 4), (8, 2)]


def test_a_server_that_ignores_paging_is_an_error_not_a_loop() -> None:
    rows = [{"id": i} for i in range(10)]
    client = client_for(paging_server(rows, total_rows=10, ignore_paging=True))
    with pytest.raises(RmaError, match="ignores paging"):
        list(iter_rows(client.query, "Donor", page_size=4))


def test_paged_query_is_flat_and_ordered_by_the_primary_key() -> None:
    q = paged_query("ApiCellTypesSpecimenDetail", PageRequest(2000, 2000),
                    primary_key="specimen__id")
    assert q == (
        "model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eq2000][start_row$eq2000]"
        "[order$eq'specimen__id'][count$eqfalse]"
    )
    q = paged_query("WellKnownFile", PageRequest(0, 50),
                    criteria=["[attachable_type$eq'EphysResult'][attachable_id$in1,2]"])
    assert q == (
        "model::WellKnownFile,rma::criteria,[attachable_type$eq'EphysResult'][attachable_id$in1,2],"
        "rma::options[num_rows$eq50][start_row$eq0][order$eq'id'][count$eqfalse]"
    )


def test_paginator_state_transitions() -> None:
    paginator = OffsetPaginator(page_size=10, max_rows=25)
    first = paginator.first()
    assert first == PageRequest(0, 10)
    second = paginator.next(first, 10)
    assert second == PageRequest(10, 10)
    third = paginator.next(second, 10)
    assert third == PageRequest(20, 5)
    assert paginator.next(third, 5) is None
    assert OffsetPaginator(10).next(PageRequest(0, 10), 9) is None
    assert OffsetPaginator(10, max_rows=0).first() is None


@pytest.mark.parametrize(("n_rows", "max_rows"), [(0, None), (3, None), (10, None), (23, None),
                                                   (23, 7), (30, 12)])
def test_walk_ahead_takes_the_pages_walk_takes_in_order(n_rows: int, max_rows: int | None
                                                         ) -> None:
    """Pages guessed ahead come back in order, the same as one at a time; a batch of one short
    page costs one request, a longer one at most ``depth - 1`` requests past its end."""
    from concurrent.futures import ThreadPoolExecutor

    rows = [{"id": i} for i in range(n_rows)]
    paginator = OffsetPaginator(5, max_rows)
    lock = __import__("threading").Lock()
    asked: list[int] = []

    def fetch(request: PageRequest) -> list[dict[str, int]]:
        with lock:
            asked.append(request.start_row)
        return rows[request.start_row:request.start_row + request.num_rows]

    taken: list[PageRequest] = []

    def take(request: PageRequest, page: list[dict[str, int]]) -> list[dict[str, int]]:
        taken.append(request)
        return page

    expected = list(paginator.walk(lambda r: rows[r.start_row:r.start_row + r.num_rows]))
    with ThreadPoolExecutor(3) as pool:
        got = list(paginator.walk_ahead(fetch, take, pool.submit, 3))
    assert got == expected
    assert taken == [request for request, _ in expected]
    assert set(r.start_row for r in taken) <= set(asked)
    assert len(asked) <= len(taken) + (2 if len(taken) > 1 else 0)
    if len(expected) == 1:
        assert asked == [0]


@pytest.mark.parametrize("n_rows", [3, 10, 23])
def test_walk_ahead_guesses_no_page_past_the_rows_the_api_counted(n_rows: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rows = list(range(n_rows))
    paginator = OffsetPaginator(5)
    asked: list[int] = []

    def fetch(request: PageRequest) -> list[int]:
        asked.append(request.start_row)
        return rows[request.start_row:request.start_row + request.num_rows]

    with ThreadPoolExecutor(3) as pool:
        got = list(paginator.walk_ahead(fetch, lambda _, page: page, pool.submit, 4,
                                        guess_rows=lambda _: n_rows))
    assert sorted(asked) == [request.start_row for request, _ in got]
    assert [row for _, page in got for row in page] == rows
