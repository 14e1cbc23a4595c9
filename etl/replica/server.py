"""The replica server: a snapshot served with the Allen RMA API's URLs, on the standard library.

Routes::

    GET /api/v2/data/query.{json,csv,xml}?q=...            (or criteria=...)
    GET /api/v2/data/<Model>/<id>.{json,csv,xml}
    GET /api/v2/well_known_file_download/<id>               Range, If-None-Match, HEAD
    GET /neuronal_model/download/<id>                       the model's zip
    GET /api/v2/section_image_download/<id>?downsample=n    302 to /cgi-bin/imageservice
    GET /cgi-bin/imageservice?path=...&downsample=n         a JPEG drawn by ``images``

``http.server`` rather than a framework because fault injection needs control of every byte on
the wire (half a body under a full Content-Length, a reset mid-stream). Files are found only
through ``files.jsonl`` by integer id, so no request path ever names a file.
"""

from __future__ import annotations

import logging
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from ctmirror.errors import QueryError, SnapshotError
from ctmirror.replica import images, render
from ctmirror.replica.engine import QueryEngine, QueryResult
from ctmirror.replica.faults import Decision, FaultConfig, FaultInjector, RequestScope
from ctmirror.replica.rma_query import parse_query
from ctmirror.replica.snapshot import Snapshot, StoredFile
from ctmirror.schema.allen_model import API_MODELS

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
IMAGE_MODELS = ("ProjectionImage", "SubImage")
# An idle keep-alive connection is closed after this long, so a forgotten client cannot pin
# a handler thread forever.
IDLE_TIMEOUT_S = 60.0

OUTAGE_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Site unavailable</title></head>\n<body>"
    b"<h1>The Allen Brain Atlas site is temporarily unavailable</h1>\n"
    b"<p>We are performing maintenance. Please try again later.</p></body></html>\n"
)

_QUERY = re.compile(r"/api/v2/data/query\.(json|csv|xml)")
_RESOURCE = re.compile(r"/api/v2/data/([A-Za-z]+)/(\d+)\.(json|csv|xml)")
_WELL_KNOWN_FILE = re.compile(r"/api/v2/well_known_file_download/(\d+)")
_MODEL_ZIP = re.compile(r"/neuronal_model/download/(\d+)")
_SECTION_IMAGE = re.compile(
    r"/api/v2/(?:section_image_download|image_download|projection_image_download)/(\d+)"
)
_IMAGE_SERVICE = "/cgi-bin/imageservice"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class ImageRef:
    model: str
    record: dict[str, Any]


class ReplicaState:
    """Everything loaded from one snapshot; replaced whole on reload."""

    def __init__(self, root: Path) -> None:
        self.snapshot = Snapshot(root)
        started = time.perf_counter()
        self.engine = QueryEngine.from_snapshot(self.snapshot)
        self.files: dict[tuple[str, int], StoredFile] = {
            (f.kind, f.id): f for f in self.snapshot.files()
        }
        self.images: dict[str, ImageRef] = {}
        for model in IMAGE_MODELS:
            for record in self.engine.tables[model].records:
                self.images[image_path(model, record)] = ImageRef(model, record)
        log.info("loaded snapshot %s in %.1f s", self.snapshot.root,
                 time.perf_counter() - started)

    def image(self, image_id: int) -> ImageRef | None:
        for model in IMAGE_MODELS:
            record = self.engine.record(model, image_id)
            if record is not None:
                return ImageRef(model, record)
        return None


def image_path(model: str, record: dict[str, Any]) -> str:
    """The ``path`` the image service is redirected with: the record's own, else a stand-in."""
    path = record.get("path")
    return path if isinstance(path, str) and path else f"/replica/{model}/{record['id']}.aff"


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True
    # Clients keep connections alive; closing the server must not wait for them.
    block_on_close = False

    def __init__(self, root: Path, address: tuple[str, int], faults: FaultConfig | None) -> None:
        self.root = Path(root)
        self.state = ReplicaState(self.root)
        self.injector = FaultInjector(faults or FaultConfig())
        self._count_lock = threading.Lock()
        self.request_count = 0
        super().__init__(address, _Handler)

    def count_request(self) -> None:
        with self._count_lock:
            self.request_count += 1

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class _ClientGone(Exception):
    """The client closed the connection; nothing more to send."""


