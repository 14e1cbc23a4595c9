"""Hostile requests to the served API: each gets the real API's error or a 4xx, never another
5xx or a crash, and never a byte from outside the served root."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ctmirror.serve.catalog import Catalog, FileKey, ServedFile
from ctmirror.serve.engine import QueryEngine
from ctmirror.serve.server import ApiServer, Limits, run_in_thread

SECRET = b"outside the mirror: never served"
CONTENT = b"0123456789" * 100


class StaticSource:
    """One fixed catalogue (no warehouse needed)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    description = "test catalogue"

    def current_version(self) -> str | None:
        return self.catalog.version

    def load(self) -> Catalog:
        return self.catalog


def _catalog(tmp_path: Path) -> Catalog:
    root = tmp_path / "mirror"
    (root / "files" / "1").mkdir(parents=True)
    (root / "files" / "1" / "cell.swc").write_bytes(CONTENT)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", root / "files" / "link.swc")
    files: dict[FileKey, ServedFile] = {
        ("well_known_file", 1): ServedFile("files/1/cell.swc", len(CONTENT), "ab" * 32,
                                           "Sat, 05 Dec 2026 08:00:00 GMT"),
        # index entries that point out of the root: never followed
        ("well_known_file", 2): ServedFile("../secret.txt", len(SECRET), "cd" * 32, "-"),
        ("well_known_file", 3): ServedFile("files/link.swc", len(SECRET), "ef" * 32, "-"),
        # listed but not on disk: the mirror lacks it
        ("well_known_file", 4): ServedFile("files/4/gone.nwb", 10, "01" * 32, "-"),
    }
    donors = [{"id": i, "name": f"donor {i}", "sex": "F"} for i in range(1, 31)]
    engine = QueryEngine.from_records({"Donor": donors})
    return Catalog("v1", engine, root, files)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ApiServer]:
    server = ApiServer(StaticSource(_catalog(tmp_path)), ("127.0.0.1", 0),
                       limits=Limits(max_rows=20))
    with run_in_thread(server, "hostile"):
        yield server


def _get(server: ApiServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.base_url + path, headers=headers)


@pytest.mark.parametrize("query", [
    "model::Donor,rma::criteria,[id$eq1",                  # unclosed filter
    "model::Donor,rma::criteria,[nope$eq1]",                # unknown attribute
    "model::Nope",                                          # unknown model
    "model::Donor,rma::options[num_rows$eq-1]",             # negative page
    "model::Donor,rma::criteria,[id$eq'1'';DROP TABLE x]",  # a quote inside a value
    "model::Donor,rma::options[num_rows$eqall]",            # more rows than the server's cap
])
def test_bad_queries_get_the_real_apis_error_envelope(served: ApiServer, query: str) -> None:
    answer = _get(served, f"/api/v2/data/query.json?q={query}")
    assert answer.status_code == 500
    body = answer.json()
    assert body["success"] is False and isinstance(body["msg"], str) and body["msg"]
    assert "Traceback" not in body["msg"]
    xml = _get(served, f"/api/v2/data/query.xml?q={query}")
    assert xml.status_code == 500 and xml.text.startswith("<?xml")


