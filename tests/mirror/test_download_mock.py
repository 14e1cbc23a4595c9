"""download_file against servers that misbehave in ways the replica does not: ignoring Range,
changing the file between attempts, odd Content-Range answers, and bad content with status 200
(httpx.MockTransport)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field

import httpx
import pytest

from ctmirror.errors import FileIntegrityError
from ctmirror.mirror import DownloadDirectory, FileKind, PartialState, download_file
from ctmirror.mirror.download_dir import part_dir

from .conftest import Sleeps, stored_path

URL = "http://files.example.test/api/v2/well_known_file_download/7"
LAST_MODIFIED = "Tue, 02 Jan 2018 03:04:05 GMT"
BODY = bytes(range(256)) * 1000  # 256 kB, several chunks


@dataclass
class FakeServer:
    """Serves ``body`` with an ETag, honouring Range/If-Range unless told not to; records the
    headers of every request."""

    body: bytes
    etag: str | None = '"v1"'
    last_modified: str | None = LAST_MODIFIED
    honour_range: bool = True
    shift_range: int = 0  # answer a range starting this many bytes off the asked one
    requests: list[httpx.Headers] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.headers)
        headers = {}
        if self.etag is not None:
            headers["ETag"] = self.etag
        if self.last_modified is not None:
            headers["Last-Modified"] = self.last_modified
        wanted = request.headers.get("range")
        validator = request.headers.get("if-range")
        fresh = validator in (None, self.etag, self.last_modified)
        if wanted and self.honour_range and fresh:
            start = int(wanted.removeprefix("bytes=").rstrip("-")) + self.shift_range
            end = len(self.body) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(self.body)}"
            return streamed(206, headers, self.body[start:])
        return streamed(200, headers, self.body)


def streamed(status: int, headers: dict[str, str], body: bytes) -> httpx.Response:
    # A stream, not content=: the downloader reads the body raw, as from a real connection.
    headers["Content-Length"] = str(len(body))
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


def client(server: FakeServer) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(server))


def leave_partial(target, data: bytes, state: PartialState) -> None:
    """The state an interrupted download leaves behind."""
    with DownloadDirectory(target) as part:
        part.record(state)
        with part.open_data(0) as fh:
            fh.write(data)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_resume_sends_range_and_if_range(tmp_path):
    server = FakeServer(BODY)
    target = tmp_path / "f.bin"
    leave_partial(target, BODY[:100_000], PartialState(URL, len(BODY), sha(BODY), '"v1"'))
    with client(server) as http:
        result = download_file(http, URL, target, expected_size=len(BODY),
                               expected_sha256=sha(BODY), kind=FileKind.OTHER)
    assert server.requests[0]["range"] == "bytes=100000-"
    assert server.requests[0]["if-range"] == '"v1"'
    assert server.requests[0]["accept-encoding"] == "identity"
    assert (result.resumed, result.bytes_transferred) == (True, len(BODY) - 100_000)
    assert target.read_bytes() == BODY


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    server = FakeServer(BODY, honour_range=False)
    target = tmp_path / "f.bin"
    leave_partial(target, BODY[:100_000], PartialState(URL, len(BODY), sha(BODY), '"v1"'))
    with client(server) as http:
        result = download_file(http, URL, target, expected_size=len(BODY),
                               expected_sha256=sha(BODY), kind=FileKind.OTHER)
    assert len(server.requests) == 1  # the 200 body itself is the fresh start
    assert (result.resumed, result.bytes_transferred) == (False, len(BODY))
    assert target.read_bytes() == BODY


def test_file_changed_on_the_server_restarts_from_zero(tmp_path):
    new_body = BODY[::-1]
    server = FakeServer(new_body, etag='"v2"')
    target = tmp_path / "f.bin"
    # Bytes of the old version: splicing the new version's tail onto them would be garbage.
    leave_partial(target, BODY[:100_000], PartialState(URL, len(BODY), None, '"v1"'))
    with client(server) as http:
        result = download_file(http, URL, target, kind=FileKind.OTHER)
    assert server.requests[0]["if-range"] == '"v1"'
    assert (result.resumed, result.etag) == (False, '"v2"')
    assert target.read_bytes() == new_body


def test_weak_etag_resumes_on_last_modified(tmp_path):
    server = FakeServer(BODY, etag='W/"v1"')
    target = tmp_path / "f.bin"
    leave_partial(target, BODY[:1000],
                  PartialState(URL, len(BODY), None, 'W/"v1"', LAST_MODIFIED))
    with client(server) as http:
        result = download_file(http, URL, target, kind=FileKind.OTHER)
    assert server.requests[0]["if-range"] == LAST_MODIFIED
    assert result.resumed and target.read_bytes() == BODY


def test_partial_without_a_validator_is_not_resumed(tmp_path):
    server = FakeServer(BODY, etag=None, last_modified=None)
    target = tmp_path / "f.bin"
    leave_partial(target, BODY[:1000], PartialState(URL, len(BODY)))
    with client(server) as http:
        result = download_file(http, URL, target, kind=FileKind.OTHER)
    assert "range" not in server.requests[0]
    assert (result.resumed, result.bytes_transferred) == (False, len(BODY))
    assert target.stat().st_size == len(BODY)


def test_wrong_content_range_starts_over_without_waiting(tmp_path, sleeps: Sleeps):
    server = FakeServer(BODY, shift_range=10)
    target = tmp_path / "f.bin"
    leave_partial(target, BODY[:1000], PartialState(URL, len(BODY), None, '"v1"'))
    with client(server) as http:
        result = download_file(http, URL, target, kind=FileKind.OTHER, sleep=sleeps)
    assert [("range" in h) for h in server.requests] == [True, False]
    assert sleeps == []
    assert target.read_bytes() == BODY and not result.resumed


def test_complete_partial_is_finished_without_a_request(tmp_path):
    server = FakeServer(BODY)
    target = tmp_path / "f.bin"
    leave_partial(target, BODY, PartialState(URL, len(BODY), sha(BODY), '"v1"', LAST_MODIFIED))
    with client(server) as http:
        result = download_file(http, URL, target, expected_size=len(BODY),
                               expected_sha256=sha(BODY), kind=FileKind.OTHER)
    assert server.requests == []
    assert (result.resumed, result.bytes_transferred, result.etag) == (True, 0, '"v1"')
    assert target.read_bytes() == BODY


def bad_content(tmp_path, body: bytes, kind: FileKind, **expected: object) -> FileIntegrityError:
    target = tmp_path / "mirror" / "7" / f"file.{kind.value}"
    with client(FakeServer(body)) as http, pytest.raises(FileIntegrityError) as caught:
        download_file(http, URL, target, kind=kind, **expected)  # type: ignore[arg-type]
    assert not target.exists()
    assert not part_dir(target).exists()  # known-bad bytes are not kept for a resume
    return caught.value


def test_html_page_served_as_nwb(tmp_path):
    page = b"<html><body><h1>Site unavailable</h1></body></html>"
    error = bad_content(tmp_path, page, FileKind.NWB, expected_size=len(page))
    assert "file.nwb is not a valid nwb file: no HDF5 signature" in str(error)


def test_truncated_hdf5_served_whole(synth_snapshot, nwb_file, tmp_path):
    # Half an NWB file under a Content-Length that matches it: only the content check can tell.
    half = stored_path(synth_snapshot, nwb_file).read_bytes()[: nwb_file.size // 2]
    error = bad_content(tmp_path, half, FileKind.NWB)
    assert "HDF5 does not open" in str(error)


def test_zip_with_parent_member(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("neuron_config.json", b"{}")
        archive.writestr("../../escaped.json", b"{}")
    error = bad_content(tmp_path, buffer.getvalue(), FileKind.ZIP)
    assert "'../../escaped.json' contains '..'" in str(error)
    assert not list(tmp_path.rglob("escaped.json"))


def test_wrong_checksum_on_a_fresh_download(tmp_path):
    error = bad_content(tmp_path, BODY, FileKind.OTHER, expected_sha256="0" * 64)
    assert f"sha256 {sha(BODY)}, expected {'0' * 64}" in str(error)


def test_complete_partial_of_unknown_expected_size_needs_no_request(tmp_path):
    server = FakeServer(BODY)
    target = tmp_path / "f.bin"
    leave_partial(target, BODY, PartialState(URL, len(BODY), None, '"v1"', LAST_MODIFIED))
    with client(server) as http:
        result = download_file(http, URL, target, kind=FileKind.OTHER)
    assert server.requests == []
    assert result.sha256 == sha(BODY) and target.read_bytes() == BODY
