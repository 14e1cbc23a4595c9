"""The Allen RMA API over a record source, on the standard library's HTTP server.

Routes::

    GET /api/v2/data/query.{json,csv,xml}?q=...            (or criteria=...)
    GET /api/v2/data/<Model>/<id>.{json,csv,xml}
    GET /api/v2/well_known_file_download/<id>               Range, If-None-Match, HEAD
    GET /neuronal_model/download/<id>                       the model's zip
    GET /api/v2/section_image_download/<id>                 the mirrored image
    GET /healthz                                            the loaded state, as JSON
    GET /, /cells/<id>, /overview, /web/...                 the web pages (``Pages``), if any

``http.server`` rather than a framework because the replica's fault injection needs control of
every byte on the wire (``ctmirror.replica.server`` overrides the hooks marked below). Files
are found only by the integer id in the URL, through the catalogue's index, so no request path
ever names a file.

What a lab server needs: bearer tokens (401 without a valid one), an access log in the
Combined Log Format, a cap on the rows of one page (the real API's error envelope), and a cap on
requests answered at once (429 with Retry-After beyond it, after a short wait) and on open
connections, so a burst of clients slows the server down instead of taking it down.
"""

from __future__ import annotations

import hmac
import http.cookies
import json
import logging
import re
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Protocol

from ctmirror.errors import QueryError
from ctmirror.schema.allen_model import API_MODELS
from ctmirror.serve import render
from ctmirror.serve.catalog import Catalog, FileEndpoint, ServedFile
from ctmirror.serve.engine import QueryResult
from ctmirror.serve.rma_query import parse_query

log = logging.getLogger(__name__)
access_log = logging.getLogger("ctmirror.serve.access")

CHUNK = 64 * 1024
# An idle keep-alive connection is closed after this long, so a forgotten client cannot pin
# a handler thread forever.
IDLE_TIMEOUT_S = 60.0

QUERY = re.compile(r"/api/v2/data/query\.(json|csv|xml)")
RESOURCE = re.compile(r"/api/v2/data/([A-Za-z]+)/(\d+)\.(json|csv|xml)")
WELL_KNOWN_FILE = re.compile(r"/api/v2/well_known_file_download/(\d+)")
MODEL_ZIP = re.compile(r"/neuronal_model/download/(\d+)")
SECTION_IMAGE = re.compile(
    r"/api/v2/(?:section_image_download|image_download|projection_image_download)/(\d+)"
)
HEALTH = "/healthz"
#: The cookie a browser sends the bearer token in, and the page that sets it.
TOKEN_COOKIE = "ctmirror_token"
LOGIN = "/login"
#: Pages answered without a token: the form that stores it and the scripts and styles it needs.
PUBLIC_PAGES = (LOGIN, "/web/static/")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# Ids beyond 2**63 name no Allen record; refused before they reach an index.
_MAX_ID = 2**63 - 1