@dataclass(frozen=True)
class _FileSlice:
    path: Path
    offset: int
    length: int


_Body = bytes | _FileSlice


class _Handler(BaseHTTPRequestHandler):
    server: ReplicaServer
    protocol_version = "HTTP/1.1"
    server_version = "ctmirror-replica"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self._handle(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle(head=True)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.info("%s - " + format, self.address_string(), *args)

    # -- dispatch ---------------------------------------------------------------------------

    def _handle(self, *, head: bool) -> None:
        self.server.count_request()
        raw_path, _, raw_query = self.path.partition("?")
        path = urllib.parse.unquote(raw_path)
        params = _query_params(raw_query)
        decision = self.server.injector.decide(_scope(path))
        self._head = head
        self._decision = decision
        try:
            if decision.latency_s:
                time.sleep(decision.latency_s)
            fault = decision.fault
            if fault is not None and fault.kind == "status":
                self._status_fault(fault.status, fault.retry_after, path)
            elif fault is not None and fault.kind == "html":
                self._send(HTTPStatus.OK, [("Content-Type", "text/html; charset=utf-8")],
                           OUTAGE_PAGE)
            else:
                self._route(path, params)
        except _ClientGone:
            self.close_connection = True
        except Exception as exc:  # never a traceback to the client, one log line here
            log.error("%s %s failed: %s: %s", self.command, self.path[:200],
                      type(exc).__name__, exc)
            self._try_send_error(f"internal error: {type(exc).__name__}")
            self.close_connection = True

    def _route(self, path: str, params: dict[str, str]) -> None:
        state = self.server.state
        if match := _QUERY.fullmatch(path):
            q = params.get("q", params.get("criteria"))
            if q is None:
                self._query_error("no query: pass q=model::... (or criteria=)", match.group(1))
            else:
                self._query(q, match.group(1))
        elif match := _RESOURCE.fullmatch(path):
            model, key, fmt = match.groups()
            if model not in API_MODELS:
                self._query_error(f"unknown model {model!r}", fmt)
            else:
                key_name = API_MODELS[model].primary_key
                self._query(f"model::{model},rma::criteria,[{key_name}$eq{key}]", fmt)
        elif match := _WELL_KNOWN_FILE.fullmatch(path):
            self._stored_file(state.files.get(("well_known_file", int(match.group(1)))))
        elif match := _MODEL_ZIP.fullmatch(path):
            self._stored_file(state.files.get(("model_zip", int(match.group(1)))))
        elif match := _SECTION_IMAGE.fullmatch(path):
            self._image_redirect(int(match.group(1)), params)
        elif path == _IMAGE_SERVICE:
            self._image_service(params)
        else:
            self._not_found("no such resource")

    # -- queries ----------------------------------------------------------------------------

    def _query(self, q: str, fmt: str) -> None:
        try:
            query = parse_query(q)
            result = self.server.state.engine.run(query)
            body, content_type = _render(result, fmt)
        except QueryError as exc:
            self._query_error(str(exc), fmt)
            return
        self._send(HTTPStatus.OK, [("Content-Type", content_type)], body)

    def _query_error(self, message: str, fmt: str) -> None:
        if fmt == "xml":
            body, content_type = render.xml_error(message), render.XML_TYPE
        else:
            body, content_type = render.json_error(message), render.JSON_TYPE
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, [("Content-Type", content_type)], body)

    # -- files ------------------------------------------------------------------------------

    def _stored_file(self, stored: StoredFile | None) -> None:
        if stored is None:
            self._not_found("no such file")
            return
        try:
            path = self.server.state.snapshot.resolve(stored)
        except SnapshotError:
            log.warning("file %s %d listed in files.jsonl is missing", stored.kind, stored.id)
            self._not_found("file missing from the snapshot")
            return
        etag = f'"{stored.sha256}"'
        headers = [
            ("ETag", etag),
            ("Last-Modified", stored.last_modified),
            ("Accept-Ranges", "bytes"),
        ]
        if _etag_matches(self.headers.get("If-None-Match"), etag):
            self._send(HTTPStatus.NOT_MODIFIED, headers, b"", length_header=False)
            return
        headers += [
            ("Content-Type", stored.content_type),
            ("Content-Disposition", 'attachment; filename="{}"'.format(
                path.name.replace("\\", "_").replace('"', "_"))),
        ]
        size = path.stat().st_size
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted is not None and (if_range is None or if_range.strip() == etag):
            span = _byte_range(wanted, size)
            if span == "unsatisfiable":
                self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                           [*headers[:3], ("Content-Range", f"bytes */{size}")], b"")
                return
            if span is not None:
                start, end = span
                self._send(HTTPStatus.PARTIAL_CONTENT,
                           [*headers, ("Content-Range", f"bytes {start}-{end}/{size}")],
                           _FileSlice(path, start, end - start + 1))
                return
        self._send(HTTPStatus.OK, headers, _FileSlice(path, 0, size))

    # -- images -----------------------------------------------------------------------------

    def _image_redirect(self, image_id: int, params: dict[str, str]) -> None:
        ref = self.server.state.image(image_id)
        if ref is None:
            self._not_found("no such image")
            return
        service = {"mime": "1", "path": image_path(ref.model, ref.record)}
        # The record's bounding box in the full image, as the real redirect carries it.
        for name, attribute in (("left", "x"), ("top", "y"), ("width", "width"),
                                ("height", "height")):
            value = ref.record.get(attribute)
            if isinstance(value, int):
                service[name] = str(value)
        service.update((k, v) for k, v in params.items() if k not in ("mime", "path"))
        service.setdefault("downsample", "0")
        location = _IMAGE_SERVICE + "?" + urllib.parse.urlencode(service, safe="/,")
        self._send(HTTPStatus.FOUND, [("Location", location)], b"")

    def _image_service(self, params: dict[str, str]) -> None:
        ref = self.server.state.images.get(params.get("path", ""))
        if ref is None:
            self._not_found("no such image path")
            return
        try:
            downsample = int(params.get("downsample", "0"))
            quality = int(params.get("quality", str(images.DEFAULT_QUALITY)))
            width = int(params.get("width") or _dimension(ref.record, "width"))
            height = int(params.get("height") or _dimension(ref.record, "height"))
        except ValueError:
            self._send_text(HTTPStatus.BAD_REQUEST, "downsample, quality, width and height "
                                                    "are integers")
            return
        if downsample < 0 or width <= 0 or height <= 0:
            self._send_text(HTTPStatus.BAD_REQUEST, "downsample must be >= 0, width/height > 0")
            return
        size = images.downsampled_size(width, height, downsample)
        body = images.render_jpeg(int(ref.record["id"]), *size, quality=quality)
        self._send(HTTPStatus.OK, [("Content-Type", "image/jpeg")], body)

    # -- writing ----------------------------------------------------------------------------

    def _not_found(self, message: str) -> None:
        self._send_text(HTTPStatus.NOT_FOUND, message)

    def _send_text(self, status: HTTPStatus, message: str) -> None:
        self._send(status, [("Content-Type", "text/plain; charset=utf-8")],
                   message.encode() + b"\n")

    def _status_fault(self, status: int, retry_after: int | None, path: str) -> None:
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        text = f"injected fault: HTTP {status}"
        if _scope(path) == "queries":
            headers.append(("Content-Type", render.JSON_TYPE))
            body = render.json_error(text)
        else:
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            body = text.encode() + b"\n"
        self._send(status, headers, body)

    def _try_send_error(self, message: str) -> None:
        try:
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR,
                       [("Content-Type", render.JSON_TYPE)], render.json_error(message))
        except Exception:  # headers may already be out; the connection is done for
            self.close_connection = True

    def _send(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: _Body,
        *,
        length_header: bool = True,
    ) -> None:
        decision: Decision = self._decision
        length = len(body) if isinstance(body, bytes) else body.length
        fault = decision.fault
        cut = length // 2 if fault is not None and fault.kind in ("drop", "truncate") else None
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if length_header:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if not self._head:
                self._write(body, length if cut is None else cut, decision.throttle_bytes_per_s)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _ClientGone from exc
        if cut is not None and fault is not None:
            self._abort(reset=fault.kind == "drop")

    def _write(self, body: _Body, limit: int, throttle: int | None) -> None:
        chunk = CHUNK if throttle is None else max(1, min(CHUNK, throttle // 20))
        for piece in _pieces(body, limit, chunk):
            self.wfile.write(piece)
            if throttle is not None:
                time.sleep(len(piece) / throttle)

    def _abort(self, *, reset: bool) -> None:
        """End the connection mid-body: a TCP reset for a drop, a plain close for a
        truncation (the client sees fewer bytes than Content-Length promised)."""
        self.close_connection = True
        self.wfile.flush()
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.connection.close()


def _pieces(body: _Body, limit: int, chunk: int) -> Iterator[bytes]:
    if isinstance(body, bytes):
        for start in range(0, limit, chunk):
            yield body[start:min(limit, start + chunk)]
        return
    with body.path.open("rb") as fh:
        fh.seek(body.offset)
        left = limit
        while left > 0:
            piece = fh.read(min(chunk, left))
            if not piece:
                raise SnapshotError(f"{body.path} is shorter than files.jsonl says")
            left -= len(piece)
            yield piece


def _render(result: QueryResult, fmt: str) -> tuple[bytes, str]:
    if fmt == "csv":
        return render.csv_body(result), render.CSV_TYPE
    if fmt == "xml":
        return render.xml_body(result), render.XML_TYPE
    return render.json_body(result), render.JSON_TYPE


def _query_params(raw: str) -> dict[str, str]:
    """Percent-decoded parameters; '+' stays '+' (AllenSDK sends order specs as attr+desc)."""
    params: dict[str, str] = {}
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        params.setdefault(urllib.parse.unquote(name), urllib.parse.unquote(value))
    return params


def _scope(path: str) -> RequestScope:
    if path.startswith("/api/v2/data/"):
        return "queries"
    if _WELL_KNOWN_FILE.fullmatch(path) or _MODEL_ZIP.fullmatch(path) \
            or _SECTION_IMAGE.fullmatch(path) or path == _IMAGE_SERVICE:
        return "files"
    return None


def _etag_matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _byte_range(header: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """(first, last) byte of a single-range header, "unsatisfiable", or None to ignore it
    (malformed or several ranges: RFC 9110 lets a server answer with the whole file)."""
    match = _RANGE.fullmatch(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = size - 1 if last_text == "" else min(int(last_text), size - 1)
    if last_text != "" and int(last_text) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, last


def _dimension(record: dict[str, Any], name: str) -> int:
    for key in (name, f"image_{name}"):
        value = record.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return 512


class RunningReplica:
    """A replica serving in a background thread (see ``serve_in_thread``)."""

    def __init__(self, server: ReplicaServer) -> None:
        self._server = server
        self._faults = server.injector.config

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    @faults.setter
    def faults(self, config: FaultConfig | None) -> None:
        """Replace the fault behaviour; counters and the random generator start afresh."""
        self._faults = config or FaultConfig()
        self._server.injector = FaultInjector(self._faults)

    @property
    def request_count(self) -> int:
        return self._server.request_count

    @property
    def injected(self) -> dict[str, int]:
        """The faults fired since the fault behaviour was last set, by kind."""
        return self._server.injector.injected

    def reload(self) -> None:
        """Re-read the snapshot (after a test has changed it)."""
        self._server.state = ReplicaState(self._server.root)


def make_server(
    snapshot: Path, *, host: str = "127.0.0.1", port: int = 0, faults: FaultConfig | None = None
) -> ReplicaServer:
    """A bound replica server, not yet serving; raises SnapshotError for a bad snapshot."""
    return ReplicaServer(Path(snapshot), (host, port), faults)


@contextmanager
def serve_in_thread(
    snapshot: Path, *, host: str = "127.0.0.1", port: int = 0, faults: FaultConfig | None = None
) -> Iterator[RunningReplica]:
    """Serve ``snapshot`` on ``host:port`` (0: any free port) while the block runs."""
    server = make_server(snapshot, host=host, port=port, faults=faults)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"replica-{server.server_address[1]}", daemon=True)
    thread.start()
    try:
        yield RunningReplica(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


__all__ = ["ReplicaServer", "RunningReplica", "make_server", "serve_in_thread"]
