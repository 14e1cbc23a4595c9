"""The RMA client: httpx with keep-alive and timeouts, the retry policy, and request counting.

The client is safe to share between threads; at most ``concurrency`` requests are in flight at
once. Tests inject an ``httpx.Client`` built on ``httpx.MockTransport``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import TypeVar

import httpx

from ctmirror import __version__
from ctmirror.errors import ApiError, ApiTransportError, ApiUnreachableError, ConfigError
from ctmirror.rma.envelope import RmaResponse, check_status, parse_envelope
from ctmirror.rma.query import Format, query_url
from ctmirror.rma.retry import QUERY_RETRY, parse_retry_after, retry_delay

log = logging.getLogger(__name__)

USER_AGENT = f"ctmirror/{__version__}"

Known = TypeVar("Known")


class RmaClient:
    """Runs RMA queries against ``base_url`` (the API root, without ``/api/v2``)."""

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.Client | None = None,
        timeout: float = 60.0,
        max_attempts: int = 8,
        concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        auth: tuple[str, str] | None = None,
        unreachable_attempts: int | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"API base URL {base_url!r} must start with http:// or https://")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.policy = replace(QUERY_RETRY, max_attempts=max_attempts,
                              unreachable_attempts=unreachable_attempts)
        self._sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            ),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
            auth=auth,
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        self._count_lock = threading.Lock()
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""
        with self._count_lock:
            return self._requests

    def url_for(self, q: str, fmt: Format = "json") -> str:
        return query_url(self.base_url, q, fmt)

    def query(self, q: str) -> RmaResponse:
        """Run one RMA query (a ``model::...`` string) and return its checked answer."""
        return self.fetch(self.url_for(q))

    def fetch(self, url: str) -> RmaResponse:
        """GET an already encoded query URL, retrying transient failures per the policy."""
        return self.fetch_or_reuse(url, lambda body_sha256: None)

    def fetch_or_reuse(self, url: str, reuse: Callable[[str], Known | None]
                       ) -> RmaResponse | Known:
        """``fetch``, except that an answer whose body ``reuse`` recognises by its sha256 is
        not parsed: what ``reuse`` returns for it is the result. The status and content type
        are checked either way; a parsed answer carries its ``body_sha256``."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(url, reuse)
            except ApiError as exc:
                delay = retry_delay(exc, attempt, self.policy)
                if delay is None:
                    if attempt > 1:
                        log.info("%s - giving up after %d attempts: %s", url, attempt, exc)
                    raise
                log.info("%s - attempt %d/%d failed (%s); retrying in %.1f s",
                         url, attempt, self.policy.max_attempts, exc, delay)
                self._sleep(delay)

    def _attempt(self, url: str, reuse: Callable[[str], Known | None]) -> RmaResponse | Known:
        with self._count_lock:
            self._requests += 1
        try:
            with self._slots:
                response = self._http.get(url)
        except httpx.ConnectError as exc:
            raise ApiUnreachableError(
                f"no usable answer from the API: cannot connect ({exc}); "
                "check the URL and the network",
                url=url,
            ) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise ApiTransportError(
                f"no usable answer from the API ({type(exc).__name__}: {exc}); "
                "check the network or try again later",
                url=url,
            ) from exc
        body = response.content
        check_status(url, response.status_code, response.headers.get("content-type"), body,
                     retry_after=parse_retry_after(response.headers.get("retry-after")))
        body_sha256 = hashlib.sha256(body).hexdigest()
        known = reuse(body_sha256)
        if known is not None:
            return known
        return parse_envelope(url, body, body_sha256=body_sha256)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> RmaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["USER_AGENT", "RmaClient"]
