"""The replica server: a snapshot served by ``ctmirror.serve``, with fault injection.

The query language, paging, rendering and the file endpoints are ``ctmirror.serve``'s (the
same server ``ctmirror serve`` runs over a mirror). What only the replica does:

- faults (``faults``): latency, throttling, error statuses, an HTML outage page, bodies cut
  short under a full Content-Length or by a reset, on the hooks ``ApiHandler`` leaves open;
- section images: ``/api/v2/section_image_download/<id>?downsample=n`` answers 302 to
  ``/cgi-bin/imageservice?path=...``, which draws a JPEG (``images``), as the real service
  cuts one out of an image stack.
"""

from __future__ import annotations

import socket
import struct
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ctmirror.replica import images
from ctmirror.replica.faults import NO_FAULT, Decision, FaultConfig, FaultInjector, RequestScope
from ctmirror.replica.snapshot import Snapshot
from ctmirror.serve import render
from ctmirror.serve.catalog import Catalog, FileEndpoint, FileKey, ServedFile
from ctmirror.serve.server import (
    CHUNK,
    MODEL_ZIP,
    SECTION_IMAGE,
    WELL_KNOWN_FILE,
    ApiHandler,
    ApiServer,
    Body,
    Limits,
    body_pieces,
    run_in_thread,
)

IMAGE_MODELS = ("ProjectionImage", "SubImage")
IMAGE_SERVICE = "/cgi-bin/imageservice"

OUTAGE_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Site unavailable</title></head>\n<body>"
    b"<h1>The Allen Brain Atlas site is temporarily unavailable</h1>\n"
    b"<p>We are performing maintenance. Please try again later.</p></body></html>\n"
)

#: The real API caps neither page sizes nor clients; nor does the replica standing in for it.
REPLICA_LIMITS = Limits(max_rows=None, max_active=4_096, max_connections=4_096)


@dataclass(frozen=True)
class ImageRef:
    model: str
    record: dict[str, Any]


class SnapshotSource:
    """A snapshot directory as a record source; reloaded only when asked (``reload``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._loads = 0

    @property
    def description(self) -> str:
        return f"snapshot {self.root}"

    def current_version(self) -> str | None:
        return f"load {self._loads}"

    def load(self) -> Catalog:
        snapshot = Snapshot(self.root)
        files: dict[FileKey, ServedFile] = {}
        for stored in snapshot.files():
            endpoint: FileEndpoint = (
                "well_known_file" if stored.kind == "well_known_file" else "model_zip")
            files[(endpoint, stored.id)] = ServedFile(stored.relpath, stored.size,
                                                      stored.sha256, stored.last_modified)
        self._loads += 1
        return Catalog(f"load {self._loads}", snapshot.query_engine(), snapshot.root, files)


class ReplicaServer(ApiServer):
    def __init__(self, root: Path, address: tuple[str, int], faults: FaultConfig | None) -> None:
        self.root = Path(root)
        self.injector = FaultInjector(faults or FaultConfig())
        self._images: tuple[str, dict[str, ImageRef]] = ("", {})
        super().__init__(SnapshotSource(self.root), address, limits=REPLICA_LIMITS,
                         handler=_ReplicaHandler)

    @property
    def request_count(self) -> int:
        return self.counters.requests

    def image(self, image_id: int) -> ImageRef | None:
        for model in IMAGE_MODELS:
            record = self.catalog.engine.record(model, image_id)
            if record is not None:
                return ImageRef(model, record)
        return None

    def image_at(self, path: str) -> ImageRef | None:
        """The image record whose ``image_path`` is ``path`` (indexed once per catalogue)."""
        catalog = self.catalog
        version, by_path = self._images
        if version != catalog.version:
            by_path = {
                image_path(model, record): ImageRef(model, record)
                for model in IMAGE_MODELS for record in catalog.engine.tables[model].records
            }
            self._images = (catalog.version, by_path)
        return by_path.get(path)


def image_path(model: str, record: dict[str, Any]) -> str:
    """The ``path`` the image service is redirected with: the record's own, else a stand-in."""
    path = record.get("path")
    return path if isinstance(path, str) and path else f"/replica/{model}/{record['id']}.aff"


class _ReplicaHandler(ApiHandler):
    server: ReplicaServer
    server_version = "ctmirror-replica"

    def _handle(self, *, head: bool) -> None:
        path = urllib.parse.unquote(self.path.partition("?")[0])
        self._decision = self.server.injector.decide(_scope(path))
        super()._handle(head=head)

    def _intercept(self, path: str) -> bool:
        decision = self._decision
        if decision.latency_s:
            time.sleep(decision.latency_s)
        fault = decision.fault
        if fault is not None and fault.kind == "status":
            self._status_fault(fault.status, fault.retry_after, path)
            return True
        if fault is not None and fault.kind == "html":
            self._send(HTTPStatus.OK, [("Content-Type", "text/html; charset=utf-8")],
                       OUTAGE_PAGE)
            return True
        return False

    def _route(self, path: str, params: dict[str, str]) -> None:
        if path == IMAGE_SERVICE:
            self._image_service(params)
        else:
            super()._route(path, params)

    # -- images -----------------------------------------------------------------------------

    def _section_image(self, image_id: str, params: dict[str, str]) -> None:
        ref = self.server.image(int(image_id))
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
        location = IMAGE_SERVICE + "?" + urllib.parse.urlencode(service, safe="/,")
        self._send(HTTPStatus.FOUND, [("Location", location)], b"")

    def _image_service(self, params: dict[str, str]) -> None:
        ref = self.server.image_at(params.get("path", ""))
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

    # -- faults -----------------------------------------------------------------------------

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

    def _write_body(self, body: Body, length: int) -> None:
        decision: Decision = getattr(self, "_decision", NO_FAULT)
        fault = decision.fault
        cut = length // 2 if fault is not None and fault.kind in ("drop", "truncate") else None
        throttle = decision.throttle_bytes_per_s
        chunk = CHUNK if throttle is None else max(1, min(CHUNK, throttle // 20))
        for piece in body_pieces(body, length if cut is None else cut, chunk):
            self.wfile.write(piece)
            self._sent += len(piece)
            if throttle is not None:
                time.sleep(len(piece) / throttle)
        if cut is not None and fault is not None:
            self._abort(reset=fault.kind == "drop")

    def _abort(self, *, reset: bool) -> None:
        """End the connection mid-body: a TCP reset for a drop, a plain close for a
        truncation (the client sees fewer bytes than Content-Length promised)."""
        self.close_connection = True
        self.wfile.flush()
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.connection.close()


def _scope(path: str) -> RequestScope:
    if path.startswith("/api/v2/data/"):
        return "queries"
    if WELL_KNOWN_FILE.fullmatch(path) or MODEL_ZIP.fullmatch(path) \
            or SECTION_IMAGE.fullmatch(path) or path == IMAGE_SERVICE:
        return "files"
    return None


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
        self._server.reload(force=True)


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
    with run_in_thread(server, "replica"):
        yield RunningReplica(server)


__all__ = ["ReplicaServer", "RunningReplica", "make_server", "serve_in_thread"]