class PageAnswer(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> list[tuple[str, str]]: ...

    @property
    def body(self) -> bytes: ...


class Pages(Protocol):
    """Web pages served beside the API (``ctmirror.serve.web``)."""

    def answer(self, path: str, raw_query: str, version: str,
               accept_gzip: bool) -> PageAnswer | None:
        """The answer to a GET of ``path``; None when it is no page's path."""
        ...

    def prepare(self, version: str) -> None:
        """Start reading what the pages of ``version`` share (in the background), so that the
        first page after a start or a sync does not wait for it."""
        ...

    def close(self) -> None:
        ...


class RecordSource(Protocol):
    """Where a server's records and files come from."""

    @property
    def description(self) -> str:
        """What is served, for the start-up line and /healthz."""
        ...

    def current_version(self) -> str | None:
        """The version the source would load now; None when it cannot tell (busy, locked)."""
        ...

    def load(self) -> Catalog:
        """The source's current state, read whole."""
        ...


@dataclass(frozen=True)
class Limits:
    """What one server takes on. ``max_rows``: objects in one answered page (None: no cap);
    ``max_active``: requests answered at once, others wait up to ``queue_wait_s`` and then get
    429; ``max_connections``: open connections, beyond which a new one gets 429 at once."""

    max_rows: int | None = 50_000
    max_active: int = 64
    queue_wait_s: float = 5.0
    max_connections: int = 1_024
    retry_after_s: int = 5


@dataclass
class ServeCounters:
    """What a server counted since it started (thread-safe through ``lock``)."""

    requests: int = 0
    refused_busy: int = 0
    unauthorized: int = 0
    #: Requests for files the source lists no verified copy of, by endpoint.
    missing_files: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def missing(self, endpoint: FileEndpoint) -> None:
        with self.lock:
            self.missing_files[endpoint] += 1


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    # Clients keep connections alive; closing the server must not wait for them.
    block_on_close = False
    # Room for a burst of connections in the kernel's queue before they are accepted.
    request_queue_size = 1_024

    def __init__(
        self,
        source: RecordSource,
        address: tuple[str, int],
        *,
        limits: Limits | None = None,
        tokens: frozenset[str] = frozenset(),
        handler: type[BaseHTTPRequestHandler] | None = None,
        pages: Pages | None = None,
    ) -> None:
        self.source = source
        self.pages = pages
        self.limits = limits or Limits()
        self.tokens = tokens
        self.counters = ServeCounters()
        self.catalog = source.load()
        self.loaded_at = datetime.now(UTC)
        if pages is not None:
            pages.prepare(self.catalog.version)
        self._active = threading.BoundedSemaphore(self.limits.max_active)
        self._connections = threading.BoundedSemaphore(self.limits.max_connections)
        self._reload_lock = threading.Lock()
        super().__init__(address, handler or ApiHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def server_close(self) -> None:
        super().server_close()
        if self.pages is not None:
            self.pages.close()

    # -- state ------------------------------------------------------------------------------

    def reload(self, *, force: bool = False) -> bool:
        """Load the source again when its version changed (or ``force``); the new catalogue
        replaces the old one in one assignment, so a request sees one or the other. A source
        that cannot be read keeps the last state served. True when a new state was loaded."""
        with self._reload_lock:
            try:
                version = self.source.current_version()
                if version is None or (version == self.catalog.version and not force):
                    return False
                started = time.perf_counter()
                catalog = self.source.load()
            except Exception as exc:  # the source is busy or gone: keep serving what we have
                log.warning("cannot reload %s (%s: %s); still serving %s",
                            self.source.description, type(exc).__name__, exc,
                            self.catalog.version)
                return False
            self.catalog = catalog
            self.loaded_at = datetime.now(UTC)
            if self.pages is not None:
                self.pages.prepare(catalog.version)
            log.info("serving %s (loaded in %.1f s)", catalog.version,
                     time.perf_counter() - started)
            return True

    def health(self) -> dict[str, Any]:
        counters = self.counters
        with counters.lock:
            return {
                "status": "ok",
                "source": self.source.description,
                "version": self.catalog.version,
                "loaded_at": self.loaded_at.isoformat(timespec="seconds"),
                "requests": counters.requests,
                "refused_busy": counters.refused_busy,
                "unauthorized": counters.unauthorized,
                "missing_files": dict(counters.missing_files),
            }

    # -- limits -----------------------------------------------------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):
            _refuse_connection(request, self.limits.retry_after_s)
            self.counters.add("refused_busy")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def begin_request(self) -> bool:
        """Take one of the ``max_active`` slots, waiting a little; False when none freed up."""
        return self._active.acquire(timeout=self.limits.queue_wait_s)

    def end_request(self) -> None:
        self._active.release()


def _refuse_connection(sock: Any, retry_after_s: int) -> None:
    body = b"too many connections; retry later\n"
    try:
        sock.sendall(
            b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + f"Retry-After: {retry_after_s}\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Connection: close\r\n\r\n" + body
        )
    except OSError:
        pass


class ClientGone(Exception):
    """The client closed the connection; nothing more to send."""


@dataclass(frozen=True)
class FileSlice:
    path: Path
    offset: int
    length: int


Body = bytes | FileSlice


class ApiHandler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "ctmirror"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm the body would
        # wait for the client's delayed ACK (about 40 ms on every small answer).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self._handle(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle(head=True)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged once answered, with the bytes sent (``_log_access``)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.info("%s - " + format, self.address_string(), *args)

    # -- dispatch ---------------------------------------------------------------------------

    def _handle(self, *, head: bool) -> None:
        self.server.counters.add("requests")
        self._head = head
        self._status = 0
        self._sent = 0
        raw_path, _, raw_query = self.path.partition("?")
        path = urllib.parse.unquote(raw_path)
        params = query_params(raw_query)
        self._raw_query = raw_query if path != LOGIN else ""
        try:
            if path == HEALTH:
                self._send_json(HTTPStatus.OK, self.server.health())
            elif path.startswith(PUBLIC_PAGES) and self._page(path):
                pass  # the token form and the package's scripts: nothing of the mirror
            elif not self._authorized():
                self.server.counters.add("unauthorized")
                self._send(HTTPStatus.UNAUTHORIZED,
                           [("WWW-Authenticate", 'Bearer realm="ctmirror"'),
                            ("Content-Type", "text/plain; charset=utf-8")],
                           b"a bearer token is required (in a browser: /login)\n")
            elif not self.server.begin_request():
                self.server.counters.add("refused_busy")
                self._busy(path)
            else:
                try:
                    if not self._intercept(path):
                        self._route(path, params)
                finally:
                    self.server.end_request()
        except ClientGone:
            self.close_connection = True
        except Exception as exc:  # never a traceback to the client, one log line here
            log.error("%s %s failed: %s: %s", self.command, self.path[:200],
                      type(exc).__name__, exc)
            self._try_send_error(f"internal error: {type(exc).__name__}")
            self.close_connection = True
        finally:
            self._log_access()

    def _authorized(self) -> bool:
        tokens = self.server.tokens
        if not tokens:
            return True
        scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            # a browser cannot send a header with a plain link: the web pages' token comes
            # as the cookie ctmirror_token
            given = _cookie(self.headers.get("Cookie"), TOKEN_COOKIE) or ""
            if not given:
                return False
        given = given.strip()
        # Compare with every token in constant time, so timing tells nothing of a prefix.
        return any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens)

    def _intercept(self, path: str) -> bool:
        """Hook: answer the request before routing (the replica's faults); True if answered."""
        return False

    def _route(self, path: str, params: dict[str, str]) -> None:
        if match := QUERY.fullmatch(path):
            q = params.get("q", params.get("criteria"))
            if q is None:
                self._query_error("no query: pass q=model::... (or criteria=)", match.group(1))
            else:
                self._query(q, match.group(1))
        elif match := RESOURCE.fullmatch(path):
            model, key, fmt = match.groups()
            if model not in API_MODELS:
                self._query_error(f"unknown model {model!r}", fmt)
            else:
                key_name = API_MODELS[model].primary_key
                self._query(f"model::{model},rma::criteria,[{key_name}$eq{key}]", fmt)
        elif match := WELL_KNOWN_FILE.fullmatch(path):
            self._file("well_known_file", match.group(1))
        elif match := MODEL_ZIP.fullmatch(path):
            self._file("model_zip", match.group(1))
        elif match := SECTION_IMAGE.fullmatch(path):
            self._section_image(match.group(1), params)
        elif not self._page(path):
            self._not_found("no such resource")

    def _page(self, path: str) -> bool:
        pages = self.server.pages
        if pages is None:
            return False
        accept = self.headers.get("Accept-Encoding") or ""
        answer = pages.answer(path, self._raw_query, self.server.catalog.version,
                              "gzip" in accept)
        if answer is None:
            return False
        self._send(answer.status, answer.headers, answer.body)
        return True

    # -- queries ----------------------------------------------------------------------------

    def _query(self, q: str, fmt: str) -> None:
        try:
            query = parse_query(q)
            result = self.server.catalog.engine.run(query, max_rows=self.server.limits.max_rows)
            body, content_type = _render(result, fmt)
        except QueryError as exc:
            self._query_error(str(exc), fmt)
            return
        self._send(HTTPStatus.OK, [("Content-Type", content_type)], body)

    def _query_error(self, message: str, fmt: str) -> None:
        """The real API's answer to a query it cannot run: HTTP 500 and its error envelope."""
        if fmt == "xml":
            body, content_type = render.xml_error(message), render.XML_TYPE
        else:
            body, content_type = render.json_error(message), render.JSON_TYPE
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, [("Content-Type", content_type)], body)

    def _busy(self, path: str) -> None:
        headers = [("Retry-After", str(self.server.limits.retry_after_s))]
        text = "the server is busy; retry later"
        if path.startswith("/api/v2/data/"):
            self._send(HTTPStatus.TOO_MANY_REQUESTS,
                       [*headers, ("Content-Type", render.JSON_TYPE)], render.json_error(text))
        else:
            self._send(HTTPStatus.TOO_MANY_REQUESTS,
                       [*headers, ("Content-Type", "text/plain; charset=utf-8")],
                       text.encode() + b"\n")

    # -- files ------------------------------------------------------------------------------

    def _section_image(self, image_id: str, params: dict[str, str]) -> None:
        """Hook: a section image (the mirror serves its downloaded copy)."""
        self._file("section_image", image_id)

    def _file(self, endpoint: FileEndpoint, file_id: str) -> None:
        key = int(file_id)
        catalog = self.server.catalog
        served = catalog.files.get((endpoint, key)) if key <= _MAX_ID else None
        path = catalog.resolve(served) if served is not None else None
        if served is None or path is None:
            if served is not None:
                log.warning("%s %d is indexed but missing under %s", endpoint, key,
                            catalog.root)
            self.server.counters.missing(endpoint)
            self._not_found("no such file")
            return
        self._send_file(served, path)

    def _send_file(self, served: ServedFile, path: Path) -> None:
        etag = f'"{served.sha256}"'
        headers = [
            ("ETag", etag),
            ("Last-Modified", served.last_modified),
            ("Accept-Ranges", "bytes"),
        ]
        if _etag_matches(self.headers.get("If-None-Match"), etag):
            self._send(HTTPStatus.NOT_MODIFIED, headers, b"", length_header=False)
            return
        headers += [
            ("Content-Type", served.content_type),
            ("Content-Disposition", 'attachment; filename="{}"'.format(
                path.name.replace("\\", "_").replace('"', "_"))),
        ]
        size = path.stat().st_size
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted is not None and (if_range is None or if_range.strip() == etag):
            span = byte_range(wanted, size)
            if span == "unsatisfiable":
                self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                           [*headers[:3], ("Content-Range", f"bytes */{size}")], b"")
                return
            if span is not None:
                start, end = span
                self._send(HTTPStatus.PARTIAL_CONTENT,
                           [*headers, ("Content-Range", f"bytes {start}-{end}/{size}")],
                           FileSlice(path, start, end - start + 1))
                return
        self._send(HTTPStatus.OK, headers, FileSlice(path, 0, size))

    # -- writing ----------------------------------------------------------------------------

    def _not_found(self, message: str) -> None:
        self._send_text(HTTPStatus.NOT_FOUND, message)

    def _send_text(self, status: HTTPStatus, message: str) -> None:
        self._send(status, [("Content-Type", "text/plain; charset=utf-8")],
                   message.encode() + b"\n")

    def _send_json(self, status: HTTPStatus, value: Any) -> None:
        self._send(status, [("Content-Type", render.JSON_TYPE)],
                   json.dumps(value, separators=(",", ":")).encode())

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
        body: Body,
        *,
        length_header: bool = True,
    ) -> None:
        length = len(body) if isinstance(body, bytes) else body.length
        self._status = status
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if length_header:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if not self._head:
                self._write_body(body, length)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ClientGone from exc

    def _write_body(self, body: Body, length: int) -> None:
        """Hook: send the body (the replica cuts and throttles it)."""
        for piece in body_pieces(body, length, CHUNK):
            self.wfile.write(piece)
            self._sent += len(piece)

    def _log_access(self) -> None:
        """One line in the Combined Log Format, as web servers write it."""
        if not access_log.isEnabledFor(logging.INFO):
            return
        when = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        request = self.requestline.replace('"', "%22")[:2000]
        access_log.info('%s - - [%s] "%s" %s %s "%s" "%s"', self.client_address[0], when,
                        request, self._status or "-", self._sent or "-",
                        _quoted(self.headers.get("Referer") if self.headers else None),
                        _quoted(self.headers.get("User-Agent") if self.headers else None))


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    jar = http.cookies.SimpleCookie()
    try:
        jar.load(header)
    except http.cookies.CookieError:
        return None
    morsel = jar.get(name)
    # the login page stores the token percent-encoded
    return None if morsel is None else urllib.parse.unquote(morsel.value)


