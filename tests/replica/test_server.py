"""The replica over HTTP: query formats and errors, file downloads with ranges and ETags,
path safety, section images, reload."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from PIL import Image

from ctmirror.errors import SnapshotError
from ctmirror.replica.server import serve_in_thread
from ctmirror.serve.engine import QueryEngine

from .tiny_snapshot import NWB_BYTES, SWC_BYTES, write_tiny_snapshot

SAFE = ";/?:@&=+$,"


def query_url(q: str, fmt: str = "json") -> str:
    """The request path exactly as AllenSDK encodes it."""
    import urllib.parse

    return urllib.parse.quote(f"/api/v2/data/query.{fmt}?q={q}", safe=SAFE)


@pytest.fixture(scope="module")
def module_replica(tiny_snapshot: Path) -> Iterator[Any]:
    with serve_in_thread(tiny_snapshot) as running:
        yield running


@pytest.fixture(scope="module")
def client(module_replica: Any) -> Iterator[httpx.Client]:
    # One client for the module: building an httpx client (its TLS context) is slow.
    with httpx.Client(base_url=module_replica.base_url, timeout=10) as http:
        yield http


def test_base_url_is_loopback_without_trailing_slash(module_replica: Any) -> None:
    assert module_replica.base_url.startswith("http://127.0.0.1:")
    assert not module_replica.base_url.endswith("/")


def test_json_envelope_key_order_and_values(client: httpx.Client) -> None:
    response = client.get(query_url("model::Specimen,rma::criteria,[id$in10,11],"
                                     "rma::options[num_rows$eq1][start_row$eq1]"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["success", "id", "start_row", "num_rows", "total_rows", "msg"]
    assert {k: v for k, v in body.items() if k != "msg"} == {
        "success": True, "id": 0, "start_row": 1, "num_rows": 1, "total_rows": 2}
    assert [r["id"] for r in body["msg"]] == [11]


def test_plus_in_an_order_spec_is_not_a_space(client: httpx.Client) -> None:
    url = query_url("model::Specimen,rma::options[order$eqname+desc]")
    assert "name+desc" in url
    names = [r["name"] for r in client.get(url).json()["msg"]]
    assert names == ["cell c", "Cell D", "Cell B", "Cell A;1"]


def test_criteria_parameter_is_accepted_like_q(client: httpx.Client) -> None:
    response = client.get("/api/v2/data/query.json",
                          params={"criteria": "model::Donor,rma::criteria,[id$eq2]"})
    assert response.json()["msg"] == [{"id": 2, "name": "D2"}]


def test_bad_query_is_http_500_with_the_error_envelope(client: httpx.Client) -> None:
    response = client.get(query_url("model::Specimen,rma::criteria,[id$xx1]"))
    assert response.status_code == 500
    body = response.json()
    assert list(body) == ["success", "id", "start_row", "num_rows", "total_rows", "msg"]
    assert body["success"] is False and body["id"] == -1 and body["num_rows"] == 0
    assert "unknown operator" in body["msg"]


def test_missing_query_is_an_error(client: httpx.Client) -> None:
    response = client.get("/api/v2/data/query.json")
    assert response.status_code == 500 and "no query" in response.json()["msg"]


def test_resource_by_id(client: httpx.Client) -> None:
    body = client.get("/api/v2/data/ApiCellTypesSpecimenDetail/12.json").json()
    assert [r["specimen__name"] for r in body["msg"]] == ["cell c"]
    assert client.get("/api/v2/data/Nope/1.json").status_code == 500


def test_csv_has_a_header_and_no_paging_information(client: httpx.Client) -> None:
    response = client.get(query_url("model::Specimen,rma::criteria,[id$in10,12]", "csv"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["id", "name", "donor_id", "structure_id", "ephys_result_id", "hemisphere",
         "is_cell_specimen"],
        ["10", "Cell A;1", "1", "778", "1001", "left", "true"],
        ["12", "cell c", "2", "385", "1003", "", "true"],
    ]


def test_csv_refuses_nested_records(client: httpx.Client) -> None:
    response = client.get(query_url("model::Specimen,rma::include,donor", "csv"))
    assert response.status_code == 500 and "CSV cannot hold" in response.json()["msg"]


def test_xml_uses_hyphenated_names(client: httpx.Client) -> None:
    response = client.get(query_url("model::ApiCellTypesSpecimenDetail,rma::criteria,"
                                    "[specimen__id$eq12]", "xml"))
    root = ET.fromstring(response.content)
    assert root.tag == "Response" and root.get("total_rows") == "1"
    (entity,) = root.find("api-cell-types-specimen-details")
    assert entity.tag == "api-cell-types-specimen-detail"
    assert entity.findtext("specimen--id") == "12"
    assert entity.find("ef--vrest").get("nil") == "true"


def test_file_download_headers_and_bytes(client: httpx.Client) -> None:
    response = client.get("/api/v2/well_known_file_download/5001")
    assert response.status_code == 200
    assert response.content == NWB_BYTES
    headers = response.headers
    assert headers["content-length"] == str(len(NWB_BYTES))
    assert headers["etag"] == f'"{hashlib.sha256(NWB_BYTES).hexdigest()}"'
    assert headers["content-type"] == "application/x-hdf5"
    assert headers["accept-ranges"] == "bytes"
    assert 'filename="1001_ephys.nwb"' in headers["content-disposition"]
    assert headers["last-modified"].endswith("GMT")


def test_head_sends_headers_only(client: httpx.Client) -> None:
    response = client.head("/api/v2/well_known_file_download/5005")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(SWC_BYTES))


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [("bytes=10-19", 10, 19), ("bytes=299990-", 299990, 299999), ("bytes=-5", 299995, 299999),
     ("bytes=299990-400000", 299990, 299999)],
)
def test_single_range(client: httpx.Client, range_header: str, first: int, last: int) -> None:
    response = client.get("/api/v2/well_known_file_download/5001",
                          headers={"Range": range_header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(NWB_BYTES)}"
    assert response.content == NWB_BYTES[first:last + 1]


@pytest.mark.parametrize("range_header", ["bytes=300000-", "bytes=-0"])
def test_unsatisfiable_range_is_416(client: httpx.Client, range_header: str) -> None:
    response = client.get("/api/v2/well_known_file_download/5001",
                          headers={"Range": range_header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(NWB_BYTES)}"


@pytest.mark.parametrize("range_header", ["bytes=0-1,5-6", "items=0-1", "bytes=9-3"])
def test_ranges_the_server_ignores_give_the_whole_file(client: httpx.Client,
                                                       range_header: str) -> None:
    response = client.get("/api/v2/well_known_file_download/5001",
                          headers={"Range": range_header})
    assert response.status_code == 200 and response.content == NWB_BYTES


def test_if_range_with_another_etag_gives_the_whole_file(client: httpx.Client) -> None:
    response = client.get("/api/v2/well_known_file_download/5001",
                          headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert response.status_code == 200 and len(response.content) == len(NWB_BYTES)


def test_if_none_match_gives_304(client: httpx.Client) -> None:
    etag = client.head("/api/v2/well_known_file_download/5001").headers["etag"]
    response = client.get("/api/v2/well_known_file_download/5001",
                          headers={"If-None-Match": f'"other", {etag}'})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == etag
    other = client.get("/api/v2/well_known_file_download/5001",
                       headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


def test_model_zip(client: httpx.Client) -> None:
    response = client.get("/neuronal_model/download/6001")
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert json.loads(archive.read("6001_neuron_config.json")) == {"type": "GLIF"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/well_known_file_download/9999",  # a record without stored bytes
        "/api/v2/well_known_file_download/5002",
        "/neuronal_model/download/6002",
        "/api/v2/well_known_file_download/abc",
        "/api/v2/nothing",
    ],
)
def test_unknown_ids_are_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and len(response.content) < 100


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/well_known_file_download/../../snapshot.json",
        "/api/v2/well_known_file_download/%2e%2e/%2e%2e/snapshot.json",
        "/api/v2/well_known_file_download/%2Fetc%2Fpasswd",
        "/api/v2/well_known_file_download//etc/passwd",
        "/files/5001/1001_ephys.nwb",
        "/snapshot.json",
        "/neuronal_model/download/..%2f..%2ffiles.jsonl",
    ],
)
def test_no_path_reaches_the_file_system(module_replica: Any, path: str) -> None:
    # Raw socket: an HTTP client would normalise the dots away before sending.
    host, port = module_replica.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404")
    assert b"ctmirror-snapshot" not in reply and b"root:" not in reply


def test_section_image_redirects_then_serves_a_deterministic_jpeg(client: httpx.Client) -> None:
    redirect = client.get("/api/v2/section_image_download/9001?downsample=2&quality=50")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith("/cgi-bin/imageservice?")
    assert "path=/external/ctyconn/prod1/9001/9001.aff" in location and "downsample=2" in location
    image = client.get(location)
    assert image.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(image.content)) as jpeg:
        assert jpeg.format == "JPEG" and jpeg.size == (200, 150)  # 800x600 halved twice
    assert client.get(location).content == image.content
    other = client.get("/api/v2/section_image_download/9101?downsample=2", follow_redirects=True)
    assert other.status_code == 200 and other.content != image.content


def test_unknown_image_is_404(client: httpx.Client) -> None:
    assert client.get("/api/v2/section_image_download/1").status_code == 404
    assert client.get("/cgi-bin/imageservice?path=/x.aff").status_code == 404


def test_request_count(module_replica: Any, client: httpx.Client) -> None:
    before = module_replica.request_count
    client.get("/api/v2/nothing")
    client.get(query_url("model::Donor"))
    assert module_replica.request_count == before + 2


def test_reload_sees_an_edited_snapshot(tmp_path: Path) -> None:
    root = write_tiny_snapshot(tmp_path / "snapshot")
    with serve_in_thread(root) as replica, httpx.Client(base_url=replica.base_url) as http:
        assert len(http.get(query_url("model::Donor")).json()["msg"]) == 2
        records = root / "records" / "Donor.jsonl"
        records.write_text(records.read_text() + json.dumps({"id": 3, "name": "D3"}) + "\n")
        replica.reload()
        assert [d["id"] for d in http.get(query_url("model::Donor")).json()["msg"]] == [1, 2, 3]


def test_unexpected_exception_is_a_500_json_error_without_traceback(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: QueryEngine, query: object, **options: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(QueryEngine, "run", broken)
    response = client.get(query_url("model::Donor"))
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False and body["msg"] == "internal error: RuntimeError"
    assert "Traceback" not in response.text
    (line,) = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert "RuntimeError: engine bug" in line


def test_missing_snapshot_is_a_snapshot_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no snapshot.json"):
        with serve_in_thread(tmp_path / "nothing"):
            pass


def test_files_outside_the_snapshot_are_refused_even_if_listed(tmp_path: Path) -> None:
    root = write_tiny_snapshot(tmp_path / "snapshot")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    index = root / "files.jsonl"
    lines = [json.loads(line) for line in index.read_text().splitlines()]
    lines[0]["relpath"] = "../secret.txt"
    index.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with serve_in_thread(root) as replica, httpx.Client(base_url=replica.base_url) as http:
        response = http.get(f"/api/v2/well_known_file_download/{lines[0]['id']}")
    assert response.status_code == 404 and b"secret" not in response.content
    shutil.rmtree(root)
