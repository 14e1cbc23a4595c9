"""The web routes beside the RMA API: static files with long caching and gzip, the token as a
bearer header or a cookie, and the API's paths untouched."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from ctmirror.serve.catalog import Catalog
from ctmirror.serve.engine import QueryEngine
from ctmirror.serve.server import TOKEN_COOKIE, ApiServer, run_in_thread
from ctmirror.serve.web import web_pages
from ctmirror.serve.web.pages import PLOTLY_JS, histograms_of
from tests.serve.test_hostile import StaticSource

TOKEN = "s3cret-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    catalog = Catalog("v1", QueryEngine.from_records({}), tmp_path, {})
    # the static routes never open the warehouse
    pages = web_pages(f"duckdb:///{tmp_path / 'absent.duckdb'}", tmp_path)
    served = ApiServer(StaticSource(catalog), ("127.0.0.1", 0), tokens=frozenset({TOKEN}),
                       pages=pages)
    with run_in_thread(served, "web-routes"):
        yield served


def test_pages_take_the_token_as_bearer_or_cookie(server: ApiServer) -> None:
    url = server.base_url + "/api/v2/data/query.json?q=model::Specimen"
    assert httpx.get(url).status_code == 401
    # the form that stores the token, and its script, need none
    assert "ctmirror_token" in httpx.get(server.base_url + "/web/static/login.js").text
    assert httpx.get(server.base_url + "/login").status_code == 200
    assert httpx.get(url, cookies={TOKEN_COOKIE: "wrong"}).status_code == 401
    assert httpx.get(url, cookies={TOKEN_COOKIE: TOKEN}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_plotly_is_served_compressed_and_cached_for_a_year(server: ApiServer) -> None:
    name = PLOTLY_JS
    whole = (resources.files("ctmirror.serve.web") / "static" / name).read_bytes()
    # the bundle PLOTLY.md names, unchanged
    assert hashlib.sha256(whole).hexdigest() in \
        (resources.files("ctmirror.serve.web") / "static" / "PLOTLY.md").read_text()
    with httpx.Client() as client:
        answer = client.get(f"{server.base_url}/web/static/{name}",
                            headers={"Accept-Encoding": "gzip"})
        raw = client.get(f"{server.base_url}/web/static/{name}",
                         headers={"Accept-Encoding": "identity"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert "max-age=31536000" in answer.headers["Cache-Control"]
    assert int(answer.headers["Content-Length"]) < len(whole) / 2
    assert answer.content == whole  # httpx inflates it
    assert gzip.compress(raw.content) and raw.content == whole


def test_unknown_paths_and_api_paths_keep_their_answers(server: ApiServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(server.base_url + "/web/static/nothing.js",
                     headers=headers).status_code == 404
    assert httpx.get(server.base_url + "/no/such/page", headers=headers).text == \
        "no such resource\n"
    answer = httpx.get(server.base_url + "/api/v2/data/query.json?q=model::Specimen",
                       headers=headers)
    assert answer.json()["success"] is True


def test_histograms_share_their_bins_and_count_every_finite_value() -> None:
    bins = histograms_of([1.0, 2.0, None, 3.0], [2.0, float("nan"), 11.0], bins=10)
    assert bins["width"] == 1.0  # 1 to 11 in ten bins
    assert bins["x"][0] == 1.5 and bins["x"][-1] == 10.5
    assert bins["published"] == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert bins["recomputed"] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert histograms_of([None], [])["published"] == []