def _quoted(value: str | None) -> str:
    return "-" if not value else value.replace('"', "%22")[:500]


def body_pieces(body: Body, limit: int, chunk: int) -> Iterator[bytes]:
    """The first ``limit`` bytes of ``body``, ``chunk`` at a time."""
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
                raise OSError(f"{body.path} is shorter than its index says")
            left -= len(piece)
            yield piece


def _render(result: QueryResult, fmt: str) -> tuple[bytes, str]:
    if fmt == "csv":
        return render.csv_body(result), render.CSV_TYPE
    if fmt == "xml":
        return render.xml_body(result), render.XML_TYPE
    return render.json_body(result), render.JSON_TYPE


def query_params(raw: str) -> dict[str, str]:
    """Percent-decoded parameters; '+' stays '+' (AllenSDK sends order specs as attr+desc)."""
    params: dict[str, str] = {}
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        params.setdefault(urllib.parse.unquote(name), urllib.parse.unquote(value))
    return params


def _etag_matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def byte_range(header: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
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


class Reloader:
    """Polls a server's source every ``interval_s`` and swaps in each new state."""

    def __init__(self, server: ApiServer, interval_s: float) -> None:
        self._server = server
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ctmirror-serve-reload",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._server.reload()


@contextmanager
def run_in_thread(server: ApiServer, name: str) -> Iterator[ApiServer]:
    """Serve ``server`` in a daemon thread while the block runs; stopped and closed after it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"{name}-{server.server_address[1]}", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


__all__ = [
    "ApiHandler",
    "ApiServer",
    "Body",
    "PageAnswer",
    "Pages",
    "ClientGone",
    "FileSlice",
    "Limits",
    "RecordSource",
    "TOKEN_COOKIE",
    "Reloader",
    "ServeCounters",
    "body_pieces",
    "byte_range",
    "query_params",
    "run_in_thread",
]