def test_an_overlong_request_line_is_a_414(served: ApiServer) -> None:
    host, port = served.server_address[:2]
    with socket.create_connection((str(host), port), timeout=30) as sock:
        sock.sendall(b"GET /api/v2/data/query.json?q=model::Donor," + b"x" * 200_000
                     + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 414")
    assert _get(served, "/healthz").status_code == 200


def test_the_row_cap_allows_a_page_under_it(served: ApiServer) -> None:
    body = _get(served, "/api/v2/data/query.json?q=model::Donor,"
                        "rma::options[num_rows$eq20][start_row$eq20]").json()
    assert (body["num_rows"], body["total_rows"]) == (10, 30)


@pytest.mark.parametrize("path", [
    "/api/v2/data/Nope/1.json",
    "/api/v2/well_known_file_download/../../secret.txt",
    "/api/v2/well_known_file_download/%2e%2e%2fsecret.txt",
    "/api/v2/well_known_file_download/1/../2",
    "/api/v2/well_known_file_download/-1",
    "/api/v2/well_known_file_download/99999999999999999999999999",
    "/api/v2/well_known_file_download/2",
    "/api/v2/well_known_file_download/3",
    "/api/v2/well_known_file_download/4",
    "/neuronal_model/download/1",
    "/files/1/cell.swc",
    "/../secret.txt",
])
def test_no_request_reaches_a_file_outside_the_mirror(served: ApiServer, path: str) -> None:
    answer = _get(served, path)
    assert answer.status_code in (404, 500), path
    assert SECRET not in answer.content and CONTENT not in answer.content
    if answer.status_code == 500:  # an unknown model: the query error envelope
        assert answer.json()["success"] is False


def test_a_missing_file_is_a_404_and_counted(served: ApiServer) -> None:
    for _ in range(2):
        assert _get(served, "/api/v2/well_known_file_download/4").status_code == 404
    assert _get(served, "/api/v2/well_known_file_download/777").status_code == 404
    health = _get(served, "/healthz").json()
    assert health["missing_files"] == {"well_known_file": 3}


@pytest.mark.parametrize(("header", "status", "content_range"), [
    ("bytes=1000-", 416, "bytes */1000"),
    ("bytes=5000-6000", 416, "bytes */1000"),
    ("bytes=-0", 416, "bytes */1000"),
    ("bytes=990-5000", 206, "bytes 990-999/1000"),
    ("bytes=9-3", 200, None),            # inverted: ignored, the whole file
    ("bytes=abc", 200, None),
    ("bytes=0-1,5-9", 200, None),        # several ranges: the whole file
])
def test_ranges_past_the_end_are_416_and_bad_ones_ignored(
    served: ApiServer, header: str, status: int, content_range: str | None
) -> None:
    answer = _get(served, "/api/v2/well_known_file_download/1", Range=header)
    assert answer.status_code == status
    assert answer.headers.get("Content-Range") == content_range
    if status == 200:
        assert answer.content == CONTENT
    if status == 206:
        assert answer.content == CONTENT[990:]


def test_etag_and_conditional_requests(served: ApiServer) -> None:
    first = _get(served, "/api/v2/well_known_file_download/1")
    assert first.headers["ETag"] == f'"{"ab" * 32}"'
    assert first.headers["Last-Modified"] == "Sat, 05 Dec 2026 08:00:00 GMT"
    again = _get(served, "/api/v2/well_known_file_download/1",
                 **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_a_thousand_concurrent_connections_are_all_answered(served: ApiServer) -> None:
    host, port = served.server_address[:2]
    request = (b"GET /api/v2/data/query.json?q=model::Donor,rma::criteria,[id$eq7] HTTP/1.1\r\n"
               b"Host: x\r\nConnection: close\r\n\r\n")
    sockets = [socket.create_connection((str(host), port), timeout=60) for _ in range(1_000)]
    try:
        for sock in sockets:
            sock.sendall(request)
        statuses = []
        for sock in sockets:
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            statuses.append(int(data.split(b" ", 2)[1]))
    finally:
        for sock in sockets:
            sock.close()
    assert set(statuses) == {200}
    # and the server still answers
    assert _get(served, "/healthz").json()["requests"] >= 1_000


def test_beyond_the_limits_clients_get_429_with_retry_after(tmp_path: Path) -> None:
    server = ApiServer(StaticSource(_catalog(tmp_path)), ("127.0.0.1", 0),
                       limits=Limits(max_connections=5, max_active=2, queue_wait_s=0.2))
    with run_in_thread(server, "limited"):
        host, port = server.server_address[:2]
        idle = [socket.create_connection((str(host), port)) for _ in range(20)]
        answer = httpx.get(server.base_url + "/api/v2/data/query.json?q=model::Donor")
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "5"
        for sock in idle:
            sock.close()
        for _ in range(50):  # the slots free up as the idle connections close
            if httpx.get(server.base_url + "/healthz").status_code == 200:
                break
        assert httpx.get(server.base_url + "/api/v2/data/query.json?q=model::Donor"
                         ).status_code == 200


def test_tokens_guard_everything_but_healthz(tmp_path: Path) -> None:
    server = ApiServer(StaticSource(_catalog(tmp_path)), ("127.0.0.1", 0),
                       tokens=frozenset({"s3cret-token"}))
    with run_in_thread(server, "tokens"):
        path = server.base_url + "/api/v2/well_known_file_download/1"
        assert httpx.get(path).status_code == 401
        assert httpx.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(path, headers={"Authorization": "Basic s3cret-token"}
                         ).status_code == 401
        ok = httpx.get(path, headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and ok.content == CONTENT
        health = httpx.get(server.base_url + "/healthz")
        assert health.status_code == 200 and json.loads(health.content)["unauthorized"] == 3
